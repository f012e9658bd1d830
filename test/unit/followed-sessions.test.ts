import { describe, expect, it } from "vitest";
import { followedSessions, MAX_FOLLOWED_SESSIONS } from "../../src/routes/followed-sessions.js";
import { namesEventStream } from "../../src/routes/session-event.js";

describe("followedSessions: what ?session= asks for", () => {
  it("is nothing to filter without the parameter; the IDs, once each, repeated or comma-separated", () => {
    expect(followedSessions(undefined)).toEqual({ ok: true, ids: undefined });
    expect(followedSessions("ses_a")).toEqual({ ok: true, ids: ["ses_a"] });
    expect(followedSessions(["ses_a,ses_b", " ses_c ", "ses_a,"])).toEqual({
      ok: true,
      ids: ["ses_a", "ses_b", "ses_c"],
    });
  });

  it("says what is wrong: no ID, not an ID, too many", () => {
    expect(followedSessions("")).toEqual({ ok: false, problem: "session names no session" });
    expect(followedSessions("ses_a,msg_b")).toEqual({ ok: false, problem: '"msg_b" is not a session ID' });
    expect(followedSessions("ses_a/../b")).toMatchObject({ ok: false });
    expect(followedSessions(`ses_${"x".repeat(200)}`)).toMatchObject({ ok: false });
    const many = Array.from({ length: MAX_FOLLOWED_SESSIONS + 1 }, (_, n) => `ses_${n}`).join(",");
    expect(followedSessions(many)).toEqual({
      ok: false,
      problem: `a stream follows at most ${MAX_FOLLOWED_SESSIONS} sessions`,
    });
  });
});

describe("namesEventStream: an Accept that asks for an event stream itself", () => {
  it.each([
    ["text/event-stream", true],
    ["Text/Event-Stream; charset=utf-8", true],
    ["application/json, text/event-stream;q=0.5", true],
    ["text/event-stream;q=0", false],
    ["text/event-stream; q=0.000", false],
    ["*/*", false],
    ["text/*", false],
    ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false],
    [undefined, false],
  ])("%s → %s", (accept, expected) => {
    expect(namesEventStream(accept)).toBe(expected);
  });
});
