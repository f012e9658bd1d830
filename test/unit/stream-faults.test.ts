import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { type Relay, startRelay } from "../../fixtures/relay.js";
import { SseClient } from "../../fixtures/sse-client.js";
import { SseFaultFilter, type StreamFault } from "../../fixtures/stream-faults.js";
import { teardownAfterEach } from "../helpers/teardown.js";

const frame = (json: unknown) => `data: ${JSON.stringify(json)}\n\n`;
const plain = (type: string, properties: Record<string, unknown> = {}) =>
  frame({ id: `evt_${type}`, type, properties });
const global = (type: string, properties: Record<string, unknown> = {}) =>
  frame({ directory: "/work/p", project: "prj_1", payload: { id: `evt_${type}`, type, properties } });
const syncWrapper = frame({
  directory: "/work/p",
  payload: { type: "sync", syncEvent: { type: "message.updated.1", data: { id: "msg_1" } }, id: "evt_s1" },
});

const connected = plain("server.connected");
const heartbeat = plain("server.heartbeat");
const globalConnected = frame({ payload: { id: "evt_gc", type: "server.connected", properties: {} } });
const globalHeartbeat = frame({ payload: { id: "evt_gh", type: "server.heartbeat", properties: {} } });
const delta = (n: number) => plain("message.part.delta", { delta: `token ${n} — é€😀` });
const crlfFrame =
  'id: 7\r\nevent: message\r\ndata: {"id":"evt_c","type":"session.status","properties":{}}\r\n\r\n';
const commentFrame = ": keep-alive\n\n";
const notJson = "data: not json at all\n\n";

/** Feeds `chunks` through a filter with `fault` and resolves with everything it put out. */
async function run(fault: StreamFault, chunks: Array<string | Buffer>, filter = new SseFaultFilter(fault)) {
  const out: Buffer[] = [];
  filter.on("data", (chunk: Buffer) => out.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    filter.on("end", resolve);
    filter.on("error", reject);
  });
  for (const chunk of chunks) filter.write(chunk);
  filter.end();
  await ended;
  return { text: Buffer.concat(out).toString("utf8"), filter };
}

