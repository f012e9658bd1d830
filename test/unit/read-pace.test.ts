import { describe, expect, it } from "vitest";
import type { MessageWithParts } from "../../src/opencode/state.js";
import { LogPulse } from "../../src/sources/reconciler/log-pulse.js";
import { signalsOf } from "../../src/sources/reconciler/log-signals.js";
import { type Pace, ReadPace } from "../../src/sources/reconciler/read-pace.js";

const PACE: Pace = { cheapMs: 1000, firstMs: 250, capMs: 1500 };

function answer(text: string, status = "running"): MessageWithParts[] {
  return [
    {
      info: { id: "msg_a", sessionID: "ses_a", role: "assistant", time: { created: 1 } },
      parts: [
        { id: "prt_text", sessionID: "ses_a", messageID: "msg_a", type: "text", text },
        {
          id: "prt_tool",
          sessionID: "ses_a",
          messageID: "msg_a",
          type: "tool",
          tool: "bash",
          state: { status },
        },
      ],
    } as unknown as MessageWithParts,
  ];
}

describe("the read pace", () => {
  it("reads the sessions that moved every tick, and the statuses with them while one is busy", () => {
    const pace = new ReadPace();
    const idle = [0, 1000, 2000].map((now) => pace.plan(now, PACE, []));
    expect(idle.map((plan) => [plan.list, plan.statuses])).toEqual([
      [true, false],
      [true, false],
      [true, false],
    ]);
    expect(pace.plan(2500, PACE, []).list).toBe(false); // not due yet
    const busy = [3000, 4000].map((now) => pace.plan(now, PACE, ["ses_a"]));
    expect(busy.map((plan) => [plan.list, plan.statuses])).toEqual([
      [true, true],
      [true, true],
    ]);
  });

  it("sends what is nearly due along with what is due (opencode's cost is mostly waking up for a request)", () => {
    const pace = new ReadPace();
    pace.plan(0, PACE, ["ses_a"]);
    pace.messagesRead("ses_a", answer("same"), 0, PACE); // due at 250
    // The cheap read is due at 1000; a signal at 800 reads the statuses, and the list goes along (a quarter early).
    pace.signal("statuses");
    const along = pace.plan(800, PACE, ["ses_a"]);
    expect([along.list, along.statuses, along.sessions.has("ses_a")]).toEqual([true, true, true]);
    // Without a burst to join, nothing goes out early: the list is next due at 1800.
    const alone = pace.plan(1700, PACE, []);
    expect([alone.list, alone.statuses]).toEqual([false, false]);
  });

  it("reads a busy session's messages at its first pace while they change, and backs off (doubling, to the cap) while they do not", () => {
    const pace = new ReadPace();
    const readsAt: number[] = [];
    let text = "";
    for (let now = 0; now <= 10_000; now += 50) {
      if (!pace.plan(now, PACE, ["ses_a"]).sessions.has("ses_a")) continue;
      readsAt.push(now);
      if (now < 1000) text += " w"; // it changes for a second, then not any more
      pace.messagesRead("ses_a", answer(text), now, PACE);
    }
    const gaps = readsAt.slice(1).map((at, index) => at - (readsAt[index] as number));
    expect(gaps.slice(0, 3)).toEqual([250, 250, 250]);
    const after = gaps.slice(4);
    expect(after.slice(0, 4)).toEqual([500, 1000, 1500, 1500]); // 250 → 500 → 1000 → the cap
    expect(Math.max(...gaps)).toBe(PACE.capMs);
  });

  it("reads at once what a signal names: everything, or one session's messages", () => {
    const pace = new ReadPace();
    pace.plan(0, PACE, ["ses_a", "ses_b"]);
    pace.messagesRead("ses_a", answer("x"), 0, PACE);
    pace.messagesRead("ses_b", answer("y"), 0, PACE);
    expect(pace.nextAt(["ses_a", "ses_b"], false)).toBe(PACE.firstMs);
    pace.signal("messages", "ses_b");
    expect(pace.nextAt(["ses_a", "ses_b"], false)).toBe(0);
    const one = pace.plan(10, PACE, ["ses_a", "ses_b"]);
    expect([...one.sessions]).toEqual(["ses_b"]);
    expect([one.list, one.statuses, one.requests === "signalled"]).toEqual([false, false, false]);
    pace.signal("statuses");
    pace.signal("requests");
    pace.signal("messages");
    const all = pace.plan(20, PACE, ["ses_a", "ses_b"]);
    expect([...all.sessions].sort()).toEqual(["ses_a", "ses_b"]);
    expect([all.statuses, all.requests]).toEqual([true, "signalled"]);
  });

  it("does not let a backed-off read wait longer than a faster pace allows once the pace changes", () => {
    const slow: Pace = { cheapMs: 1250, firstMs: 1250, capMs: 10_000 };
    const paces = [new ReadPace(), new ReadPace()];
    let now = 0;
    for (; now < 40_000; now += 100)
      for (const pace of paces)
        if (pace.plan(now, slow, ["ses_a"]).sessions.has("ses_a"))
          pace.messagesRead("ses_a", answer("same"), now, slow);
    const [kept, repaced] = paces as [ReadPace, ReadPace];
    repaced.repace(now, PACE);
    const later = now + PACE.capMs;
    expect(kept.plan(later, slow, ["ses_a"]).sessions.has("ses_a")).toBe(false);
    expect(repaced.plan(later, PACE, ["ses_a"]).sessions.has("ses_a")).toBe(true);
  });

  it("starts a session afresh once it is no longer busy", () => {
    const pace = new ReadPace();
    for (let now = 0; now < 5000; now += 50)
      if (pace.plan(now, PACE, ["ses_a"]).sessions.has("ses_a"))
        pace.messagesRead("ses_a", answer("same"), now, PACE);
    pace.plan(5000, PACE, []); // its turn ended
    expect(pace.plan(5050, PACE, ["ses_a"]).sessions.has("ses_a")).toBe(true); // a new turn: read at once
  });
});

