import { describe, expect, it } from "vitest";
import { fakeEvent } from "../../fixtures/fake-upstream.js";
import { sample } from "../../fixtures/shim-metrics.js";
import { shimPerTest } from "../helpers/shim-per-test.js";
import { sourceState } from "../helpers/wait.js";

const harness = shimPerTest();

describe("GET /shim/metrics", () => {
  it("counts events in and out, duplicates, clients, reconnects and the added latency", async () => {
    const { upstream, shim } = await harness.start();
    const a = await harness.open("/event");
    const b = await harness.open("/event");
    for (const client of [a, b]) await client.waitFor((event) => event.json.type === "server.connected");
    const idle = fakeEvent("session.idle", { sessionID: "ses_1" });
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.status", { sessionID: "ses_1" }) });
    upstream.emit({ directory: upstream.cwd, payload: idle });
    upstream.emit({ directory: upstream.cwd, payload: idle });
    await a.waitFor((event) => event.json.type === "session.idle");
    await b.waitFor((event) => event.json.type === "session.idle");
    const global = shim.sources?.global;
    if (!global) throw new Error("no global source");
    const down = sourceState(global, "down");
    upstream.dropGlobalStreams();
    await down;
    await sourceState(global, "live");

    const response = await fetch(`${shim.url}/shim/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(sample(text, 'opencode_shim_events_in_total{source="stream",type="session.idle"}')).toBe(1);
    expect(sample(text, 'opencode_shim_events_in_total{source="stream",type="session.status"}')).toBe(1);
    expect(sample(text, "opencode_shim_events_out_total")).toBe(4);
    expect(sample(text, 'opencode_shim_events_dropped_total{reason="duplicate"}')).toBe(1);
    expect(sample(text, "opencode_shim_subscribers")).toBe(2);
    expect(sample(text, "opencode_shim_upstream_reconnects_total")).toBe(1);
    expect(sample(text, "opencode_shim_dropped_clients_total")).toBe(0);
    expect(sample(text, "opencode_shim_event_added_latency_seconds_count")).toBe(2);
    expect(sample(text, 'opencode_shim_source_info{mode="auto",feeder="stream"}')).toBe(1);
    expect(text).toContain("opencode_shim_reconciler_corrections_total");
    expect(sample(text, "opencode_shim_reconciler_requests_total")).toBeGreaterThan(0);
    expect(sample(text, "opencode_shim_degraded")).toBe(0);
    // The stream went down and came back: two moves, the time away counted as degraded.
    expect(sample(text, 'opencode_shim_feeder_switches_total{to="reconciler",reason="down"}')).toBe(1);
    expect(sample(text, 'opencode_shim_feeder_switches_total{to="stream",reason="live"}')).toBe(1);
    expect(sample(text, "opencode_shim_degraded_seconds_total")).toBeGreaterThan(0);
    expect(sample(text, "opencode_shim_process_resident_memory_bytes")).toBeGreaterThan(0);

    // Counters only go up, scrape after scrape.
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle", { sessionID: "ses_2" }) });
    await a.waitFor((event) => event.json.properties?.sessionID === "ses_2");
    const again = await (await fetch(`${shim.url}/shim/metrics`)).text();
    expect(sample(again, 'opencode_shim_events_in_total{source="stream",type="session.idle"}')).toBe(2);
  });

  it("answers browsers on localhost origins, and not others", async () => {
    const { shim } = await harness.start({ flags: ["--cors", "https://dash.example"] });
    for (const [origin, allowed] of [
      ["http://localhost:3000", true],
      ["http://127.0.0.1:8080", true],
      ["https://dash.example", true],
      ["https://evil.example", false],
    ] as const) {
      const response = await fetch(`${shim.url}/shim/metrics`, { headers: { origin } });
      expect(response.headers.get("access-control-allow-origin")).toBe(allowed ? origin : null);
      const preflight = await fetch(`${shim.url}/shim/health`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "GET",
          "access-control-request-headers": "x-custom",
        },
      });
      expect(preflight.headers.get("access-control-allow-origin")).toBe(allowed ? origin : null);
    }
  });
});
