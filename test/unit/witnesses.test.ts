import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { EventPayload } from "../../src/hub/update.js";
import { canonicalJson } from "../../src/json.js";
import { stateKey } from "../../src/opencode/events.js";
import { LogWitness } from "../../src/sources/log/log-witness.js";
import { StreamRecord } from "../../src/sources/stream-record.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

let n = 0;
const ev = (type: string, properties: Record<string, unknown>): EventPayload => ({
  id: `evt_${++n}`,
  type,
  properties,
});
const part = (text: string) => ({ id: "prt_1", messageID: "msg_1", sessionID: "ses_1", type: "text", text });

describe("stateKey", () => {
  it("is the same for upstream's event and the correction of the same state, whatever the key order", () => {
    const upstream = ev("message.part.updated", { sessionID: "ses_1", part: part("hi"), time: 1 });
    const correction = ev("message.part.updated", {
      time: 2,
      part: { text: "hi", type: "text", sessionID: "ses_1", messageID: "msg_1", id: "prt_1" },
      sessionID: "ses_1",
    });
    expect(stateKey(upstream)).toBe(stateKey(correction));
    expect(stateKey(ev("message.part.updated", { sessionID: "ses_1", part: part("hi!") }))).not.toBe(
      stateKey(upstream),
    );
    expect(stateKey(ev("session.idle", { sessionID: "ses_1" }))).toBe(
      stateKey(ev("session.status", { sessionID: "ses_1", status: { type: "idle" } })),
    );
    expect(stateKey(ev("session.created", { sessionID: "s", info: { id: "s", title: "t" } }))).toBe(
      stateKey(ev("session.updated", { sessionID: "s", info: { title: "t", id: "s" } })),
    );
    // A reply's wording REST cannot tell ("always" looks like "once"): only that it was settled.
    expect(stateKey(ev("permission.replied", { sessionID: "s", requestID: "per_1", reply: "always" }))).toBe(
      stateKey(ev("permission.replied", { sessionID: "s", requestID: "per_1", reply: "once" })),
    );
    // A running tool's events carry its arguments as streamed (`raw`); REST leaves them out.
    const running = {
      id: "prt_t",
      type: "tool",
      tool: "bash",
      state: { status: "running", input: { command: "ls" } },
    };
    expect(
      stateKey(ev("message.part.updated", { part: { ...running, state: { ...running.state, raw: "" } } })),
    ).toBe(stateKey(ev("message.part.updated", { part: running })));
    expect(stateKey(ev("message.part.delta", { delta: "x" }))).toBeUndefined();
    expect(stateKey(ev("file.edited", { file: "a" }))).toBeUndefined();
  });

  it("writes JSON with sorted keys, dropping undefined ones", () => {
    expect(canonicalJson({ b: [1, { d: 1, c: undefined, a: "x" }], a: null })).toBe(
      '{"a":null,"b":[1,{"a":"x","d":1}]}',
    );
  });
});

describe("StreamRecord", () => {
  function record() {
    const verdicts: Array<{ carried: number; missed: string[] }> = [];
    const made = new StreamRecord({
      lateMs: 500,
      keepMs: 10_000,
      now: () => Date.now(),
      onEvidence: (carried, missed) => verdicts.push({ carried, missed }),
    });
    return { record: made, verdicts };
  }

  it("counts a correction the stream carried before it, or late but in time, as carried", () => {
    const { record: r, verdicts } = record();
    r.noted(ev("message.part.updated", { sessionID: "ses_1", part: part("before") }));
    r.check([ev("message.part.updated", { sessionID: "ses_1", part: part("before") })]);
    r.check([ev("session.status", { sessionID: "ses_1", status: { type: "busy" } })]);
    vi.advanceTimersByTime(300);
    r.noted(ev("session.status", { sessionID: "ses_1", status: { type: "busy" } }));
    expect(verdicts).toEqual([
      { carried: 1, missed: [] },
      { carried: 1, missed: [] },
    ]);
  });

  it("counts a correction the stream did not carry in time as missed, and ignores deltas", () => {
    const { record: r, verdicts } = record();
    r.check([
      ev("message.updated", { sessionID: "ses_1", info: { id: "msg_1" } }),
      ev("message.part.delta", { sessionID: "ses_1", partID: "prt_1", delta: "x" }),
    ]);
    vi.advanceTimersByTime(499);
    expect(verdicts).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(verdicts).toEqual([{ carried: 0, missed: ["message.updated"] }]);
    // Carried later still: too late, and not counted twice.
    r.noted(ev("message.updated", { sessionID: "ses_1", info: { id: "msg_1" } }));
    expect(verdicts).toHaveLength(1);
  });

  it("forgets what the stream carried long ago, and everything on clear", () => {
    const { record: r, verdicts } = record();
    r.noted(ev("session.status", { sessionID: "ses_1", status: { type: "busy" } }));
    vi.advanceTimersByTime(11_000);
    r.check([ev("session.status", { sessionID: "ses_1", status: { type: "busy" } })]);
    vi.advanceTimersByTime(500);
    expect(verdicts).toEqual([{ carried: 0, missed: ["session.status"] }]);
    r.noted(ev("session.idle", { sessionID: "ses_2" }));
    r.clear();
    r.check([ev("session.idle", { sessionID: "ses_2" })]);
    vi.advanceTimersByTime(500);
    expect(verdicts.at(-1)).toEqual({ carried: 0, missed: ["session.idle"] });
  });
});