describe("the log's pulse", () => {
  it("leads the reads only once it has said something, and not for a while after missing a change", async () => {
    let now = 0;
    let missed = 0;
    const pulse = new LogPulse(
      () => missed++,
      () => now,
    );
    expect(pulse.leads).toBe(false); // a log at WARN says nothing: reads keep their own pace
    pulse.published();
    expect(pulse.leads).toBe(true);
    const mark = pulse.mark;
    pulse.changedSince(mark);
    pulse.published(); // the line came, a little late
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(missed).toBe(0);
    pulse.changedSince(pulse.mark); // a change no line announced
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(missed).toBe(1);
    expect(pulse.leads).toBe(false);
    now += 10 * 60_000;
    expect(pulse.leads).toBe(true);
    pulse.stop();
  });
});

describe("what a log line says to read", () => {
  it("maps each bus publish to what its event changed, and a line naming a session to its messages", () => {
    expect(signalsOf({ busType: "session.status" })).toEqual(["statuses"]);
    expect(signalsOf({ busType: "session.updated" })).toEqual(["list"]);
    expect(signalsOf({ busType: "session.deleted" })).toEqual(["all-sessions"]); // only a whole listing shows a deletion
    expect(signalsOf({ busType: "message.part.updated" })).toEqual(["messages"]);
    expect(signalsOf({ busType: "permission.asked" })).toEqual(["requests"]);
    expect(signalsOf({ busType: "message.part.delta" })).toBeUndefined(); // REST has a part's text only once it is done
    expect(signalsOf({ busType: "session.diff" })).toBeUndefined();
    expect(signalsOf({ busType: "something.new" })).toEqual(["statuses", "messages"]);
    expect(signalsOf({ sessionID: "ses_1" })).toEqual(["statuses", "messages"]);
    expect(signalsOf({})).toBeUndefined();
  });
});
