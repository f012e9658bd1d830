import { connect as netConnect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { fakeEvent } from "../../fixtures/fake-upstream.js";
import { shimPerTest } from "../helpers/shim-per-test.js";
import { eventually } from "../helpers/wait.js";

const harness = shimPerTest();

/** A raw HTTP client: the bytes of the answer exactly as they came, framing included. */
async function rawGet(version: "1.0" | "1.1"): Promise<{ bytes: () => string; socket: Socket }> {
  const socket = netConnect(Number(new URL(harness.shim.url).port), "127.0.0.1");
  harness.afterTest(() => socket.destroy());
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  let received = "";
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("latin1");
  });
  socket.write(`GET /event HTTP/${version}\r\nHost: shim\r\nAccept: text/event-stream\r\n\r\n`);
  return { bytes: () => received, socket };
}

/** The body of an HTTP/1.1 chunked answer, decoded; throws when the framing is wrong. */
function dechunk(body: string): { data: string; ended: boolean } {
  let data = "";
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", at);
    if (lineEnd === -1) return { data, ended: false };
    const size = Number.parseInt(body.slice(at, lineEnd), 16);
    if (!Number.isInteger(size))
      throw new Error(`not a chunk size: ${JSON.stringify(body.slice(at, lineEnd))}`);
    if (size === 0) return { data, ended: body.slice(lineEnd, lineEnd + 4) === "\r\n\r\n" };
    const start = lineEnd + 2;
    if (body.length < start + size + 2) return { data, ended: false };
    if (body.slice(start + size, start + size + 2) !== "\r\n")
      throw new Error("a chunk does not end with CRLF");
    data += body.slice(start, start + size);
    at = start + size + 2;
  }
}

describe("an event stream's bytes on the wire", () => {
  it("HTTP/1.1: valid chunks, one event per frame, and the last chunk when the instance is disposed", async () => {
    const { upstream } = await harness.start();
    const client = await rawGet("1.1");
    await eventually(async () => client.bytes().includes("server.connected"), 5000, "server.connected");
    const [head = ""] = client.bytes().split("\r\n\r\n", 2);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head.toLowerCase()).toContain("transfer-encoding: chunked");

    for (let n = 0; n < 3; n++) {
      upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.status", { n }) });
    }
    upstream.emit({
      directory: upstream.cwd,
      payload: fakeEvent("server.instance.disposed", { directory: upstream.cwd }),
    });
    const rest = () => client.bytes().slice(client.bytes().indexOf("\r\n\r\n") + 4);
    await eventually(async () => dechunk(rest()).ended, 5000, "the last chunk");
    const frames = dechunk(rest()).data.split("\n\n").filter(Boolean);
    expect(
      frames.map((frame) => JSON.parse(frame.split("\n")[0]?.slice("data: ".length) ?? "").type),
    ).toEqual([
      "server.connected",
      "session.status",
      "session.status",
      "session.status",
      "server.instance.disposed",
    ]);
  });

  it("HTTP/1.0: no chunks, the frames as they are, until the connection closes", async () => {
    const { upstream } = await harness.start();
    const client = await rawGet("1.0");
    await eventually(async () => client.bytes().includes("server.connected"), 5000, "server.connected");
    upstream.emit({ directory: upstream.cwd, payload: fakeEvent("session.status", { n: 1 }) });
    await eventually(async () => client.bytes().includes('"n":1'), 5000, "the event");
    const [head = "", body = ""] = client.bytes().split("\r\n\r\n", 2);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head.toLowerCase()).not.toContain("transfer-encoding");
    expect(body).toMatch(
      /^data: \{"id":"[^"]+","type":"server.connected"[^\n]*\n\ndata: \{[^\n]*"n":1[^\n]*\nid: [^\n]+\n\n$/,
    );
  });
});
