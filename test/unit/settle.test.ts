import { describe, expect, it } from "vitest";
import type { Part, PendingRequest } from "../../src/opencode/state.js";
import { permissionReplied, questionSettled } from "../../src/sources/reconciler/settle.js";

const request: PendingRequest = {
  id: "per_1",
  sessionID: "ses_1",
  tool: { messageID: "msg_1", callID: "call_1" },
};
const tool = (state: Record<string, unknown>): Part => ({
  id: "prt_1",
  messageID: "msg_1",
  sessionID: "ses_1",
  type: "tool",
  callID: "call_1",
  state,
});

describe("settling answered requests", () => {
  it("waits while the tool call is still running and the session busy", () => {
    expect(permissionReplied(request, tool({ status: "running" }), false)).toBeUndefined();
    expect(questionSettled(request, undefined, false)).toBeUndefined();
  });

  it("tells a granted permission from a refused one by how the tool ended", () => {
    expect(permissionReplied(request, tool({ status: "completed" }), false)?.properties).toEqual({
      sessionID: "ses_1",
      requestID: "per_1",
      reply: "once",
    });
    const refused = tool({
      status: "error",
      error: "The user rejected permission to use this specific tool call.",
    });
    expect(permissionReplied(request, refused, false)?.properties).toMatchObject({ reply: "reject" });
  });

  it("gives a question's answers from the tool, or says it was dismissed", () => {
    const answered = questionSettled(
      request,
      tool({ status: "completed", metadata: { answers: [["Blue"]] } }),
      false,
    );
    expect(answered?.type).toBe("question.replied");
    expect(answered?.properties).toEqual({ sessionID: "ses_1", requestID: "per_1", answers: [["Blue"]] });
    const dismissed = questionSettled(
      request,
      tool({ status: "error", error: "The user dismissed this question" }),
      false,
    );
    expect(dismissed?.type).toBe("question.rejected");
    expect(dismissed?.properties).toEqual({ sessionID: "ses_1", requestID: "per_1" });
  });

  it("settles with what it knows once the session has gone idle", () => {
    expect(permissionReplied(request, undefined, true)?.properties).toMatchObject({ reply: "once" });
    expect(questionSettled(request, tool({ status: "running" }), true)?.properties).toMatchObject({
      answers: [],
    });
  });
});