describe("StreamRecord: how far behind the stream is", () => {
  it("is behind on a session until the stream carries what a correction told of it (not its status, the same turn after turn)", () => {
    const verdicts: Array<{ carried: number; missed: string[] }> = [];
    const r = new StreamRecord({
      lateMs: 3_000,
      now: () => Date.now(),
      onEvidence: (carried, missed) => verdicts.push({ carried, missed }),
    });
    const question = { id: "msg_4", sessionID: "ses_1", role: "user", time: { created: 4 } };
    // The reconciler told turn 4's beginning; a late stream has only reached turn 3's end.
    r.noted(ev("session.status", { sessionID: "ses_1", status: { type: "busy" } }));
    r.check([
      ev("session.status", { sessionID: "ses_1", status: { type: "busy" } }),
      ev("message.updated", { sessionID: "ses_1", info: question }),
    ]);
    expect(r.behindOn("ses_1")).toBe(true);
    expect(r.behindOn("ses_2")).toBe(false);
    vi.advanceTimersByTime(1_000);
    r.noted(ev("message.updated", { sessionID: "ses_1", info: question }));
    expect(r.behindOn("ses_1")).toBe(false);
    expect(verdicts).toEqual([
      { carried: 1, missed: [] },
      { carried: 1, missed: [] },
    ]);
  });
});

describe("LogWitness", () => {
  function witness() {
    const shortfalls: string[][] = [];
    const made = new LogWitness({
      graceMs: 500,
      creditMs: 5_000,
      types: new Set(["session.updated", "message.updated"]),
      now: () => Date.now(),
      onShortfall: (types) => shortfalls.push(types),
    });
    return { witness: made, shortfalls };
  }

  it("matches log lines and stream events by type, in either order", () => {
    const { witness: w, shortfalls } = witness();
    w.streamed("session.updated"); // the stream first, the log line a moment later
    vi.advanceTimersByTime(300);
    w.published("session.updated");
    w.published("message.updated"); // the log first, the stream within the grace
    vi.advanceTimersByTime(400);
    w.streamed("message.updated");
    vi.advanceTimersByTime(2_000);
    expect(shortfalls).toEqual([]);
  });

  it("reports what the stream did not carry within the grace, and ignores types it does not count", () => {
    const { witness: w, shortfalls } = witness();
    w.published("session.updated");
    w.published("session.updated");
    w.streamed("session.updated");
    w.published("tui.toast.show");
    vi.advanceTimersByTime(500);
    expect(shortfalls).toEqual([["session.updated"]]);
  });

  it("does not let old stream events pay for new log lines, and owes nothing after a reset", () => {
    const { witness: w, shortfalls } = witness();
    w.streamed("message.updated");
    vi.advanceTimersByTime(6_000);
    w.published("message.updated");
    vi.advanceTimersByTime(500);
    expect(shortfalls).toEqual([["message.updated"]]);
    w.published("message.updated");
    w.reset();
    vi.advanceTimersByTime(1_000);
    expect(shortfalls).toHaveLength(1);
  });
});
