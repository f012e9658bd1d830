import { describe, expect, it } from "vitest";
import type { EventOrigin, EventPayload } from "../../src/hub/update.js";
import { Mirror } from "../../src/opencode/mirror.js";

const DIR = "/work/project";
let n = 0;
const ev = (type: string, properties: Record<string, unknown>) => ({ id: `evt_${++n}`, type, properties });

/** An update as the sink hands it to the mirror once the hub has numbered it. */
function apply(
  mirror: Mirror,
  directory: string,
  payload: EventPayload,
  seq: number,
  project?: string,
  origin?: EventOrigin,
) {
  mirror.apply({ directory, payload, seq, project, origin });
}

describe("Mirror", () => {
  it("follows sessions, their status, todos and diffs", () => {
    const mirror = new Mirror();
    const info = { id: "ses_1", time: { created: 1, updated: 2 } };
    apply(mirror, DIR, ev("session.created", { sessionID: "ses_1", info }), 1, "prj");
    apply(mirror, DIR, ev("session.status", { sessionID: "ses_1", status: { type: "busy" } }), 2);
    apply(mirror, DIR, ev("todo.updated", { sessionID: "ses_1", todos: [{ content: "x" }] }), 3);
    apply(mirror, DIR, ev("session.diff", { sessionID: "ses_1", diff: [{ file: "a" }] }), 4);
    const state = mirror.instance(DIR);
    expect(state.project).toBe("prj");
    expect(state.session("ses_1")).toEqual(info);
    expect(state.activeSessions()).toEqual(["ses_1"]);
    expect(state.todos.get("ses_1")?.value).toEqual([{ content: "x" }]);
    expect(state.diffs.get("ses_1")).toMatchObject({ value: [{ file: "a" }], seq: 4 });
    // session.idle ends the turn; the status clients were told stays theirs until a status says otherwise.
    apply(mirror, DIR, ev("session.idle", { sessionID: "ses_1" }), 5);
    expect(state.turnOpen("ses_1")).toBe(false);
    expect(state.activeSessions()).toEqual(["ses_1"]);
    apply(mirror, DIR, ev("session.status", { sessionID: "ses_1", status: { type: "idle" } }), 6);
    expect(state.activeSessions()).toEqual([]);
    apply(mirror, DIR, ev("session.deleted", { sessionID: "ses_1", info }), 7);
    expect(state.session("ses_1")).toBeUndefined();
    expect(state.sessions.get("ses_1")).toMatchObject({ value: undefined, seq: 7 });
  });

  it("follows messages and parts, text deltas included", () => {
    const mirror = new Mirror();
    const info = { id: "msg_1", sessionID: "ses_1", role: "assistant", time: { created: 10 } };
    const part = { id: "prt_1", messageID: "msg_1", sessionID: "ses_1", type: "text", text: "" };
    apply(mirror, DIR, ev("message.updated", { sessionID: "ses_1", info }), 1);
    apply(mirror, DIR, ev("message.part.updated", { sessionID: "ses_1", part, time: 1 }), 2);
    for (const [i, delta] of ["Hel", "lo"].entries()) {
      apply(
        mirror,
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
    expect(book?.messages.get("msg_1")?.parts.get("prt_1")).toMatchObject({
      value: { ...part, text: "Hello" },
      seq: 4,
    });
    apply(
      mirror,
      DIR,
      ev("message.part.removed", { sessionID: "ses_1", messageID: "msg_1", partID: "prt_1" }),
      5,
    );
    expect(book?.messages.get("msg_1")?.parts.get("prt_1")?.value).toBeUndefined();
    apply(mirror, DIR, ev("message.removed", { sessionID: "ses_1", messageID: "msg_1" }), 6);
    expect(book?.messages.get("msg_1")?.info).toMatchObject({ value: undefined, seq: 6 });
  });

  it("follows permissions and questions until they are answered", () => {
    const mirror = new Mirror();
    const request = { id: "per_1", sessionID: "ses_1", permission: "bash" };
    apply(mirror, DIR, ev("permission.asked", request), 1);
    apply(mirror, DIR, ev("question.asked", { id: "que_1", sessionID: "ses_1", questions: [] }), 2);
    const state = mirror.instance(DIR);
    expect(state.permissions.get("per_1")?.value).toEqual(request);
    apply(
      mirror,
      DIR,
      ev("permission.replied", { sessionID: "ses_1", requestID: "per_1", reply: "once" }),
      3,
    );
    apply(mirror, DIR, ev("question.rejected", { sessionID: "ses_1", requestID: "que_1" }), 4);
    expect(state.permissions.get("per_1")).toMatchObject({ value: undefined, seq: 3 });
    expect(state.questions.get("que_1")).toMatchObject({ value: undefined, seq: 4 });
  });

  it("keeps instances apart and ignores what it cannot use", () => {
    const mirror = new Mirror();
    apply(mirror, "/a", ev("session.status", { sessionID: "ses_1", status: { type: "busy" } }), 1);
    apply(
      mirror,
      "/b",
      ev("message.part.delta", { sessionID: "ses_9", messageID: "m", partID: "p", delta: "x" }),
      2,
    );
    apply(mirror, "/b", { type: "tui.toast.show" }, 3);
    apply(mirror, "/b", ev("session.updated", {}), 4);
    expect(mirror.instance("/a").activeSessions()).toEqual(["ses_1"]);
    expect(mirror.instance("/b").activeSessions()).toEqual([]);
    expect(mirror.instance("/b").sessions.size).toBe(0);
  });

  it("takes in history silently without overriding what events told it", () => {
    const mirror = new Mirror();
    const fresh = { id: "ses_1", time: { created: 1, updated: 5 }, title: "from the stream" };
    apply(mirror, DIR, ev("session.updated", { sessionID: "ses_1", info: fresh }), 1);
    const state = mirror.instance(DIR);
    expect(state.hasBaseline).toBe(false);
    mirror.takeInHistory(DIR, {
      sessions: [
        { id: "ses_1", time: { created: 1, updated: 3 } },
        { id: "ses_2", time: { created: 1, updated: 1 } },
      ],
      statuses: { ses_2: { type: "busy" } },
      messages: [
        {
          sessionID: "ses_2",
          messages: [
            { info: { id: "msg_1", sessionID: "ses_2", role: "user", time: { created: 7 } }, parts: [] },
          ],
        },
      ],
      project: "prj_history",
      baseline: true,
    });
    expect(state.session("ses_1")).toEqual(fresh);
    expect(state.session("ses_2")?.id).toBe("ses_2");
    expect(state.activeSessions()).toEqual(["ses_2"]);
    expect(state.messages.get("ses_2")?.messages.get("msg_1")?.info?.value?.id).toBe("msg_1");
    expect(state.project).toBe("prj_history");
    expect(state.hasBaseline).toBe(true);
  });

  it("marks what the reconciler set as corrected, and what the stream set not", () => {
    const mirror = new Mirror();
    const info = { id: "ses_1", time: { created: 1, updated: 2 } };
    apply(mirror, DIR, ev("session.updated", { sessionID: "ses_1", info }), 1, undefined, "reconciler");
    apply(
      mirror,
      DIR,
      ev("session.status", { sessionID: "ses_1", status: { type: "busy" } }),
      2,
      undefined,
      "stream",
    );
    const state = mirror.instance(DIR);
    expect(state.sessions.get("ses_1")?.corrected).toBe(true);
    expect(state.statuses.get("ses_1")?.corrected).toBeUndefined();
  });
});

describe("Mirror message books", () => {
  it("keeps the messages of the recently active sessions, never letting go of a busy one", () => {
    const mirror = new Mirror();
    let seq = 0;
    const say = (sessionID: string) =>
      apply(
        mirror,
        DIR,
        ev("message.updated", {
          sessionID,
          info: { id: `msg_${sessionID}`, sessionID, role: "user", time: { created: 1 } },
        }),
        ++seq,
      );
    apply(mirror, DIR, ev("session.status", { sessionID: "ses_busy", status: { type: "busy" } }), ++seq);
    say("ses_busy");
    for (let i = 0; i < 100; i++) say(`ses_${i}`);
    const books = mirror.instance(DIR).messages;
    expect(books.size).toBeLessThanOrEqual(64);
    expect(books.has("ses_busy")).toBe(true);
    expect(books.has("ses_99")).toBe(true);
    expect(books.has("ses_0")).toBe(false);
  });

  it("keeps how far the messages it let go went: read again, they are no news (issue 21, seed 7)", () => {
    const mirror = new Mirror();
    let seq = 0;
    const say = (sessionID: string, created: number) =>
      apply(
        mirror,
        DIR,
        ev("message.updated", {
          sessionID,
          info: { id: `msg_${sessionID}_${created}`, sessionID, role: "user", time: { created } },
        }),
        ++seq,
      );
    say("ses_old", 1_000);
    say("ses_old", 2_000);
    for (let i = 0; i < 64; i++) say(`ses_${i}`, 3_000 + i);
    const view = mirror.instance(DIR);
    expect(view.messages.has("ses_old")).toBe(false);
    expect(view.messagesLetGoUntil("ses_old")).toBe(2_000);
    expect(view.messagesLetGoUntil("ses_63")).toBe(0);
    apply(mirror, DIR, ev("session.deleted", { sessionID: "ses_old", info: { id: "ses_old" } }), ++seq);
    expect(view.messagesLetGoUntil("ses_old")).toBe(0);
  });
});