describe("SseFaultFilter", { timeout: 15_000 }, () => {
  it("honest passes the bytes unchanged, however they are split", async () => {
    const input = Buffer.from(
      connected + delta(1) + crlfFrame + commentFrame + globalHeartbeat + notJson + syncWrapper + delta(2),
    );
    for (let at = 0; at <= input.length; at++) {
      const { text, filter } = await run({ kind: "honest" }, [input.subarray(0, at), input.subarray(at)]);
      expect(text, `split at ${at}`).toBe(input.toString("utf8"));
      expect(filter.counts).toEqual({ passed: 8, dropped: 0 });
    }
    const bytes = [...input].map((byte) => Buffer.from([byte]));
    expect((await run({ kind: "honest" }, bytes)).text).toBe(input.toString("utf8"));
  });

  it("passes an unfinished last frame on when the stream ends", async () => {
    expect((await run({ kind: "honest" }, [`${connected}data: {"type":"x"`])).text).toBe(
      `${connected}data: {"type":"x"`,
    );
  });

  it("mute keeps exactly the connected and heartbeat frames of both framings", async () => {
    const input = [
      connected,
      delta(1),
      globalConnected,
      global("session.status"),
      crlfFrame,
      heartbeat,
      notJson,
      commentFrame,
      syncWrapper,
      globalHeartbeat,
      plain("session.idle"),
    ].join("");
    const at = input.indexOf("server.heartbeat") + 3;
    const { text, filter } = await run({ kind: "mute" }, [input.slice(0, at), input.slice(at)]);
    expect(text).toBe(connected + globalConnected + heartbeat + globalHeartbeat);
    expect(filter.counts).toEqual({ passed: 4, dropped: 7 });
  });

  describe("drop", () => {
    const content = Array.from({ length: 1000 }, (_, n) =>
      n % 2 ? delta(n) : global("todo.updated", { n }),
    );
    // A heartbeat after every 10th content frame.
    const input = content.map((text, n) => (n % 10 === 9 ? text + heartbeat : text));

    it("drops the same frames for the same seed, about percent % of them, and never a heartbeat", async () => {
      const fault: StreamFault = { kind: "drop", percent: 40, seed: 1234 };
      const first = await run(fault, input);
      const second = await run(fault, input);
      expect(second.text).toBe(first.text);
      expect(first.filter.counts.dropped).toBeGreaterThanOrEqual(300);
      expect(first.filter.counts.dropped).toBeLessThanOrEqual(500);
      expect(first.filter.counts.passed).toBe(1100 - first.filter.counts.dropped);
      expect(first.text.split(heartbeat).length - 1).toBe(100);

      const other = await run({ ...fault, seed: 4321 }, input);
      expect(other.text).not.toBe(first.text);
      // Where the heartbeats fall does not change which content frames drop.
      const withoutHeartbeats = await run(fault, content);
      expect(withoutHeartbeats.text).toBe(first.text.replaceAll(heartbeat, ""));
    });

    it("restarts the PRNG from the seed whenever the fault is set", async () => {
      const fault: StreamFault = { kind: "drop", percent: 50, seed: 99 };
      const batch = content.slice(0, 100).join("");
      const once = (await run(fault, [batch])).text;
      expect(once.length).toBeGreaterThan(0);
      expect(once.length).toBeLessThan(batch.length);

      const filter = new SseFaultFilter(fault);
      const out: string[] = [];
      filter.on("data", (chunk: Buffer) => out.push(chunk.toString()));
      const ended = new Promise((resolve) => filter.on("end", resolve));
      await new Promise((resolve) => filter.write(batch, resolve));
      filter.fault = fault;
      filter.end(batch);
      await ended;
      expect(out.join("")).toBe(once + once);
    });

    it("drops nothing at 0 % and every content frame at 100 %", async () => {
      expect((await run({ kind: "drop", percent: 0, seed: 1 }, input)).text).toBe(input.join(""));
      const all = await run({ kind: "drop", percent: 100, seed: 1 }, [notJson, ...input]);
      expect(all.text).toBe(heartbeat.repeat(100));
    });
  });

  it("drop-sync drops sync wrappers and sync-backed events and keeps the rest", async () => {
    const dropped = [
      syncWrapper,
      plain("session.created"),
      plain("session.updated"),
      global("session.deleted"),
      plain("message.updated"),
      global("message.removed"),
      plain("message.part.updated"),
      plain("message.part.removed"),
      plain("session.next.step.started"),
      global("session.next.text.delta"),
    ];
    const kept = [
      connected,
      globalHeartbeat,
      plain("session.status"),
      global("session.idle"),
      plain("session.diff"),
      delta(1),
      plain("permission.asked"),
      global("question.asked"),
      plain("todo.updated"),
      plain("session.error"),
      plain("message.part.deltas"),
      notJson,
      crlfFrame,
    ];
    const input = kept.flatMap((text, n) => [text, dropped[n] ?? ""]).join("");
    const { text, filter } = await run({ kind: "drop-sync" }, [input]);
    expect(text).toBe(kept.join(""));
    expect(filter.counts).toEqual({ passed: kept.length, dropped: dropped.length });
  });

  it("delay delivers every frame in order, no sooner than ms after it was written", async () => {
    const ms = 150;
    const filter = new SseFaultFilter({ kind: "delay", ms });
    const frames = [connected, delta(1), heartbeat, crlfFrame, delta(2)];
    const arrivals: Array<{ text: string; at: number }> = [];
    let firstArrived!: () => void;
    const first = new Promise<void>((resolve) => {
      firstArrived = resolve;
    });
    const allArrived = new Promise<void>((resolve) => {
      filter.on("data", (chunk: Buffer) => {
        arrivals.push({ text: chunk.toString("utf8"), at: performance.now() });
        firstArrived();
        if (arrivals.length === frames.length) resolve();
      });
    });
    const written: number[] = [];
    // The first two frames now, the others once the first has come out (a later arrival).
    for (const text of frames.slice(0, 2)) {
      written.push(performance.now());
      filter.write(text);
    }
    await first;
    for (const text of frames.slice(2)) {
      written.push(performance.now());
      filter.write(text);
    }
    await allArrived;
    expect(arrivals.map((arrival) => arrival.text)).toEqual(frames);
    arrivals.forEach((arrival, n) => {
      expect(arrival.at - (written[n] ?? Number.POSITIVE_INFINITY)).toBeGreaterThanOrEqual(ms);
    });
    filter.destroy();
  });

  it("still delivers frames waiting in a delay after switching to honest, and keeps the order", async () => {
    const filter = new SseFaultFilter({ kind: "delay", ms: 100 });
    const out: string[] = [];
    filter.on("data", (chunk: Buffer) => out.push(chunk.toString()));
    const ended = new Promise((resolve) => filter.on("end", resolve));
    filter.write(delta(1));
    filter.fault = { kind: "honest" };
    filter.write(delta(2));
    expect(out).toEqual([]);
    filter.end();
    await ended;
    expect(out).toEqual([delta(1), delta(2)]);
  });
});

