import { createParser, type EventSourceMessage } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { encodeFrame, SSE_HEADERS } from "../../src/sse.js";

function parse(text: string): EventSourceMessage[] {
  const out: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => out.push(message) });
  parser.feed(text);
  return out;
}

describe("encodeFrame", () => {
  it("writes a frame exactly as opencode does when there is no id", () => {
    const json = JSON.stringify({ id: "evt_1", type: "server.connected", properties: {} });
    expect(encodeFrame(json).toString()).toBe(`data: ${json}\n\n`);
  });

  it("adds a standard id line after the data", () => {
    const json = JSON.stringify({ type: "session.idle", properties: { sessionID: "ses_1" } });
    expect(encodeFrame(json, "abc-7").toString()).toBe(`data: ${json}\nid: abc-7\n\n`);
  });

  it("round-trips through a standard SSE parser, unicode and newlines in strings included", () => {
    const payload = { type: "message.part.delta", properties: { delta: "héllo\nwörld 🚀 \r\n\u2028" } };
    const [message] = parse(encodeFrame(JSON.stringify(payload), "e-1").toString());
    expect(message?.id).toBe("e-1");
    expect(JSON.parse(message?.data ?? "")).toEqual(payload);
  });

  it("uses opencode's stream headers", () => {
    expect(SSE_HEADERS["content-type"]).toBe("text/event-stream");
    expect(SSE_HEADERS["cache-control"]).toBe("no-cache, no-transform");
    expect(SSE_HEADERS["x-accel-buffering"]).toBe("no");
  });
});
