import { describe, expect, it } from "vitest";
import { fakeEvent } from "../../fixtures/fake-upstream.js";
import type { SseClient } from "../../fixtures/sse-client.js";
import type { Shim } from "../../src/app.js";
import { shimPerTest } from "../helpers/shim-per-test.js";
import { eventually, sourceState } from "../helpers/wait.js";

const harness = shimPerTest();

function globalOf(shim: Shim) {
  const global = shim.sources?.global;
  if (!global) throw new Error("no global source");
  return global;
}

describe("the global source", () => {
  it("holds one upstream stream however many clients there are", async () => {
    const { upstream } = await harness.start();
    const clients: SseClient[] = [];
    for (let i = 0; i < 5; i++) clients.push(await harness.open("/event"));
    await Promise.all(
      clients.map((client) => client.waitFor((event) => event.json.type === "server.connected")),
    );
    expect(upstream.globalStreams()).toBe(1);
  });

  it("reconnects when upstream's stream is cut, while clients' streams stay open", async () => {
    const { upstream, shim } = await harness.start();
    const client = await harness.open("/event");
    await client.waitFor((event) => event.json.type === "server.connected");

    const down = sourceState(globalOf(shim), "down");
    upstream.dropGlobalStreams();
    await down;
    await sourceState(globalOf(shim), "live");

    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle") });
    await client.waitFor((event) => event.json.type === "session.idle");
    expect(client.isEnded).toBe(false);
  });

  it("reconnects when upstream's stream goes silent", async () => {
    const { upstream, shim } = await harness.start({ overrides: { stallTimeoutMs: 300 } });
    const client = await harness.open("/event");
    await client.waitFor((event) => event.json.type === "server.connected");
    await sourceState(globalOf(shim), "down");
    await sourceState(globalOf(shim), "live");
    expect(upstream.requests.filter((line) => line === "GET /global/event")).toHaveLength(2);
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle") });
    await client.waitFor((event) => event.json.type === "session.idle");
  });

  it("with --source global, refuses to start, clearly, when upstream's /global/event is not a stream", async () => {
    await harness.startUpstream({ htmlGlobalEvent: true });
    await expect(
      harness.startShim({ flags: ["--source", "global", "--upstream-wait", "1"] }),
    ).rejects.toThrow(/\/global\/event did not stream.*answered 200 text\/html/);
  });

  it("in auto mode, polls instead when upstream's /global/event is not a stream", async () => {
    const { shim } = await harness.start({
      upstream: { htmlGlobalEvent: true },
      flags: ["--upstream-wait", "1"],
    });
    expect(shim.sources?.feeder).toBe("reconciler");
  });
});

describe("auto mode", () => {
  it("polls while upstream's stream cannot be had, serving /global/event itself, and goes back when it returns", async () => {
    const { upstream, shim } = await harness.start();
    const sources = shim.sources;
    if (!sources) throw new Error("no sources");
    expect(sources.feeder).toBe("stream");
    const client = await harness.open("/event");
    await client.waitFor((event) => event.json.type === "server.connected");

    upstream.globalEventStatus = 503;
    const down = sourceState(globalOf(shim), "down");
    upstream.dropGlobalStreams();
    await down;
    expect(sources.feeder).toBe("reconciler");
    const served = await harness.open("/global/event");
    await served.waitFor(
      (event) => (event.json.payload as { type?: string } | undefined)?.type === "server.connected",
    );
    // It keeps trying upstream's stream meanwhile (backing off: that stream was live only briefly).
    await eventually(
      () => (upstream?.requests ?? []).filter((line) => line === "GET /global/event").length >= 3,
      5000,
      "two more tries of upstream's stream",
    );

    upstream.globalEventStatus = undefined;
    await sourceState(globalOf(shim), "live");
    expect(sources.feeder).toBe("stream");
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle") });
    await client.waitFor((event) => event.json.type === "session.idle");
    expect(client.isEnded).toBe(false);
  });
});