describe("relay stream faults", { timeout: 15_000 }, () => {
  interface Upstream {
    url: string;
    server: Server;
    /** Open event streams, by path. */
    streams: Map<ServerResponse, string>;
    /** Resolves with the `count`th event stream opened, once it is. */
    opened(count: number): Promise<ServerResponse>;
    /** Writes `text` to every open stream of `path`. */
    write(text: string, path?: string): void;
  }

  const teardown = teardownAfterEach();

  /** A tiny SSE server: every `GET /event` or `/global/event` is a stream the test writes to; anything else is JSON. */
  async function startUpstream(): Promise<Upstream> {
    const streams = new Map<ServerResponse, string>();
    const opened: ServerResponse[] = [];
    let waiters: Array<() => void> = [];
    const server = createServer((request, response) => {
      if (request.url === "/event" || request.url === "/global/event") {
        response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        response.flushHeaders();
        streams.set(response, request.url);
        response.on("close", () => streams.delete(response));
        opened.push(response);
        for (const waiter of waiters) waiter();
        return;
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ path: request.url }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    teardown.add(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      server,
      streams,
      opened: (count) =>
        new Promise((resolve) => {
          const check = () => {
            const stream = opened[count - 1];
            if (!stream) return;
            waiters = waiters.filter((waiter) => waiter !== check);
            resolve(stream);
          };
          waiters.push(check);
          check();
        }),
      write: (text, path = "/event") => {
        for (const [stream, streamPath] of streams) if (streamPath === path) stream.write(text);
      },
    };
  }

  async function setUp() {
    const upstream = await startUpstream();
    const relay = await startRelay(upstream.url);
    teardown.add(() => relay.close());
    return { upstream, relay };
  }

  /**
   * Opens the `count`th stream through the relay. Like opencode, upstream then says
   * server.connected at once (the relay passes the response head on with the first bytes).
   */
  async function subscribe(relay: Relay, upstream: Upstream, count: number, path = "/event") {
    const connecting = SseClient.connect(`${relay.url}${path}`);
    const stream = await upstream.opened(count);
    stream.write(path === "/event" ? connected : globalConnected);
    const client = await connecting;
    teardown.add(() => client.close());
    return client;
  }

  const typeIs = (type: string) => (event: { json: { type: string } }) => event.json.type === type;
  const payloadTypes = (client: SseClient) =>
    client.events.map(
      (event) => (event.json.payload as { type: string } | undefined)?.type ?? event.json.type,
    );

  it("switches an open stream to mute and back to honest, and applies the fault to new streams", async () => {
    const { upstream, relay } = await setUp();
    expect(relay.streamFault).toEqual({ kind: "honest" });
    const client = await subscribe(relay, upstream, 1);
    upstream.write(delta(1));
    await client.waitFor(typeIs("message.part.delta"), 5_000, "the first delta");

    relay.setStreamFault({ kind: "mute" });
    expect(relay.streamFault).toEqual({ kind: "mute" });
    upstream.write(delta(2) + plain("session.status") + heartbeat);
    // Frames keep their order, so once the heartbeat is through, the frames before it were dropped.
    await client.waitFor(typeIs("server.heartbeat"), 5_000, "the heartbeat");
    expect(client.types()).toEqual(["server.connected", "message.part.delta", "server.heartbeat"]);

    // A stream opened now is muted from its first frame.
    const late = await subscribe(relay, upstream, 2, "/global/event");
    upstream.write(global("session.idle") + globalHeartbeat, "/global/event");
    await late.waitFor((event) => event.data.includes("server.heartbeat"), 5_000, "the global heartbeat");
    expect(payloadTypes(late)).toEqual(["server.connected", "server.heartbeat"]);

    relay.setStreamFault({ kind: "honest" });
    upstream.write(delta(3));
    upstream.write(global("message.part.delta", { delta: "token 3" }), "/global/event");
    await client.waitFor((event) => event.data.includes("token 3"), 5_000, "the third delta");
    await late.waitFor(
      (event) => event.data.includes("token 3"),
      5_000,
      "the third delta on the late stream",
    );
    expect(client.types()).toEqual([
      "server.connected",
      "message.part.delta",
      "server.heartbeat",
      "message.part.delta",
    ]);
    expect(payloadTypes(late)).toEqual(["server.connected", "server.heartbeat", "message.part.delta"]);
    expect(relay.frames).toEqual({ passed: 7, dropped: 3 });
  });

  it("drops frames with drop and counts them over all streams", async () => {
    const { upstream, relay } = await setUp();
    relay.setStreamFault({ kind: "drop", percent: 100, seed: 5 });
    const first = await subscribe(relay, upstream, 1);
    const second = await subscribe(relay, upstream, 2);
    upstream.write(delta(1) + plain("session.status") + heartbeat);
    await first.waitFor(typeIs("server.heartbeat"), 5_000, "the heartbeat");
    await second.waitFor(typeIs("server.heartbeat"), 5_000, "the heartbeat");
    expect(first.types()).toEqual(["server.connected", "server.heartbeat"]);
    expect(second.types()).toEqual(["server.connected", "server.heartbeat"]);
    expect(relay.frames).toEqual({ passed: 4, dropped: 4 });
  });

  it("leaves other responses alone", async () => {
    const { relay } = await setUp();
    relay.setStreamFault({ kind: "mute" });
    const response = await fetch(`${relay.url}/session?x=1`);
    expect(await response.json()).toEqual({ path: "/session?x=1" });
    expect(relay.requests).toEqual(["GET /session"]);
  });

  it("still cuts streams", async () => {
    const { upstream, relay } = await setUp();
    const client = await subscribe(relay, upstream, 1);
    await client.waitFor(typeIs("server.connected"), 5_000, "server.connected");
    const upstreamClosed = new Promise((resolve) => [...upstream.streams.keys()][0]?.on("close", resolve));
    relay.cutStreams();
    await client.ended;
    await upstreamClosed;
    expect(client.endedCleanly).toBe(false);
  });

  it("still stalls streams: the connection stays open and nothing more passes, not even delayed frames", async () => {
    const { upstream, relay } = await setUp();
    relay.setStreamFault({ kind: "delay", ms: 100 });
    const stalled = await subscribe(relay, upstream, 1);
    upstream.write(delta(1));
    // A round trip through the relay: by its end the relay has read delta 1 and holds it in the delay.
    await fetch(`${relay.url}/ping`);
    relay.stallStreams();

    // A stream opened after the stall is not stalled. Once it has the frames written after delta 1
    // (and itself delayed), delta 1 would long have come out of a stream that was not stalled.
    const fresh = await subscribe(relay, upstream, 2);
    upstream.write(delta(2) + heartbeat);
    await fresh.waitFor(typeIs("server.heartbeat"), 5_000, "the heartbeat on the fresh stream");
    // Nothing to await for an absence: a short look for late bytes.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stalled.types()).toEqual(["server.connected"]);
    expect(stalled.isEnded).toBe(false);
    expect(upstream.streams.size).toBe(2);
  });
});
