import { beforeEach, describe, expect, it } from "vitest";
import type { EventPayload } from "../../src/hub/update.js";
import { Mirror } from "../../src/opencode/mirror.js";
import type { MessageWithParts, Part } from "../../src/opencode/state.js";
import { type Corrections, correctionsFor, type Snapshot } from "../../src/sources/reconciler/corrections.js";
import { questionsSeenUntil } from "../../src/sources/reconciler/turns.js";

const DIR = "/work/project";
const SID = "ses_1";

let mirror: Mirror;
let seq: number;
/** Events as the stream tells them, applied the way the sink does, `at` a moment after `time`. */
function told(type: string, properties: Record<string, unknown>, at: number) {
  mirror.apply({ directory: DIR, payload: { id: `evt_${++seq}`, type, properties }, seq }, at);
}
/** Corrections applied as the reconciler publishes them: each `session.idle` with the end of the turn it tells. */
function toldCorrections({ events, turnEnds }: Corrections, at: number) {
  for (const payload of events)
    mirror.apply(
      {
        directory: DIR,
        payload: { ...payload, id: `evt_${++seq}` },
        seq,
        origin: "reconciler",
        asOf: turnEnds.get(payload),
      },
      at,
    );
}
/** A message and its parts, as the stream tells them. */
function toldMessage(message: MessageWithParts | undefined, at: number) {
  told("message.updated", { sessionID: SID, info: message?.info }, at);
  for (const part of message?.parts ?? []) told("message.part.updated", { sessionID: SID, part }, at);
}
const state = () => mirror.instance(DIR);
const said = (events: EventPayload[]) =>
  events.map((payload) => {
    const p = payload.properties as { status?: { type: string }; info?: { role?: string } };
    return `${payload.type} ${p.status?.type ?? p.info?.role ?? ""}`.trim();
  });

function turn(created: number): MessageWithParts[] {
  const text = (id: string, messageID: string): Part => ({
    id,
    messageID,
    sessionID: SID,
    type: "text",
    text: "hi",
    time: { start: created, end: created + 1 },
  });
  return [
    {
      info: { id: `msg_u${created}`, sessionID: SID, role: "user", time: { created } },
      parts: [text(`prt_u${created}`, `msg_u${created}`)],
    },
    {
      info: {
        id: `msg_a${created}`,
        sessionID: SID,
        role: "assistant",
        time: { created: created + 1, completed: created + 5 },
      },
      parts: [text(`prt_a${created}`, `msg_a${created}`)],
    },
  ];
}

/** A read that found the session idle and its newest messages. */
function read(messages: MessageWithParts[]): Snapshot {
  return {
    statuses: { value: {}, since: seq },
    messages: [{ sessionID: SID, messages, complete: false, historyUntil: 0, since: seq }],
    todos: [],
    diffs: [],
  };
}

beforeEach(() => {
  mirror = new Mirror();
  seq = 0;
  const info = { id: SID, directory: DIR, time: { created: 1, updated: 1 } };
  mirror.takeInHistory(DIR, { sessions: [info], baseline: true });
});

