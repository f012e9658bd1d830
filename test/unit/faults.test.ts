import { connect as netConnect, type Socket } from "node:net";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { fakeEvent } from "../../fixtures/fake-upstream.js";
import type { Shim } from "../../src/app.js";
import { shimPerTest } from "../helpers/shim-per-test.js";
import { sourceState } from "../helpers/wait.js";

const harness = shimPerTest();

/** The shim's log lines, parsed. */
function logCollector() {
  const lines: Array<{ level: number; msg: string; reason?: string }> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: { level: "warn", stream } };
}

function globalOf(running: Shim) {
  const global = running.sources?.global;
  if (!global) throw new Error("no global source");
  return global;
}

describe("bad upstream input", () => {
  it("skips what is not an event, logs each kind once, and never breaks a client's stream", async () => {
    const logs = logCollector();
    const { upstream } = await harness.start({
      overrides: { logger: logs.logger, maxFrameBytes: 64 * 1024 },
    });
    const client = await harness.connect();
    const good = (n: number) =>
      `data: ${JSON.stringify({ directory: upstream.cwd, payload: fakeEvent("message.part.delta", { n }) })}\n\n`;
    const garbage = [
      "data: not json\n\n",
      "data: not json either\n\n",
      "data: {}\n\n",
      'data: {"payload":{"type":5}}\n\n',
      `data: ${JSON.stringify({ directory: 7, payload: { type: "x" } })}\n\n`,
      `data: ${JSON.stringify({ directory: upstream.cwd, payload: fakeEvent("huge", { blob: "x".repeat(100_000) }) })}\n\n`,
      "event: custom\nretry: 10\n: a comment\n\n",
    ];
    let n = 0;
    for (const bad of garbage) upstream.emitRaw(good(n++) + bad);
    // One event split across writes and lines ending in CRLF.
    const split = good(n++).replaceAll("\n", "\r\n");
    upstream.emitRaw(split.slice(0, 10));
    upstream.emitRaw(split.slice(10));
    upstream.emitRaw(good(n++));
    await client.waitFor((event) => event.json.properties?.n === n - 1);
    expect(client.events.slice(1).map((event) => event.json.properties?.n)).toEqual([...Array(n).keys()]);
    expect(client.isEnded).toBe(false);
    const skipped = logs.lines.filter((line) => line.msg === "skipped a frame from upstream /global/event");
    expect(skipped.map((line) => line.reason).sort()).toEqual(
      ["bad directory", "larger than 65536 bytes", "no payload type", "not JSON"].sort(),
    );
  });

  it("retries a /global/event that answers 401, 404, 500 or an HTML page, logging the problem once", async () => {
    const logs = logCollector();
    const { upstream, shim } = await harness.start({
      flags: ["--source", "global"],
      overrides: { logger: logs.logger },
    });
    const client = await harness.connect();
    const attempts = () => upstream.requests.filter((line) => line === "GET /global/event").length;
    for (const answer of [401, 404, 500, "html"] as const) {
      if (answer === "html") upstream.htmlGlobalEvent = true;
      else upstream.globalEventStatus = answer;
      const before = attempts();
      const down = sourceState(globalOf(shim), "down");
      upstream.dropGlobalStreams();
      await down;
      // A few refused attempts later…
      await client.waitUntil(() => attempts() >= before + 3, 10_000, "retries");
      upstream.globalEventStatus = undefined;
      upstream.htmlGlobalEvent = false;
      await sourceState(globalOf(shim), "live");
      const said = logs.lines.filter((line) =>
        line.msg.includes(answer === "html" ? "answered 200 text/html" : `answered ${answer}`),
      );
      expect(said).toHaveLength(1);
      expect(client.isEnded).toBe(false);
    }
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle") });
    await client.waitFor((event) => event.json.type === "session.idle");
    expect(client.isEnded).toBe(false);
  });
});

