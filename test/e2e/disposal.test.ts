import { afterEach, describe, expect, it } from "vitest";
import { sample, scrape } from "../../fixtures/shim-metrics.js";
import type { SseClient } from "../../fixtures/sse-client.js";
import type { Shim } from "../../src/app.js";
import { e2eSetup } from "../helpers/e2e.js";
import { eventually, sourceState } from "../helpers/wait.js";

/**
 * A call through the shim that disposes an instance is news to its clients even when no
 * stream carries `server.instance.disposed` — and it is told once when one does.
 */
describe("instance disposal witnessed by the shim, in front of opencode 1.14.48", () => {
  const e2e = e2eSetup({ version: "1.14.48", relay: true });

  afterEach(() => {
    e2e.relay.blocked.clear();
  });

  const shim = (flags: string[] = []): Promise<Shim> =>
    e2e.startShim({ flags, overrides: { stallTimeoutMs: 1500 } });

  /** How many `server.instance.disposed` the shim published, whoever told it. */
  const disposalsPublished = (metrics: string) =>
    ["stream", "proxy", "reconciler"].reduce(
      (sum, source) =>
        sum +
        (sample(
          metrics,
          `opencode_shim_events_in_total{source="${source}",type="server.instance.disposed"}`,
        ) ?? 0),
      0,
    );

  async function expectDisposed(client: SseClient, directory: string): Promise<void> {
    await client.ended;
    expect(client.endedCleanly).toBe(true);
    const disposals = client.events.filter((event) => event.json.type === "server.instance.disposed");
    expect(disposals.map((event) => event.json.properties)).toEqual([{ directory }]);
    expect(client.events.at(-1)?.json.type).toBe("server.instance.disposed");
  }

  it("polling (--source poll, no stream at all): POST /instance/dispose ends the instance's streams", async () => {
    const polling = await shim(["--source", "poll"]);
    const client = await e2e.follow(`${polling.url}/event`);
    const other = await e2e.follow(
      `${polling.url}/event?directory=${encodeURIComponent(e2e.opencode.otherDir)}`,
    );
    const disposed = await fetch(`${polling.url}/instance/dispose`, { method: "POST" });
    expect(disposed.status).toBe(200);
    await expectDisposed(client, e2e.opencode.projectDir);
    expect(other.isEnded).toBe(false); // another instance's clients are not concerned
    expect(disposalsPublished(await scrape(polling.url))).toBe(1);
  });

  it("while the stream is away after opencode restarted: a disposal through the shim still reaches the client", async () => {
    const auto = await shim();
    const global = auto.sources?.global;
    if (!global) throw new Error("no global source");
    await e2e.opencode.restart();
    e2e.relay.blocked.add("/global/event"); // the stream does not come back while this runs
    e2e.relay.cutStreams();
    await sourceState(global, "down");
    await eventually(
      async () => (await fetch(`${auto.url}/shim/health`)).status === 200,
      20_000,
      "opencode back",
    );
    expect(auto.sources?.feeder).toBe("reconciler");
    const client = await e2e.follow(`${auto.url}/event`);
    const patched = await fetch(`${auto.url}/config`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(patched.status).toBe(200);
    await expectDisposed(client, e2e.opencode.projectDir);
  });

  it("on an honest stream, told once though both the stream and the proxy tell it", async () => {
    const auto = await shim();
    const direct = await e2e.open(`${e2e.opencode.url}/global/event`);
    const client = await e2e.follow(`${auto.url}/event`);
    const disposed = await fetch(`${auto.url}/instance/dispose`, { method: "POST" });
    expect(disposed.status).toBe(200);
    await expectDisposed(client, e2e.opencode.projectDir);
    // Upstream's own telling reached the shim too…
    await direct.waitFor(
      (event) => (event.json.payload as { type?: string } | undefined)?.type === "server.instance.disposed",
      10_000,
      "upstream's server.instance.disposed",
    );
    await eventually(
      async () =>
        (sample(await scrape(auto.url), 'opencode_shim_events_dropped_total{reason="duplicate"}') ?? 0) >= 1,
      10_000,
      "the second telling dropped",
    );
    // …and went out once: a client that came back at once is not cut off by a second one.
    const back = await e2e.follow(`${auto.url}/event`);
    expect(disposalsPublished(await scrape(auto.url))).toBe(1);
    expect(back.isEnded).toBe(false);
  });

  it("POST /global/dispose reaches the clients of every instance", async () => {
    const polling = await shim(["--source", "poll"]);
    const here = await e2e.follow(`${polling.url}/event`);
    const there = await e2e.follow(
      `${polling.url}/event?directory=${encodeURIComponent(e2e.opencode.otherDir)}`,
    );
    const disposed = await fetch(`${polling.url}/global/dispose`, { method: "POST" });
    expect(disposed.status).toBe(200);
    await expectDisposed(here, e2e.opencode.projectDir);
    await expectDisposed(there, e2e.opencode.otherDir);
  });
});