describe("correctionsFor", () => {
  it("publishes a turn nobody told of whole: busy, its messages, idle and session.idle", () => {
    const { events } = correctionsFor(state(), read(turn(1_000)));
    expect(said(events)).toEqual([
      "session.status busy",
      "message.updated user",
      "message.part.updated",
      "message.updated assistant",
      "message.part.updated",
      "session.status idle",
      "session.idle",
    ]);
  });

  it("two turns that came and went between two reads: each whole, one session.idle each (issue 21, seed 42)", () => {
    const { events } = correctionsFor(state(), read([...turn(1_000), ...turn(2_000)]));
    expect(said(events)).toEqual([
      "session.status busy",
      "message.updated user",
      "message.part.updated",
      "message.updated assistant",
      "message.part.updated",
      "session.status idle",
      "session.idle",
      "session.status busy",
      "message.updated user",
      "message.part.updated",
      "message.updated assistant",
      "message.part.updated",
      "session.status idle",
      "session.idle",
    ]);
  });

  it("adds no busy or idle for a turn whose status the stream told, though it lost its messages", () => {
    told("session.status", { sessionID: SID, status: { type: "busy" } }, 1_010);
    told("session.status", { sessionID: SID, status: { type: "idle" } }, 1_020);
    told("session.idle", { sessionID: SID }, 1_020);
    const { events } = correctionsFor(state(), read(turn(1_000)));
    expect(said(events)).toEqual([
      "message.updated user",
      "message.part.updated",
      "message.updated assistant",
      "message.part.updated",
    ]);
  });

  it("makes up busy and idle for a turn whose user message was told but whose statuses were lost", () => {
    const [user] = turn(1_000);
    told("message.updated", { sessionID: SID, info: user?.info }, 1_001);
    const { events } = correctionsFor(state(), read(turn(1_000)));
    expect(said(events)).toContain("session.status busy");
    expect(said(events).slice(-2)).toEqual(["session.status idle", "session.idle"]);
  });

  it("tells a session.idle the stream lost while it carried the idle status, and only that", () => {
    for (const [type, properties] of [
      ["message.updated", { sessionID: SID, info: turn(1_000)[0]?.info }],
      ["message.part.updated", { sessionID: SID, part: turn(1_000)[0]?.parts[0] }],
      ["message.updated", { sessionID: SID, info: turn(1_000)[1]?.info }],
      ["message.part.updated", { sessionID: SID, part: turn(1_000)[1]?.parts[0] }],
      ["session.status", { sessionID: SID, status: { type: "busy" } }],
      ["session.status", { sessionID: SID, status: { type: "idle" } }],
    ] as const)
      told(type, properties as Record<string, unknown>, 1_010);
    const { events } = correctionsFor(state(), read(turn(1_000)));
    expect(said(events)).toEqual(["session.idle"]);
    told("session.idle", { sessionID: SID }, 1_020);
    expect(correctionsFor(state(), read(turn(1_000))).events).toEqual([]);
  });

  it("tells the idle status a stream lost before the session.idle it carried, and only that (issue 21, seed 42)", () => {
    told("session.status", { sessionID: SID, status: { type: "busy" } }, 1_002);
    for (const [type, properties] of [
      ["message.updated", { sessionID: SID, info: turn(1_000)[0]?.info }],
      ["message.part.updated", { sessionID: SID, part: turn(1_000)[0]?.parts[0] }],
      ["message.updated", { sessionID: SID, info: turn(1_000)[1]?.info }],
      ["message.part.updated", { sessionID: SID, part: turn(1_000)[1]?.parts[0] }],
      ["session.idle", { sessionID: SID }],
    ] as const)
      told(type, properties as Record<string, unknown>, 1_010);
    const { events } = correctionsFor(state(), read(turn(1_000)));
    expect(said(events)).toEqual(["session.status idle"]);
    told("session.status", { sessionID: SID, status: { type: "idle" } }, 1_020);
    expect(correctionsFor(state(), read(turn(1_000))).events).toEqual([]);
  });

  it("leaves a turn's end to the stream while the stream is still telling its messages", () => {
    told("session.status", { sessionID: SID, status: { type: "busy" } }, 1_010);
    const snapshot = read(turn(1_000));
    // After the read began, the stream told more of the session's messages (a backlog of deltas).
    told("message.updated", { sessionID: SID, info: turn(1_000)[1]?.info }, 1_030);
    const { events } = correctionsFor(state(), snapshot);
    expect(said(events)).not.toContain("session.idle");
    expect(said(events)).not.toContain("session.status idle");
  });

  it("tells no turn of a fork's copied history: its turns ended before the session was created (opencode's fork keeps their times)", () => {
    told(
      "session.updated",
      { sessionID: SID, info: { id: SID, directory: DIR, time: { created: 10_000, updated: 10_000 } } },
      10_000,
    );
    const events = said(correctionsFor(state(), read([...turn(1_000), ...turn(2_000)])).events);
    expect(events).not.toContain("session.idle");
    expect(events).not.toContain("session.status busy");
    expect(events).toContain("message.updated user");
  });

  describe("two short turns back to back between two reads, the first told busy (issue 21)", () => {
    /** Clients were told the first turn's question and its busy; a read then finds it over and the next one begun. */
    function firstTurnTold(): void {
      const [user] = turn(1_000);
      told("message.updated", { sessionID: SID, info: user?.info }, 1_001);
      told("message.part.updated", { sessionID: SID, part: user?.parts[0] }, 1_001);
      told("session.status", { sessionID: SID, status: { type: "busy" } }, 1_002);
    }
    const both = () => [...turn(1_000), ...turn(2_000)];

    it("ends the first turn (idle, session.idle) before the next one's question, then says busy", () => {
      firstTurnTold();
      const snapshot = read(both());
      snapshot.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
      const { events } = correctionsFor(state(), snapshot);
      expect(said(events)).toEqual([
        "message.updated assistant",
        "message.part.updated",
        "session.status idle",
        "session.idle",
        "session.status busy",
        "message.updated user",
        "message.part.updated",
        "message.updated assistant",
        "message.part.updated",
      ]);
    });

    it("both over by the read: one session.idle for each", () => {
      firstTurnTold();
      const { events } = correctionsFor(state(), read(both()));
      expect(said(events).filter((type) => type === "session.idle")).toHaveLength(2);
      expect(said(events).slice(-2)).toEqual(["session.status idle", "session.idle"]);
    });

    it("statuses read idle between the two turns, the next one's answer under way: its end is not told yet", () => {
      firstTurnTold();
      const [user2, assistant2] = turn(2_000);
      const underway = { ...assistant2, info: { ...assistant2?.info, time: { created: 2_001 } } };
      const { events } = correctionsFor(
        state(),
        read([...turn(1_000), user2, underway] as MessageWithParts[]),
      );
      expect(said(events).filter((type) => type === "session.idle")).toHaveLength(1);
      expect(said(events).at(-1)).toBe("message.part.updated");
      expect(said(events)).toContain("session.status busy");
    });

    it("tells the boundary once: the next read finds nothing more to say of it", () => {
      firstTurnTold();
      const snapshot = read(both());
      snapshot.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
      toldCorrections(correctionsFor(state(), snapshot), 2_100);
      const again = read(both());
      again.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
      expect(correctionsFor(state(), again).events).toEqual([]);
    });

    it("a busy a correction told is as old as its read: a question asked after the read and before the telling begins a turn (issue 21, seed 42)", () => {
      const [user] = turn(1_000);
      const corrected = (type: string, properties: Record<string, unknown>) =>
        mirror.apply(
          {
            directory: DIR,
            payload: { id: `evt_${++seq}`, type, properties },
            seq,
            origin: "reconciler",
            asOf: 1_000,
          },
          2_050,
        );
      // A read saw the first question only; its corrections went out after the next one was asked.
      corrected("message.updated", { sessionID: SID, info: user?.info });
      corrected("session.status", { sessionID: SID, status: { type: "busy" } });
      const snapshot = read(both());
      snapshot.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
      const events = said(correctionsFor(state(), snapshot).events);
      expect(events.filter((type) => type === "session.idle")).toHaveLength(1);
      expect(events.indexOf("session.idle")).toBeLessThan(events.lastIndexOf("message.updated user"));
    });

    it("a read is as of its newest question, or of when it was asked for when its window holds none", () => {
      const [user, answer] = turn(1_000);
      if (!user || !answer) throw new Error("no turn");
      const read = { sessionID: SID, historyUntil: 0, askedAt: 5_000 };
      expect(questionsSeenUntil({ ...read, messages: [user, answer] })).toBe(1_000);
      expect(questionsSeenUntil({ ...read, messages: [answer] })).toBe(5_000);
    });

    describe("a lossy stream that lost a turn's end and the next question, but carried the next busy (issue 21, seed 7)", () => {
      /** Turn 1 told whole; turn 2's question, busy and answer told; then turn 3's busy only (opencode says busy several times a turn). */
      function toldByALossyStream(idleOfTurn2: boolean): void {
        const [user1, answer1] = turn(1_000);
        const [user2, answer2] = turn(2_000);
        told("message.updated", { sessionID: SID, info: user1?.info }, 1_001);
        told("session.status", { sessionID: SID, status: { type: "busy" } }, 1_002);
        told("message.updated", { sessionID: SID, info: answer1?.info }, 1_006);
        told("session.status", { sessionID: SID, status: { type: "idle" } }, 1_007);
        told("session.idle", { sessionID: SID }, 1_007);
        told("message.updated", { sessionID: SID, info: user2?.info }, 2_001);
        told("session.status", { sessionID: SID, status: { type: "busy" } }, 2_002);
        told("message.updated", { sessionID: SID, info: answer2?.info }, 2_006);
        if (idleOfTurn2) {
          told("session.status", { sessionID: SID, status: { type: "idle" } }, 2_007);
          told("session.idle", { sessionID: SID }, 2_007);
        }
        told("session.status", { sessionID: SID, status: { type: "busy" } }, 3_002);
      }
      const underway = () => {
        const [user3, answer3] = turn(3_000);
        return [
          ...turn(1_000),
          ...turn(2_000),
          user3,
          { ...answer3, info: { ...answer3?.info, time: { created: 3_001 } } },
        ] as MessageWithParts[];
      };

      it("tells turn 2's end before turn 3's question", () => {
        toldByALossyStream(false);
        const snapshot = read(underway());
        snapshot.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
        const events = said(correctionsFor(state(), snapshot).events);
        expect(events.filter((type) => type === "session.idle")).toHaveLength(1);
        const end = events.indexOf("session.idle");
        expect(events.slice(end - 1, end + 3)).toEqual([
          "session.status idle",
          "session.idle",
          "session.status busy",
          "message.updated user",
        ]);
      });

      it("tells a turn's end whose busy and idle were both lost, its question and answer carried", () => {
        const [user1, answer1] = turn(1_000);
        const [user2, answer2] = turn(2_000);
        const [user3] = turn(3_000);
        told("message.updated", { sessionID: SID, info: user1?.info }, 1_001);
        told("session.status", { sessionID: SID, status: { type: "busy" } }, 1_002);
        told("message.updated", { sessionID: SID, info: answer1?.info }, 1_006);
        told("session.status", { sessionID: SID, status: { type: "idle" } }, 1_007);
        told("session.idle", { sessionID: SID }, 1_007);
        told("message.updated", { sessionID: SID, info: user2?.info }, 2_001); // its busy lost
        told("message.updated", { sessionID: SID, info: answer2?.info }, 2_006); // its idle lost
        told("message.updated", { sessionID: SID, info: user3?.info }, 3_001);
        told("session.status", { sessionID: SID, status: { type: "busy" } }, 3_002);
        const snapshot = read(underway());
        snapshot.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
        const events = said(correctionsFor(state(), snapshot).events);
        expect(events.filter((type) => type === "session.idle")).toHaveLength(1);
      });

      it("a turn's end whose idle status the stream carried, its session.idle lost: the session.idle alone", () => {
        toldByALossyStream(false);
        told("session.status", { sessionID: SID, status: { type: "idle" } }, 2_007); // turn 2's, without its session.idle
        told("session.status", { sessionID: SID, status: { type: "busy" } }, 3_003);
        const snapshot = read(underway());
        snapshot.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
        const events = said(correctionsFor(state(), snapshot).events);
        expect(events.filter((type) => type === "session.idle")).toHaveLength(1);
        expect(events).not.toContain("session.status idle");
      });

      it("a turn that came and went after a stream told the last one's session.idle but lost its idle status: busy, and its own end", () => {
        const [user1, answer1] = turn(1_000);
        told("message.updated", { sessionID: SID, info: user1?.info }, 1_001);
        told("session.status", { sessionID: SID, status: { type: "busy" } }, 1_002);
        told("message.updated", { sessionID: SID, info: answer1?.info }, 1_006);
        told("session.idle", { sessionID: SID }, 1_007); // its idle status lost
        const events = said(correctionsFor(state(), read([...turn(1_000), ...turn(2_000)])).events);
        expect(events.filter((type) => type === "session.idle")).toHaveLength(1);
        expect(events[0]).toBe("session.status busy");
        expect(events.slice(-2)).toEqual(["session.status idle", "session.idle"]);
      });

      it("tells no end the stream did carry", () => {
        toldByALossyStream(true);
        const snapshot = read(underway());
        snapshot.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
        const events = said(correctionsFor(state(), snapshot).events);
        expect(events).not.toContain("session.idle");
        expect(events).toContain("message.updated user");
      });
    });

    describe("turns back to back behind a lossy stream that carried a later turn's end and lost the ones before (issue 21, row 18)", () => {
      const turns = [1_000, 2_000, 3_000, 4_000];
      /** Every question, busy and answer carried; the ends of the first three lost, the last one's carried (when `lastEnded`). */
      function toldAllButEarlierEnds(lastEnded: boolean): void {
        for (const created of turns) {
          const [user, answer] = turn(created);
          toldMessage(user, created + 1);
          told("session.status", { sessionID: SID, status: { type: "busy" } }, created + 2);
          if (created === 4_000 && !lastEnded) return;
          toldMessage(answer, created + 6);
        }
        told("session.status", { sessionID: SID, status: { type: "idle" } }, 4_007);
        told("session.idle", { sessionID: SID }, 4_007);
      }
      const idles = (events: string[]) => events.filter((type) => type === "session.idle");

      it("tells each lost end, its session.idle alone, and leaves the statuses as they are", () => {
        toldAllButEarlierEnds(true);
        const corrections = correctionsFor(state(), read(turns.flatMap(turn)));
        expect(said(corrections.events)).toEqual(["session.idle", "session.idle", "session.idle"]);
        toldCorrections(corrections, 4_500);
        expect(correctionsFor(state(), read(turns.flatMap(turn))).events).toEqual([]);
      });

      it("tells them while the last turn is still under way", () => {
        toldAllButEarlierEnds(false);
        const [user4, answer4] = turn(4_000);
        const underway = { ...answer4, info: { ...answer4?.info, time: { created: 4_001 } } };
        const snapshot = read([...turns.slice(0, 3).flatMap(turn), user4, underway] as MessageWithParts[]);
        snapshot.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
        expect(idles(said(correctionsFor(state(), snapshot).events))).toHaveLength(3);
      });

      it("tells the ends the stream went past while it still tells the next turn (issue 21, seed 7 at da3a2ac)", () => {
        const [user1, answer1] = turn(1_000);
        const [user2, answer2] = turn(2_000);
        const [user3, answer3] = turn(3_000);
        toldMessage(user1, 1_001);
        told("session.status", { sessionID: SID, status: { type: "busy" } }, 1_002);
        toldMessage(answer1, 1_006); // its end lost
        toldMessage(user2, 2_001);
        toldMessage(answer2, 2_006); // its end lost, and turn 3's question
        const underway = {
          ...answer3,
          info: { ...answer3?.info, time: { created: 3_001 } },
        } as MessageWithParts;
        const snapshot = read([...turn(1_000), ...turn(2_000), user3, underway] as MessageWithParts[]);
        snapshot.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
        // The stream goes on with turn 3's answer after the read: it is still telling the session.
        told("message.part.updated", { sessionID: SID, part: underway.parts[0] }, 3_100);
        const events = said(correctionsFor(state(), snapshot).events);
        expect(idles(events)).toHaveLength(2);
        expect(idles(events)).toHaveLength(2);
        // Turn 1's end (its question told) alone, then turn 2's whole before turn 3's question.
        expect(events.slice(0, 5)).toEqual([
          "session.idle",
          "session.status idle",
          "session.idle",
          "session.status busy",
          "message.updated user",
        ]);
      });

      it("counts every end once when a correction begins a turn clients never heard of after the stream lost two ends (issue 21, seed 7 at 188f837)", () => {
        const message = (
          id: string,
          role: string,
          created: number,
          completed?: number,
        ): MessageWithParts => ({
          info: {
            id,
            sessionID: SID,
            role,
            time: { created, completed },
            ...(completed ? { finish: "stop" } : {}),
          },
          parts: [],
        });
        const corrected = (type: string, properties: Record<string, unknown>, at: number) =>
          mirror.apply(
            { directory: DIR, payload: { id: `evt_${++seq}`, type, properties }, seq, origin: "reconciler" },
            at,
          );
        const [qA, aA, qB, aB, qC, aC] = [
          message("qA", "user", 1_000),
          message("aA", "assistant", 1_001, 1_600),
          message("qB", "user", 1_700),
          message("aB", "assistant", 1_710, 1_900),
          message("qC", "user", 2_200),
          message("aC", "assistant", 2_210, 3_500),
        ] as MessageWithParts[];
        corrected("session.status", { sessionID: SID, status: { type: "busy" } }, 1_100);
        corrected("message.updated", { sessionID: SID, info: qA?.info }, 1_100);
        // The stream, lossy: A's idle status (its session.idle lost), B's answer and idle status
        // (its question, busy and session.idle lost), then C's answer and question.
        told("session.status", { sessionID: SID, status: { type: "idle" } }, 1_610);
        told("message.updated", { sessionID: SID, info: aB?.info }, 1_910);
        told("session.status", { sessionID: SID, status: { type: "idle" } }, 1_920);
        told("message.updated", { sessionID: SID, info: { ...aC?.info, time: { created: 2_210 } } }, 2_220);
        told("message.updated", { sessionID: SID, info: qC?.info }, 2_300);
        const underway = { ...aC, info: { ...aC?.info, time: { created: 2_210 } } } as MessageWithParts;
        const first = read([qA, aA, qB, aB, qC, underway] as MessageWithParts[]);
        first.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
        const whileC = correctionsFor(state(), first);
        toldCorrections(whileC, 3_000);
        const afterC = correctionsFor(state(), read([qA, aA, qB, aB, qC, aC] as MessageWithParts[]));
        expect(idles(said(whileC.events))).toHaveLength(2);
        expect(said(afterC.events).slice(-2)).toEqual(["session.status idle", "session.idle"]);
        expect(idles(said(afterC.events))).toHaveLength(1);
      });

      it("a stream's end that came after the next turn's first step completed is its own turn's, not the step's", () => {
        const [user1, answer1] = turn(1_000);
        const [user2, answer2] = turn(2_000);
        const step = { ...answer2, info: { ...answer2?.info, finish: "tool-calls" } } as MessageWithParts;
        toldMessage(user1, 1_001);
        told("session.status", { sessionID: SID, status: { type: "busy" } }, 1_002);
        toldMessage(answer1, 1_006);
        toldMessage(user2, 2_001);
        told("session.status", { sessionID: SID, status: { type: "busy" } }, 2_002);
        toldMessage(step, 2_006);
        told("session.idle", { sessionID: SID }, 2_010); // turn 1's, late
        told("session.status", { sessionID: SID, status: { type: "busy" } }, 2_011);
        const snapshot = read([...turn(1_000), user2, step] as MessageWithParts[]);
        snapshot.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
        expect(correctionsFor(state(), snapshot).events).toEqual([]);
      });
    });

    it("says nothing of a turn boundary while the turn clients were told of is still the newest", () => {
      firstTurnTold();
      const snapshot = read(turn(1_000).slice(0, 1));
      snapshot.statuses = { value: { [SID]: { type: "busy" } }, since: seq };
      expect(said(correctionsFor(state(), snapshot).events)).toEqual([]);
    });
  });
});
