import { afterEach, describe, expect, it } from "vitest";
import { type FakeUpstream, fakeEvent, startFakeUpstream } from "../../fixtures/fake-upstream.js";
import { SseClient } from "../../fixtures/sse-client.js";
import type { Shim } from "../../src/app.js";
import { startTestShim } from "../helpers/shim.js";
import { sourceState } from "../helpers/wait.js";

let upstream: FakeUpstream | undefined;
let shim: Shim | undefined;
const clients: SseClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await shim?.close();
  await upstream?.close();
  shim = undefined;
  upstream = undefined;
});

describe("the global source", () => {
  it("holds one upstream stream however many clients there are", async () => {
    upstream = await startFakeUpstream();
    shim = await startTestShim(upstream.url);
    for (let i = 0; i < 5; i++) clients.push(await SseClient.connect(`${shim.url}/event`));
    await Promise.all(
      clients.map((client) => client.waitFor((event) => event.json.type === "server.connected")),
    );
    expect(upstream.globalStreams()).toBe(1);
  });

  it("reconnects when upstream's stream is cut, while clients' streams stay open", async () => {
    upstream = await startFakeUpstream();
    shim = await startTestShim(upstream.url);
    const client = await SseClient.connect(`${shim.url}/event`);
    clients.push(client);
    await client.waitFor((event) => event.json.type === "server.connected");

    const down = sourceState(shim.source, "down");
    upstream.dropGlobalStreams();
    await down;
    await sourceState(shim.source, "live");

    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle") });
    await client.waitFor((event) => event.json.type === "session.idle");
    expect(client.isEnded).toBe(false);
  });

  it("reconnects when upstream's stream goes silent", async () => {
    upstream = await startFakeUpstream();
    shim = await startTestShim(upstream.url, [], {}, { stallTimeoutMs: 300 });
    const client = await SseClient.connect(`${shim.url}/event`);
    clients.push(client);
    await client.waitFor((event) => event.json.type === "server.connected");
    await sourceState(shim.source, "down");
    await sourceState(shim.source, "live");
    expect(upstream.requests.filter((line) => line === "GET /global/event")).toHaveLength(2);
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle") });
    await client.waitFor((event) => event.json.type === "session.idle");
  });

  it("refuses to start, clearly, when upstream's /global/event is not a stream", async () => {
    upstream = await startFakeUpstream({ htmlGlobalEvent: true });
    await expect(startTestShim(upstream.url, ["--upstream-wait", "1"])).rejects.toThrow(
      /\/global\/event did not stream.*answered 200 text\/html/,
    );
  });
});