describe("an upstream that accepts and never answers", () => {
  it("answers a new /event 504 with a JSON body in bounded time; open streams and other clients go on", async () => {
    const { upstream, shim } = await harness.start({ overrides: { upstreamRequestTimeoutMs: 300 } });
    const open = await harness.connect();
    upstream.hangPath = true;
    const started = Date.now();
    const response = await fetch(`${shim.url}/event`);
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({
      error: "upstream_timeout",
      message: expect.stringContaining("GET /path"),
    });
    expect(Date.now() - started).toBeLessThan(5000);
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.idle", { sessionID: "ses_hang" }) });
    await open.waitFor((event) => event.json.properties?.sessionID === "ses_hang");
    expect(open.isEnded).toBe(false);

    upstream.hangPath = false;
    const later = await harness.connect();
    expect(later.status).toBe(200);
  });
});

describe("bad client input", () => {
  it.each([
    ["an undecodable directory", "/event?directory=%E0%A4%A", {}, "directory is not valid percent-encoding"],
    [
      "a 5000-character directory",
      `/event?directory=${"a".repeat(5000)}`,
      {},
      "directory is longer than 4096 characters",
    ],
    ["a NUL in the directory", "/event?directory=%2Ftmp%00x", {}, "directory contains a NUL character"],
    [
      "an undecodable header",
      "/event",
      { "x-opencode-directory": "%ZZ" },
      "directory is not valid percent-encoding",
    ],
    [
      "a 300-character workspace",
      `/event?workspace=${"w".repeat(300)}`,
      {},
      "workspace is longer than 256 characters",
    ],
    ["an undecodable directory on /global/event", "/global/event?directory=%E0%A4%A", {}, undefined],
  ])("answers %s with a clear 400", async (_what, path, headers, message) => {
    const { shim } = await harness.start({ flags: ["--source", "poll"] });
    const response = await fetch(`${shim.url}${path}`, { headers });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; message: string };
    expect(body.error).toBe("bad_request");
    if (message) expect(body.message).toBe(message);
    // …and keeps serving.
    const client = await harness.connect();
    expect(client.status).toBe(200);
  });

  it("answers an absurdly long request line with a 4xx, and keeps serving", async () => {
    const { shim } = await harness.start();
    const response = await fetch(`${shim.url}/event?directory=${"a".repeat(70_000)}`);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect((await harness.connect()).status).toBe(200);
  });

  it("answers 503 past --max-clients, and lets the next one in when a client leaves", async () => {
    const { shim } = await harness.start({ flags: ["--max-clients", "3"] });
    const first = await harness.connect();
    await harness.connect();
    await harness.connect();
    const refused = await fetch(`${shim.url}/event`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(await refused.json()).toMatchObject({ error: "too_many_clients" });
    first.close();
    await first.ended;
    await first
      .waitUntil(() => shim.hub.subscriberTotal === 2, 5000, "the first client to be gone")
      .catch(() => {});
    expect((await harness.connect()).status).toBe(200);
  });
});

describe("slow clients", () => {
  it("drops a client that stops reading, without slowing, bloating or losing events for the others", async () => {
    const { upstream, shim } = await harness.start({ flags: ["--max-client-buffer", "64KiB"] });
    const healthy = await harness.connect();
    // A client that sends its request and then never reads a byte.
    const stuck: Socket = netConnect(Number(new URL(shim.url).port), "127.0.0.1");
    harness.afterTest(() => stuck.destroy());
    await new Promise<void>((resolve) => stuck.once("connect", () => resolve()));
    stuck.write("GET /event HTTP/1.1\r\nHost: shim\r\nAccept: text/event-stream\r\n\r\n");
    stuck.pause();
    await healthy.waitUntil(() => shim.hub.subscriberTotal === 2, 5000, "the stuck client to subscribe");

    const blob = "x".repeat(1000);
    const total = 20_000;
    for (let n = 0; n < total; n++) {
      upstream.emit({
        directory: upstream.cwd,
        payload: fakeEvent("message.part.delta", { n, delta: blob }),
      });
    }
    await healthy.waitFor((event) => event.json.properties?.n === total - 1, 60_000, "the last event");
    expect(healthy.events.length).toBe(total + 1);
    expect(shim.hub.subscriberTotal).toBe(1);
  });
});
