import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { GlobalSource } from "../../src/sources/global.js";
import { Upstream } from "../../src/upstream/upstream.js";
import { RecordingMetrics } from "../helpers/recording-metrics.js";
import { teardownAfterEach } from "../helpers/teardown.js";
import { eventually } from "../helpers/wait.js";

/** How upstream's `/global/event` behaves, one request at a time. */
type Behaviour = (response: ServerResponse) => void;

const CONNECTED = `data: ${JSON.stringify({ payload: { type: "server.connected", properties: {} } })}\n\n`;

/** Streams that go live (one frame), then end after `ms`. */
const liveFor =
  (ms: number): Behaviour =>
  (response) => {
    response.writeHead(200, { "content-type": "text/event-stream" });
    response.write(CONNECTED);
    setTimeout(() => response.end(), ms);
  };

const refuse: Behaviour = (response) => {
  response.writeHead(503, { "content-type": "application/json" });
  response.end('{"error":"unavailable"}');
};

/** An upstream whose `/global/event` does what `behaviour` says; it records when each request came. */
async function scriptedUpstream(behaviour: Behaviour) {
  const requestTimes: number[] = [];
  const server: Server = createServer((request, response) => {
    if (request.url !== "/global/event") {
      response.writeHead(404).end();
      return;
    }
    requestTimes.push(performance.now());
    behaviour(response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return { url, requestTimes, server };
}

const gaps = (times: number[]) => times.slice(1).map((time, i) => time - (times[i] as number));

const teardown = teardownAfterEach();

async function follow(behaviour: Behaviour) {
  const upstream = await scriptedUpstream(behaviour);
  const metrics = new RecordingMetrics();
  const pool = new Upstream(upstream.url);
  const source = new GlobalSource({
    upstream: pool,
    onEvent: () => true,
    onChunkRead: () => {},
    metrics,
    log: Fastify({ logger: false }).log,
    initialBackoffMs: 20,
    maxBackoffMs: 200,
    stableAfterMs: 250,
  });
  teardown.add(async () => {
    await source.stop();
    await pool.close();
    upstream.server.closeAllConnections();
    await new Promise((resolve) => upstream.server.close(resolve));
  });
  source.start();
  return { source, metrics, requestTimes: upstream.requestTimes };
}

describe("the global source's reconnect backoff", () => {
  it("backs off, doubling to its cap, from an upstream that refuses the stream", async () => {
    const { requestTimes } = await follow(refuse);
    await eventually(() => requestTimes.length >= 8, 10_000, "8 attempts");
    const [first, second, third, ...rest] = gaps(requestTimes.slice(0, 8));
    expect(first).toBeGreaterThanOrEqual(19);
    expect(first).toBeLessThan(150);
    expect(second).toBeGreaterThanOrEqual(39);
    expect(third).toBeGreaterThanOrEqual(79);
    for (const gap of rest) {
      expect(gap).toBeGreaterThanOrEqual(159);
      expect(gap).toBeLessThan(600);
    }
  });

  it("backs off from a stream that goes live and breaks at once (no reconnect storm)", async () => {
    const { metrics, requestTimes } = await follow(liveFor(0));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // 20 + 40 + 80 + 160 ms, then one every 200 ms: about 10 in 1.5 s, never hundreds.
    expect(requestTimes.length).toBeGreaterThanOrEqual(4);
    expect(requestTimes.length).toBeLessThanOrEqual(12);
    for (const gap of gaps(requestTimes).slice(4)) expect(gap).toBeGreaterThanOrEqual(159);
    expect(metrics.reconnects).toBe(requestTimes.length - 1);
  });

  it("retries at once when a stream that was healthy for a while ends", async () => {
    const { requestTimes } = await follow(liveFor(400));
    await eventually(() => requestTimes.length >= 3, 10_000, "3 streams");
    for (const gap of gaps(requestTimes.slice(0, 3))) {
      // The stream's 400 ms, and no backoff after it.
      expect(gap).toBeGreaterThanOrEqual(399);
      expect(gap).toBeLessThan(400 + 150);
    }
  });
});
