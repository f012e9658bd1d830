import { describe, expect, it } from "vitest";
import type { GlobalFrame } from "../../src/sources/global-frame.js";
import { createGlobalStreamReader } from "../../src/sources/global-stream.js";

function read(chunks: Uint8Array[], maxFrameBytes = 1 << 20) {
  const frames: GlobalFrame[] = [];
  let oversize = 0;
  const reader = createGlobalStreamReader({
    maxFrameBytes,
    onFrame: (frame) => frames.push(frame),
    onOversize: () => oversize++,
  });
  for (const chunk of chunks) reader.feed(chunk);
  return { frames, oversize };
}

const event = (n: number, text = "héllo wörld 🚀") => ({
  directory: "/tmp/プロジェクト",
  payload: { id: `evt_${n}`, type: "message.part.delta", properties: { delta: text } },
});
const STREAM = Buffer.from(
  [
    `data: ${JSON.stringify({ payload: { type: "server.connected", properties: {} } })}\n\n`,
    `data: ${JSON.stringify(event(1))}\n\n`,
    `data: ${JSON.stringify({ directory: "/p", payload: { type: "sync", syncEvent: {}, id: "evt_1" } })}\n\n`,
    `data: ${JSON.stringify(event(2, "second"))}\n\n`,
  ].join(""),
);

function summary(frames: GlobalFrame[]) {
  return frames.map((frame) => (frame.kind === "event" ? frame.envelope.payload : frame.kind));
}

describe("global stream reader", () => {
  const whole = summary(read([STREAM]).frames);

  it("reads a whole stream", () => {
    expect(whole).toEqual(["server", event(1).payload, "sync", event(2, "second").payload]);
  });

  it("gives the same frames whichever byte the stream is split at (UTF-8 characters included)", () => {
    for (let at = 1; at < STREAM.length; at++) {
      const { frames } = read([STREAM.subarray(0, at), STREAM.subarray(at)]);
      expect(summary(frames), `split at byte ${at}`).toEqual(whole);
    }
  });

  it("gives the same frames when every byte arrives on its own", () => {
    const bytes = Array.from(STREAM, (byte) => Uint8Array.of(byte));
    expect(summary(read(bytes).frames)).toEqual(whole);
  });

  it("accepts a byte-order mark and CRLF line endings", () => {
    const crlf = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(STREAM.toString().replaceAll("\n", "\r\n")),
    ]);
    expect(summary(read([crlf]).frames)).toEqual(whole);
  });

  it("passes invalid frames on as invalid without losing the valid ones around them", () => {
    const text = `data: not json\n\ndata: ${JSON.stringify(event(3))}\n\n: a comment\n\nretry: 100\n\nevent: x\ndata: {}\n\n`;
    const { frames } = read([Buffer.from(text)]);
    expect(frames.map((frame) => frame.kind)).toEqual(["invalid", "event", "invalid"]);
  });

  it("skips a complete frame larger than the cap and goes on", () => {
    const huge = Buffer.from(`data: ${JSON.stringify(event(4, "x".repeat(5000)))}\n\n`);
    const small = Buffer.from(`data: ${JSON.stringify(event(5))}\n\n`);
    const { frames, oversize } = read([Buffer.concat([huge, small])], 1000);
    expect(frames.map((frame) => frame.kind)).toEqual(["invalid", "event"]);
    expect(oversize).toBe(0);
  });

  it("stops, once, when a frame grows past the cap without ending", () => {
    const endless = Array.from({ length: 50 }, (_, i) => Buffer.from(i === 0 ? "data: {" : "x".repeat(100)));
    const { frames, oversize } = read(endless, 1000);
    expect(frames).toEqual([]);
    expect(oversize).toBe(1);
  });
});
