import { describe, expect, it } from "vitest";
import { Mirror } from "../../src/opencode/mirror.js";
import type { MessageWithParts } from "../../src/opencode/state.js";
import { carriedByStream } from "../../src/sources/reconciler/carried.js";
import type { Snapshot } from "../../src/sources/reconciler/corrections.js";

const DIR = "/work/project";
const SID = "ses_1";

const answer: MessageWithParts = {
  info: { id: "msg_1", sessionID: SID, role: "assistant", time: { created: 1, completed: 5 } },
  parts: [
    { id: "prt_1", messageID: "msg_1", sessionID: SID, type: "text", text: "hi", time: { start: 1, end: 2 } },
  ],
};

function readOf(messages: MessageWithParts[], since: number): Snapshot {
  return {
    messages: [{ sessionID: SID, messages, complete: true, historyUntil: 0, since }],
    todos: [],
    diffs: [],
  };
}

describe("carriedByStream", () => {
  it("counts the messages and parts a read shows as the stream told them since the last count, not the reconciler's", () => {
    const mirror = new Mirror();
    let seq = 0;
    const tell = (type: string, properties: Record<string, unknown>, origin?: "reconciler") =>
      mirror.apply({ directory: DIR, payload: { type, properties }, seq: ++seq, origin });
    tell("message.updated", { sessionID: SID, info: answer.info });
    tell("message.part.updated", { sessionID: SID, part: { ...answer.parts[0], text: "h" } }); // not as REST has it yet
    const state = () => mirror.instance(DIR);
    expect(carriedByStream(state(), readOf([answer], seq), 0).changes).toBe(1);
    tell("message.part.updated", { sessionID: SID, part: answer.parts[0] });
    expect(carriedByStream(state(), readOf([answer], seq), 2).changes).toBe(1); // the part; the message was counted
    tell("message.part.updated", { sessionID: SID, part: answer.parts[0] }, "reconciler");
    expect(carriedByStream(state(), readOf([answer], seq), 3).changes).toBe(0); // a correction's is no evidence
    expect(carriedByStream(state(), readOf([answer], 1), 0).changes).toBe(1); // told after the read: not yet
  });

  it("counts a turn carried in full: its question, its answer with every part, and its session.idle, all as the stream told them", () => {
    const mirror = new Mirror();
    let seq = 0;
    const tell = (type: string, properties: Record<string, unknown>, origin?: "reconciler") =>
      mirror.apply({ directory: DIR, payload: { type, properties }, seq: ++seq, origin });
    const question: MessageWithParts = {
      info: { id: "msg_0", sessionID: SID, role: "user", time: { created: 0 } },
      parts: [],
    };
    const finalAnswer: MessageWithParts = { ...answer, info: { ...answer.info, finish: "stop" } };
    tell("message.updated", { sessionID: SID, info: question.info });
    tell("message.updated", { sessionID: SID, info: finalAnswer.info });
    tell("message.part.updated", { sessionID: SID, part: finalAnswer.parts[0] });
    const state = () => mirror.instance(DIR);
    expect(carriedByStream(state(), readOf([question, finalAnswer], seq), 0).turns).toBe(0); // its end not yet told
    tell("session.idle", { sessionID: SID });
    expect(carriedByStream(state(), readOf([question, finalAnswer], seq), 0)).toEqual({
      changes: 3,
      turns: 1,
    });
    tell("message.part.updated", { sessionID: SID, part: finalAnswer.parts[0] }, "reconciler");
    tell("session.idle", { sessionID: SID });
    expect(carriedByStream(state(), readOf([question, finalAnswer], seq), 0).turns).toBe(0); // a correction helped
  });
});
