import { describe, expect, it } from "vitest";
import { Mirror } from "../../src/hub/mirror.js";

const DIR = "/work/project";
let n = 0;
const ev = (type: string, properties: Record<string, unknown>) => ({ id: `evt_${++n}`, type, properties });

describe("Mirror", () => {
  it("follows sessions, their status, todos and diffs", () => {
    const mirror = new Mirror();
    const info = { id: "ses_1", time: { created: 1, updated: 2 } };
    mirror.apply(DIR, ev("session.created", { sessionID: "ses_1", info }), 1, "prj");
    mirror.apply(DIR, ev("session.status", { sessionID: "ses_1", status: { type: "busy" } }), 2);
    mirror.apply(DIR, ev("todo.updated", { sessionID: "ses_1", todos: [{ content: "x" }] }), 3);
    mirror.apply(DIR, ev("session.diff", { sessionID: "ses_1", diff: [{ file: "a" }] }), 4);
    const state = mirror.instance(DIR);
    expect(state.project).toBe("prj");
    expect(state.session("ses_1")).toEqual(info);
    expect(state.activeSessions()).toEqual(["ses_1"]);
    expect(state.todos.get("ses_1")?.value).toEqual([{ content: "x" }]);
    expect(state.diffs.get("ses_1")).toEqual({ value: [{ file: "a" }], seq: 4 });
    mirror.apply(DIR, ev("session.idle", { sessionID: "ses_1" }), 5);
    expect(state.activeSessions()).toEqual([]);
    mirror.apply(DIR, ev("session.deleted", { sessionID: "ses_1", info }), 6);
    expect(state.session("ses_1")).toBeUndefined();
    expect(state.sessions.get("ses_1")).toEqual({ value: undefined, seq: 6 });
  });

  it("follows messages and parts, text deltas included", () => {
    const mirror = new Mirror();
    const info = { id: "msg_1", sessionID: "ses_1", role: "assistant", time: { created: 10 } };
    const part = { id: "prt_1", messageID: "msg_1", sessionID: "ses_1", type: "text", text: "" };
    mirror.apply(DIR, ev("message.updated", { sessionID: "ses_1", info }), 1);
    mirror.apply(DIR, ev("message.part.updated", { sessionID: "ses_1", part, time: 1 }), 2);
    for (const [i, delta] of ["Hel", "lo"].entries()) {
      mirror.apply(
        DIR,
        ev("message.part.delta", {
          sessionID: "ses_1",
          messageID: "msg_1",
          partID: "prt_1",
          field: "text",
          delta,
        }),
        3 + i,
      );
    }
    const book = mirror.instance(DIR).messages.get("ses_1");
    expect(book?.historyUntil).toBe(9);
    expect(book?.messages.get("msg_1")?.parts.get("prt_1")).toEqual({
      value: { ...part, text: "Hello" },
      seq: 4,
    });
    mirror.apply(
      DIR,
      ev("message.part.removed", { sessionID: "ses_1", messageID: "msg_1", partID: "prt_1" }),
      5,
    );
    expect(book?.messages.get("msg_1")?.parts.get("prt_1")?.value).toBeUndefined();
    mirror.apply(DIR, ev("message.removed", { sessionID: "ses_1", messageID: "msg_1" }), 6);
    expect(book?.messages.get("msg_1")?.info).toEqual({ value: undefined, seq: 6 });
  });

  it("follows permissions and questions until they are answered", () => {
    const mirror = new Mirror();
    const request = { id: "per_1", sessionID: "ses_1", permission: "bash" };
    mirror.apply(DIR, ev("permission.asked", request), 1);
    mirror.apply(DIR, ev("question.asked", { id: "que_1", sessionID: "ses_1", questions: [] }), 2);
    const state = mirror.instance(DIR);
    expect(state.permissions.get("per_1")?.value).toEqual(request);
    mirror.apply(DIR, ev("permission.replied", { sessionID: "ses_1", requestID: "per_1", reply: "once" }), 3);
    mirror.apply(DIR, ev("question.rejected", { sessionID: "ses_1", requestID: "que_1" }), 4);
    expect(state.permissions.get("per_1")).toEqual({ value: undefined, seq: 3 });
    expect(state.questions.get("que_1")).toEqual({ value: undefined, seq: 4 });
  });

  it("keeps instances apart and ignores what it cannot use", () => {
    const mirror = new Mirror();
    mirror.apply("/a", ev("session.status", { sessionID: "ses_1", status: { type: "busy" } }), 1);
    mirror.apply(
      "/b",
      ev("message.part.delta", { sessionID: "ses_9", messageID: "m", partID: "p", delta: "x" }),
      2,
    );
    mirror.apply("/b", { type: "tui.toast.show" }, 3);
    mirror.apply("/b", ev("session.updated", {}), 4);
    expect(mirror.instance("/a").activeSessions()).toEqual(["ses_1"]);
    expect(mirror.instance("/b").activeSessions()).toEqual([]);
    expect(mirror.instance("/b").sessions.size).toBe(0);
  });

  it("adopts present state silently without overriding what events told it", () => {
    const mirror = new Mirror();
    const state = mirror.instance(DIR);
    const fresh = { id: "ses_1", time: { created: 1, updated: 5 }, title: "from the stream" };
    mirror.apply(DIR, ev("session.updated", { sessionID: "ses_1", info: fresh }), 1);
    state.adoptSessions(
      [
        { id: "ses_1", time: { created: 1, updated: 3 } },
        { id: "ses_2", time: { created: 1, updated: 1 } },
      ],
      2,
    );
    expect(state.session("ses_1")).toEqual(fresh);
    expect(state.session("ses_2")?.id).toBe("ses_2");
    state.adoptMessages(
      "ses_2",
      [{ info: { id: "msg_1", sessionID: "ses_2", role: "user", time: { created: 7 } }, parts: [] }],
      3,
    );
    expect(state.messages.get("ses_2")?.historyUntil).toBe(7);
    expect(state.newestSessionUpdate()).toBe(5);
  });
});

describe("Mirror message books", () => {
  it("keeps the messages of the recently active sessions, never letting go of a busy one", () => {
    const mirror = new Mirror();
    let seq = 0;
    const say = (sessionID: string) =>
      mirror.apply(
        DIR,
        ev("message.updated", {
          sessionID,
          info: { id: `msg_${sessionID}`, sessionID, role: "user", time: { created: 1 } },
        }),
        ++seq,
      );
    mirror.apply(DIR, ev("session.status", { sessionID: "ses_busy", status: { type: "busy" } }), ++seq);
    say("ses_busy");
    for (let i = 0; i < 100; i++) say(`ses_${i}`);
    const books = mirror.instance(DIR).messages;
    expect(books.size).toBeLessThanOrEqual(64);
    expect(books.has("ses_busy")).toBe(true);
    expect(books.has("ses_99")).toBe(true);
    expect(books.has("ses_0")).toBe(false);
  });
});
