import { describe, expect, it } from "vitest";
import {
  clock,
  explainRefusal,
  explainUnreachable,
  kindOf,
  matches,
  pageQuery,
  pauseNote,
  quote,
  readHealth,
  SESSION_ID,
  sessionOf,
  sessionToFollow,
  statusLine,
  streamLabel,
  streamUrl,
  summarize,
  toRecord,
  truncate,
  withAuth,
  withResume,
} from "../../public/shim/format.js";
import { EventStore, MAX_HELD, MAX_PARENTS, MAX_ROWS, MAX_SESSIONS } from "../../public/shim/store.js";

/** The live view's reading of one `/event` frame carrying `event`. */
const read = (event: unknown, lastEventId = "") =>
  toRecord(JSON.stringify(event), lastEventId, { global: false, time: new Date(2025, 0, 2, 3, 4, 5, 6) });

/** The summary the list shows for an event of `type` with `properties`. */
const line = (type: string, properties: unknown) => read({ type, properties }).summary;

describe("the live view's summary of each kind of event", () => {
  it("message.part.delta: the field and the text added, quoted", () => {
    expect(line("message.part.delta", { sessionID: "ses_1", field: "text", delta: 'say "hi"\n' })).toBe(
      'text += "say \\"hi\\"\\n"',
    );
    expect(line("message.part.delta", { sessionID: "ses_1" })).toBe('text += ""');
  });

  it("message.part.updated: the part's kind and what it says", () => {
    expect(line("message.part.updated", { part: { type: "text", text: "Hello" } })).toBe('text "Hello"');
    expect(line("message.part.updated", { part: { type: "reasoning", text: "hmm" } })).toBe(
      'reasoning "hmm"',
    );
    expect(
      line("message.part.updated", {
        part: { type: "tool", tool: "bash", state: { status: "completed", title: "List files" } },
      }),
    ).toBe("tool bash completed — List files");
    expect(line("message.part.updated", { part: { type: "tool", state: "?" } })).toBe("tool ? ");
    expect(line("message.part.updated", { part: { type: "step-finish", reason: "stop" } })).toBe(
      "step-finish (stop)",
    );
    expect(line("message.part.updated", { part: { type: "step-finish" } })).toBe("step-finish");
    expect(line("message.part.updated", { part: { type: "file", filename: "notes.md" } })).toBe(
      "file notes.md",
    );
    expect(line("message.part.updated", { part: { type: "file", url: "file:///a" } })).toBe("file file:///a");
    expect(line("message.part.updated", { part: { type: "step-start" } })).toBe("step-start");
    expect(line("message.part.updated", { part: {} })).toBe("part");
    expect(line("message.part.updated", { part: "nonsense" })).toBe("");
  });

  it("a long text is cut to 100 characters, ending in …", () => {
    const summary = line("message.part.updated", { part: { type: "text", text: "x".repeat(500) } });
    expect(summary).toBe(`text "${"x".repeat(99)}…"`);
  });

  it("message.updated: role, id, whether it completed, how it finished, its error", () => {
    expect(line("message.updated", { info: { role: "user", id: "msg_1" } })).toBe("user msg_1");
    expect(
      line("message.updated", {
        info: { role: "assistant", id: "msg_2", time: { created: 1, completed: 2 }, finish: "stop" },
      }),
    ).toBe("assistant msg_2 completed finish: stop");
    expect(
      line("message.updated", { info: { role: "assistant", id: "msg_3", error: { name: "APIError" } } }),
    ).toBe("assistant msg_3 error: APIError");
    expect(line("message.updated", {})).toBe("");
  });

  it("removals name what was removed", () => {
    expect(line("message.part.removed", { partID: "prt_1" })).toBe("part prt_1 removed");
    expect(line("message.removed", { messageID: "msg_1" })).toBe("message msg_1 removed");
  });

  it("session.created/updated/deleted: the session's title, quoted", () => {
    for (const type of ["session.created", "session.updated", "session.deleted"]) {
      expect(line(type, { info: { id: "ses_1", title: "Fix the build" } }), type).toBe('"Fix the build"');
    }
    expect(line("session.updated", { info: { id: "ses_1", title: "t".repeat(200) } })).toBe(
      `"${"t".repeat(79)}…"`,
    );
    expect(line("session.updated", {})).toBe("");
  });

  it("session.status: the status, and a retry's attempt and message", () => {
    expect(line("session.status", { sessionID: "ses_1", status: { type: "busy" } })).toBe("busy");
    expect(
      line("session.status", { status: { type: "retry", attempt: 2, message: "rate limited", next: 1 } }),
    ).toBe("retry #2 — rate limited");
    expect(line("session.status", { status: { type: "retry" } })).toBe("retry #?");
    expect(line("session.status", {})).toBe("");
  });

  it("session.idle, session.diff, session.error", () => {
    expect(line("session.idle", { sessionID: "ses_1" })).toBe("idle");
    expect(line("session.diff", { diff: [{ file: "a" }, { file: "b" }] })).toBe("2 file(s) changed");
    expect(line("session.diff", { diff: "?" })).toBe("0 file(s) changed");
    expect(
      line("session.error", { error: { name: "APIError", data: { message: "the model is down" } } }),
    ).toBe("APIError: the model is down");
    expect(line("session.error", { error: { data: {} } })).toBe("error");
    expect(line("session.error", { sessionID: "ses_1" })).toBe('{"sessionID":"ses_1"}');
  });

  it("permissions and questions: what is asked, and the reply", () => {
    expect(line("permission.asked", { permission: "bash", patterns: ["git push", "git pull"] })).toBe(
      "bash git push, git pull",
    );
    expect(line("permission.asked", { type: "edit" })).toBe("edit ");
    expect(line("permission.replied", { reply: "once" })).toBe("reply: once");
    expect(line("permission.replied", { response: "always" })).toBe("reply: always");
    expect(line("question.asked", { questions: [{ question: "Which branch?", header: "Branch" }] })).toBe(
      '"Which branch?"',
    );
    expect(line("question.asked", { questions: [{ header: "Branch" }] })).toBe('"Branch"');
    expect(line("question.asked", { questions: [] })).toBe('{"questions":[]}');
  });

  it("todo.updated: how many, how many done", () => {
    const todos = [{ status: "completed" }, { status: "pending" }, { status: "completed" }, "junk"];
    expect(line("todo.updated", { todos })).toBe("4 todo(s), 2 done");
    expect(line("todo.updated", {})).toBe("0 todo(s), 0 done");
  });

  it("server events", () => {
    expect(line("server.connected", {})).toBe("stream open");
    expect(line("server.heartbeat", {})).toBe("");
    expect(line("server.instance.disposed", { directory: "/work/app" })).toBe("instance /work/app disposed");
  });

  it("any other event: its properties as short JSON, nothing for none", () => {
    expect(line("lsp.updated", { a: 1 })).toBe('{"a":1}');
    expect(line("lsp.updated", {})).toBe("");
    expect(summarize("lsp.updated", undefined)).toBe("");
    expect(summarize("lsp.updated", "text")).toBe('"text"');
    expect(line("file.edited", { file: "y".repeat(300) })).toHaveLength(160);
  });
});

describe("the live view's reading of a frame", () => {
  it("reads an /event frame: type, session, summary, id, and the event itself", () => {
    const event = { id: "evt_1", type: "session.idle", properties: { sessionID: "ses_1" } };
    expect(read(event, "abc-7")).toEqual({
      time: new Date(2025, 0, 2, 3, 4, 5, 6),
      type: "session.idle",
      session: "ses_1",
      sessionTitle: undefined,
      sessionParent: undefined,
      directory: undefined,
      summary: "idle",
      lastEventId: "abc-7",
      value: event,
    });
    // Without an SSE id, the event's own id.
    expect(read(event).lastEventId).toBe("evt_1");
    expect(read({ type: "session.idle", properties: {} }).lastEventId).toBe("");
  });

  it("takes a session's title from session.created and session.updated only", () => {
    const info = { id: "ses_1", title: "Fix the build" };
    expect(read({ type: "session.created", properties: { info } }).sessionTitle).toBe("Fix the build");
    expect(read({ type: "session.updated", properties: { info: { id: "ses_1" } } }).sessionTitle).toBe("");
    expect(read({ type: "session.deleted", properties: { info } }).sessionTitle).toBeUndefined();
    expect(read({ type: "session.idle", properties: { sessionID: "ses_1" } }).sessionTitle).toBeUndefined();
  });

  it("takes a subagent session's parent from session.created and session.updated", () => {
    const info = { id: "ses_child", parentID: "ses_parent", title: "Look around" };
    expect(read({ type: "session.created", properties: { info } }).sessionParent).toBe("ses_parent");
    expect(read({ type: "session.updated", properties: { info } }).sessionParent).toBe("ses_parent");
    expect(
      read({ type: "session.created", properties: { info: { id: "ses_top" } } }).sessionParent,
    ).toBeUndefined();
    expect(
      read({ type: "session.created", properties: { info: { id: "ses_top", parentID: "" } } }).sessionParent,
    ).toBeUndefined();
    expect(
      read({ type: "message.updated", properties: { info: { sessionID: "ses_child", parentID: "msg_1" } } })
        .sessionParent,
    ).toBeUndefined();
  });

  it("unwraps a /global/event frame, keeping its directory", () => {
    const frame = {
      directory: "/work/app",
      project: "prj_1",
      payload: { type: "message.part.delta", properties: { sessionID: "ses_9", field: "text", delta: "Hi" } },
    };
    const record = toRecord(JSON.stringify(frame), "", { global: true });
    expect(record).toMatchObject({
      type: "message.part.delta",
      session: "ses_9",
      directory: "/work/app",
      summary: 'text += "Hi"',
      value: frame,
    });
    expect(record.time).toBeInstanceOf(Date);
    // The same frame read as one directory's event has no type of its own.
    expect(toRecord(JSON.stringify(frame), "", { global: false }).type).toBe("(no type)");
    // A global frame without a payload.
    expect(toRecord('{"directory":"/x"}', "", { global: true })).toMatchObject({
      type: "(no type)",
      directory: "/x",
    });
  });

  it("shows a sync wrapper as `sync`, with its inner event and sequence", () => {
    const record = read({
      type: "sync",
      syncEvent: { type: "message.updated.1", seq: 7, data: { sessionID: "ses_2" } },
    });
    expect(record).toMatchObject({ type: "sync", session: "ses_2", summary: "message.updated.1 seq 7" });
    expect(read({ type: "sync", syncEvent: {} }).summary).toBe("? seq ?");
  });

  it("shows what is not JSON as it came, cut to 160 characters", () => {
    const garbage = `not json ${"z".repeat(300)}`;
    const record = toRecord(garbage, "", { global: false });
    expect(record.type).toBe("(not JSON)");
    expect(record.summary).toHaveLength(160);
    expect(record.summary.endsWith("…")).toBe(true);
    expect(record.value).toBe(garbage);
    expect(record.session).toBeUndefined();
    expect(toRecord("", "", { global: false })).toMatchObject({ type: "(not JSON)", summary: "", value: "" });
    // JSON, but not an event: null shows as its text, a number or a list as itself.
    expect(toRecord("null", "", { global: false })).toMatchObject({ type: "(not JSON)", value: "null" });
    expect(toRecord("[1,2]", "", { global: false })).toMatchObject({ type: "(not JSON)", value: [1, 2] });
  });

  it("copes with an event whose parts are of the wrong kind", () => {
    expect(read({ type: 42, properties: { sessionID: "ses_1" } })).toMatchObject({
      type: "(no type)",
      session: "ses_1",
    });
    expect(read({ type: "session.updated", properties: "odd" })).toMatchObject({
      session: undefined,
      sessionTitle: undefined,
      summary: '"odd"',
    });
    expect(read({ type: "message.updated", properties: { info: [] } }).summary).toBe("");
  });
});

describe("sessionOf", () => {
  it("finds the session an event is about", () => {
    expect(sessionOf("session.idle", { sessionID: "ses_1" })).toBe("ses_1");
    expect(sessionOf("message.updated", { info: { id: "msg_1", sessionID: "ses_2" } })).toBe("ses_2");
    expect(sessionOf("message.part.updated", { part: { id: "prt_1", sessionID: "ses_3" } })).toBe("ses_3");
    expect(sessionOf("session.created", { info: { id: "ses_4" } })).toBe("ses_4");
    // sessionID wins over the rest.
    expect(sessionOf("session.updated", { sessionID: "ses_5", info: { id: "ses_6" } })).toBe("ses_5");
  });

  it("finds none where there is none", () => {
    // Only a session.* event's info is the session itself.
    expect(sessionOf("message.updated", { info: { id: "msg_1" } })).toBeUndefined();
    expect(sessionOf("session.idle", { sessionID: "" })).toBeUndefined();
    expect(sessionOf("session.idle", { sessionID: 42 })).toBeUndefined();
    expect(sessionOf("session.idle", undefined)).toBeUndefined();
    expect(sessionOf("session.idle", ["ses_1"])).toBeUndefined();
    expect(sessionOf("session.created", { info: "ses_1" })).toBeUndefined();
  });
});

describe("truncate, quote, clock, kindOf", () => {
  it("truncate keeps short text and cuts long text to `length` characters, the last one …", () => {
    expect(truncate("hello", 5)).toBe("hello");
    expect(truncate("hello!", 5)).toBe("hell…");
    expect(truncate("hello!", 5)).toHaveLength(5);
    expect(truncate(12345, 3)).toBe("12…");
    expect(truncate(undefined, 20)).toBe("undefined");
  });

  it("quote writes text as a JSON string, cut to 100 characters by default", () => {
    expect(quote("a\tb")).toBe('"a\\tb"');
    expect(quote(null)).toBe('""');
    expect(quote("q".repeat(150))).toBe(`"${"q".repeat(99)}…"`);
    expect(quote("abcdef", 4)).toBe('"abc…"');
  });

  it("clock is the local time of day, to the millisecond", () => {
    expect(clock(new Date(2025, 0, 2, 3, 4, 5, 6))).toBe("03:04:05.006");
    expect(clock(new Date(2025, 11, 31, 23, 59, 59, 999))).toBe("23:59:59.999");
  });

  it("kindOf is an event type's family, safe in a class name", () => {
    expect(kindOf("session.idle")).toBe("session");
    expect(kindOf("message.part.delta")).toBe("message");
    expect(kindOf("server.heartbeat")).toBe("server");
    expect(kindOf("(not JSON)")).toBe("not");
    expect(kindOf("")).toBe("");
  });
});

describe("the list's filter", () => {
  const idle = read({ type: "session.idle", properties: { sessionID: "ses_abc" } });
  const heartbeat = read({ type: "server.heartbeat", properties: {} });
  const all = { type: "", session: "", heartbeats: false };

  it("hides heartbeats unless asked for", () => {
    expect(matches(idle, all)).toBe(true);
    expect(matches(heartbeat, all)).toBe(false);
    expect(matches(heartbeat, { ...all, heartbeats: true })).toBe(true);
  });

  it("keeps the types and sessions that contain what is typed", () => {
    expect(matches(idle, { ...all, type: "session." })).toBe(true);
    expect(matches(idle, { ...all, type: " session.idle " })).toBe(true);
    expect(matches(idle, { ...all, type: "message" })).toBe(false);
    expect(matches(idle, { ...all, session: "abc" })).toBe(true);
    expect(matches(idle, { ...all, session: "ses_x" })).toBe(false);
    expect(matches(heartbeat, { ...all, heartbeats: true, session: "ses" })).toBe(false);
  });
});

describe("the session the stream follows on the shim", () => {
  const id = "ses_1d2c3b4a5f6eAbCdEfGhIjKlMn";
  const seen = new Set([id]);
  const none = new Set<string>();

  it("a whole session id looks like one", () => {
    expect(SESSION_ID.test(id)).toBe(true);
    for (const value of [
      "ses_",
      "ses_1d2c3b4a5",
      "ses_1d2c 3b4a5f6e",
      "msg_1d2c3b4a5f6e",
      ` ${id}`,
      `${id}-`,
    ]) {
      expect(SESSION_ID.test(value), value).toBe(false);
    }
  });

  it("follows a whole id on an instance's stream: one seen, or one entered", () => {
    expect(sessionToFollow("instance", id, { known: seen, entered: false })).toBe(id);
    expect(sessionToFollow("instance", ` ${id} `, { known: seen, entered: false })).toBe(id);
    expect(sessionToFollow("instance", id, { known: none, entered: true })).toBe(id);
  });

  it("does not follow a part of an id still being typed, nor on the whole server's stream", () => {
    // An id the page has not seen, typed up to a pause, may be a prefix of one.
    expect(sessionToFollow("instance", id, { known: none, entered: false })).toBe("");
    expect(sessionToFollow("instance", id.slice(0, 12), { known: seen, entered: true })).toBe("");
    expect(sessionToFollow("instance", "", { known: seen, entered: true })).toBe("");
    expect(sessionToFollow("instance", "hello", { known: seen, entered: true })).toBe("");
    expect(sessionToFollow("global", id, { known: seen, entered: true })).toBe("");
  });
});

describe("the URLs the live view asks", () => {
  it("withAuth carries the page's auth_token on, encoded", () => {
    expect(withAuth("health", null)).toBe("health");
    expect(withAuth("health", "")).toBe("health");
    expect(withAuth("health", "b3A6cw==")).toBe("health?auth_token=b3A6cw%3D%3D");
    expect(withAuth("../event?directory=%2Fx", "a+b")).toBe("../event?directory=%2Fx&auth_token=a%2Bb");
  });

  it("streamUrl names the stream followed, relative to /shim/", () => {
    expect(streamUrl("instance", "", null)).toBe("../event");
    expect(streamUrl("instance", "/work/my app", null)).toBe("../event?directory=%2Fwork%2Fmy%20app");
    expect(streamUrl("instance", "/w", "tok")).toBe("../event?directory=%2Fw&auth_token=tok");
    expect(streamUrl("global", "/ignored", null)).toBe("../global/event");
    expect(streamUrl("global", "", "tok")).toBe("../global/event?auth_token=tok");
  });

  it("streamUrl names the session followed on an instance's stream, never on the whole server's", () => {
    expect(streamUrl("instance", "", null, "ses_abc")).toBe("../event?session=ses_abc");
    expect(streamUrl("instance", "/w", "tok", "ses_abc")).toBe(
      "../event?directory=%2Fw&session=ses_abc&auth_token=tok",
    );
    expect(streamUrl("instance", "/w", null, "")).toBe("../event?directory=%2Fw");
    expect(streamUrl("global", "", null, "ses_abc")).toBe("../global/event");
  });

  it("withResume asks the stream to resume after an event, or nothing", () => {
    expect(withResume("../event", "")).toBe("../event");
    expect(withResume("../event", "k3j2-57")).toBe("../event?lastEventID=k3j2-57");
    expect(withResume("../event?session=ses_a&auth_token=t", "k3j2-57")).toBe(
      "../event?session=ses_a&auth_token=t&lastEventID=k3j2-57",
    );
  });

  it("streamLabel names it on the status line", () => {
    expect(streamLabel("instance", "")).toBe("/event (opencode's own directory)");
    expect(streamLabel("instance", "/work/app")).toBe("/event?directory=/work/app");
    expect(streamLabel("global", "/work/app")).toBe("/global/event");
    expect(streamLabel("instance", "", "ses_abc")).toBe(
      "/event (opencode's own directory), session ses_abc and its subagents",
    );
    expect(streamLabel("instance", "/work/app", "ses_abc")).toBe(
      "/event?directory=/work/app, session ses_abc and its subagents",
    );
    expect(streamLabel("global", "", "ses_abc")).toBe("/global/event");
  });

  it("pageQuery is the page's own query, so its URL follows the same stream again", () => {
    expect(pageQuery("instance", "", null)).toBe("");
    expect(pageQuery("instance", "/work/app", null)).toBe("?directory=%2Fwork%2Fapp");
    expect(pageQuery("global", "/work/app", null)).toBe("?source=global");
    expect(pageQuery("global", "", "a b")).toBe("?source=global&auth_token=a+b");
    expect(pageQuery("instance", "", null, "ses_abc")).toBe("?session=ses_abc");
    expect(pageQuery("instance", "/w", "t", "ses_abc")).toBe("?directory=%2Fw&session=ses_abc&auth_token=t");
    expect(pageQuery("global", "/w", null, "ses_abc")).toBe("?source=global");
  });
});

describe("the status line", () => {
  const base = {
    phase: "connected" as const,
    label: "/event (opencode's own directory)",
    problem: "",
    total: 0,
    lastEventId: "",
    lastHeartbeat: undefined,
    health: "ok" as const,
    healthReason: "",
  };

  it("says the stream's state and how many events came", () => {
    expect(statusLine(base)).toBe("connected to /event (opencode's own directory) · 0 events");
    expect(statusLine({ ...base, phase: "connecting", total: 1 })).toBe(
      "connecting to /event (opencode's own directory) · 1 event",
    );
    expect(
      statusLine({
        ...base,
        phase: "reconnecting",
        total: 12,
        lastEventId: "abc-12",
        lastHeartbeat: new Date(2025, 0, 2, 13, 14, 15, 16),
      }),
    ).toBe(
      "reconnecting to /event (opencode's own directory) · 12 events · last event id abc-12 · last heartbeat 13:14:15.016",
    );
  });

  it("says why a stream cannot be opened", () => {
    expect(statusLine({ ...base, phase: "failed", label: "/global/event", problem: "retrying in 2 s" })).toBe(
      "cannot open /global/event · retrying in 2 s · 0 events",
    );
  });

  it("adds the shim's health when degraded or unavailable, and nothing when ok or unknown", () => {
    expect(statusLine({ ...base, health: "degraded", healthReason: "the stream is lying" })).toBe(
      "connected to /event (opencode's own directory) · 0 events · shim degraded: the stream is lying",
    );
    expect(statusLine({ ...base, health: "unavailable" })).toMatch(/ · shim unavailable$/);
    expect(statusLine({ ...base, health: "unknown", healthReason: "ignored" })).not.toMatch(/shim/);
  });
});

describe("the pause note", () => {
  const none = { paused: false, mode: "hold" as const, held: 0, heldOverflow: 0, dropped: 0, maxHeld: 2000 };

  it("says nothing when not paused and nothing was lost", () => {
    expect(pauseNote(none)).toBeUndefined();
  });

  it("counts what is held back", () => {
    expect(pauseNote({ ...none, paused: true, held: 1 })).toBe(
      "Paused: 1 new event held back; they appear when you resume.",
    );
    expect(pauseNote({ ...none, paused: true, held: 2000, heldOverflow: 3 })).toBe(
      "Paused: 2000 new events held back (3 older ones dropped: at most 2000 are held); they appear when you resume.",
    );
    expect(pauseNote({ ...none, paused: true, held: 4, dropped: 2 })).toBe(
      "Paused: 4 new events held back; they appear when you resume. 2 dropped.",
    );
  });

  it("counts what is dropped, and what was held from before", () => {
    expect(pauseNote({ ...none, paused: true, mode: "drop", dropped: 7 })).toBe(
      "Paused: new events are dropped — 7 so far. They are counted above but never shown.",
    );
    expect(pauseNote({ ...none, paused: true, mode: "drop", dropped: 7, held: 3 })).toBe(
      "Paused: new events are dropped — 7 so far. They are counted above but never shown. 3 held from before will show on resume.",
    );
  });

  it("after resuming, says how many were dropped", () => {
    expect(pauseNote({ ...none, dropped: 5, heldOverflow: 2 })).toBe(
      "7 event(s) were dropped while paused (counted above, not shown).",
    );
  });
});

describe("why a stream was refused, and the shim's health", () => {
  it("explains a 401 with the way in", () => {
    expect(explainRefusal(401, "text/plain", "")).toBe(
      "HTTP 401: not authorized — opencode needs its credentials (open this page with them, or with ?auth_token=)",
    );
  });

  it("gives an error's status and message", () => {
    expect(explainRefusal(400, "application/json", '{"message":"directory is not absolute"}')).toBe(
      "HTTP 400: directory is not absolute",
    );
    expect(explainRefusal(502, "application/json", '{"error":"Bad Gateway"}')).toBe("HTTP 502: Bad Gateway");
    expect(explainRefusal(503, "text/plain", "")).toBe("HTTP 503");
    expect(explainRefusal(500, "text/html", "<h1>oops</h1>")).toBe("HTTP 500: <h1>oops</h1>");
    expect(explainRefusal(500, "text/plain", "e".repeat(1000))).toHaveLength("HTTP 500: ".length + 300);
  });

  it("reads the message of a JSON answer however long the answer, as the shim's 404 for an unknown session", () => {
    const message = "opencode knows no session ses_0123456789abZZZZZZZZZZZZZZ in /work/app";
    const body = JSON.stringify({ error: "not_found", message, details: "x".repeat(500) });
    expect(explainRefusal(404, "application/json", body)).toBe(`HTTP 404: ${message}`);
    const long = JSON.stringify({ error: "not_found", message: "m".repeat(1000) });
    expect(explainRefusal(404, "application/json", long)).toBe(`HTTP 404: ${"m".repeat(299)}…`);
  });

  it("says when an answer was fine but not an event stream", () => {
    expect(explainRefusal(200, "text/html", "<!doctype html>")).toBe(
      "HTTP 200 (text/html, not an event stream): <!doctype html>",
    );
    expect(explainRefusal(204, "", "")).toBe("HTTP 204 (no content type, not an event stream)");
  });

  it("says when the shim cannot be reached", () => {
    expect(explainUnreachable(new TypeError("Failed to fetch"))).toBe(
      "the shim cannot be reached (Failed to fetch)",
    );
    expect(explainUnreachable("down")).toBe("the shim cannot be reached (down)");
  });

  it("reads the shim's health, and anything else as unknown", () => {
    expect(readHealth({ status: "ok", upstream: {} })).toEqual({ health: "ok", reason: "" });
    expect(readHealth({ status: "degraded", reason: "lying" })).toEqual({
      health: "degraded",
      reason: "lying",
    });
    expect(readHealth({ status: "unavailable", reason: "r".repeat(400) }).reason).toHaveLength(300);
    expect(readHealth({ status: "degraded", reason: 42 })).toEqual({ health: "degraded", reason: "" });
    for (const body of [{ status: "fine" }, {}, "Unauthorized", null, undefined, ["ok"]]) {
      expect(readHealth(body), JSON.stringify(body)).toEqual({ health: "unknown", reason: "" });
    }
  });
});

describe("the events the live view keeps", () => {
  const event = (type: string, session?: string, title?: string) =>
    read({
      type,
      properties:
        title !== undefined ? { info: { id: session, title } } : session ? { sessionID: session } : {},
    });

  it("counts each type, and keeps the events to draw", () => {
    const store = new EventStore();
    store.receive(event("server.connected"), "hold");
    store.receive(event("session.idle", "ses_1"), "hold");
    store.receive(event("session.idle", "ses_2"), "hold");
    expect(store.total).toBe(3);
    expect([...store.counts]).toEqual([
      ["server.connected", 1],
      ["session.idle", 2],
    ]);
    expect(store.types()).toEqual(["server.connected", "session.idle"]);
    const { fresh, forgotten } = store.takeChanges();
    expect(fresh.map((record) => record.type)).toEqual(["server.connected", "session.idle", "session.idle"]);
    expect(forgotten).toEqual([]);
    expect(store.takeChanges()).toEqual({ fresh: [], forgotten: [] });
  });

  it("marks a new type, not a new count of a known one", () => {
    const store = new EventStore();
    store.receive(event("session.idle"), "hold");
    const version = store.typesVersion;
    store.receive(event("session.idle"), "hold");
    expect(store.typesVersion).toBe(version);
    store.receive(event("message.updated"), "hold");
    expect(store.typesVersion).toBeGreaterThan(version);
    expect(store.types()).toEqual(["message.updated", "session.idle"]);
  });

  it(`keeps the newest ${MAX_ROWS}, forgetting the oldest`, () => {
    const store = new EventStore();
    const records = Array.from({ length: MAX_ROWS + 5 }, (_, i) => event(`t.${i}`));
    for (const record of records) store.receive(record, "hold");
    expect(store.records).toHaveLength(MAX_ROWS);
    expect(store.records[0]).toBe(records[5]);
    expect(store.takeChanges().forgotten).toEqual(records.slice(0, 5));
    expect(store.total).toBe(MAX_ROWS + 5);
  });

  it("holds events back while paused, and keeps them on resume", () => {
    const store = new EventStore();
    store.setPaused(true);
    store.receive(event("session.idle", "ses_1"), "hold");
    store.receive(event("session.idle", "ses_1"), "hold");
    expect(store.held).toHaveLength(2);
    expect(store.records).toEqual([]);
    expect(store.counts.get("session.idle")).toBe(2);
    store.setPaused(false);
    expect(store.held).toEqual([]);
    expect(store.records).toHaveLength(2);
    expect(store.takeChanges().fresh).toHaveLength(2);
  });

  it(`holds at most ${MAX_HELD}, counting the older ones dropped`, () => {
    const store = new EventStore();
    store.setPaused(true);
    for (let i = 0; i < MAX_HELD + 3; i++) store.receive(event("session.idle"), "hold");
    expect(store.held).toHaveLength(MAX_HELD);
    expect(store.heldOverflow).toBe(3);
  });

  it("drops events in drop mode: counted, never kept", () => {
    const store = new EventStore();
    store.setPaused(true);
    store.receive(event("session.idle"), "drop");
    store.receive(event("session.idle"), "drop");
    expect(store.dropped).toBe(2);
    expect(store.counts.get("session.idle")).toBe(2);
    store.setPaused(false);
    expect(store.records).toEqual([]);
    expect(store.dropped).toBe(2);
    // A new pause counts afresh.
    store.setPaused(true);
    expect(store.dropped).toBe(0);
  });

  it("remembers sessions with their titles, the latest seen last", () => {
    const store = new EventStore();
    store.receive(event("session.created", "ses_1", "First"), "hold");
    store.receive(event("session.idle", "ses_2"), "hold");
    const version = store.sessionsVersion;
    // Seen again without news: nothing changes.
    store.receive(event("session.idle", "ses_1"), "hold");
    expect(store.sessionsVersion).toBe(version);
    expect([...store.sessions]).toEqual([
      ["ses_1", "First"],
      ["ses_2", ""],
    ]);
    // A new title makes it the latest.
    store.receive(event("session.updated", "ses_1", "Renamed"), "hold");
    expect([...store.sessions]).toEqual([
      ["ses_2", ""],
      ["ses_1", "Renamed"],
    ]);
    expect(store.sessionsVersion).toBeGreaterThan(version);
  });

  it(`remembers at most ${MAX_SESSIONS} sessions, forgetting the oldest`, () => {
    const store = new EventStore();
    for (let i = 0; i < MAX_SESSIONS + 2; i++) store.receive(event("session.idle", `ses_${i}`), "hold");
    expect(store.sessions.size).toBe(MAX_SESSIONS);
    expect(store.sessions.has("ses_0")).toBe(false);
    expect(store.sessions.has("ses_1")).toBe(false);
    expect(store.sessions.has(`ses_${MAX_SESSIONS + 1}`)).toBe(true);
  });

  /** A session.created of `id`, a subagent of `parent`. */
  const created = (id: string, parent: string) =>
    read({ type: "session.created", properties: { info: { id, parentID: parent, title: "" } } });

  it("knows a session's subagents, and theirs, from their session.created", () => {
    const store = new EventStore();
    store.receive(created("ses_child", "ses_top"), "hold");
    store.receive(created("ses_grandchild", "ses_child"), "hold");
    store.receive(event("session.idle", "ses_other"), "hold");
    expect(store.isWithin("ses_top", "ses_top")).toBe(true);
    expect(store.isWithin("ses_child", "ses_top")).toBe(true);
    expect(store.isWithin("ses_grandchild", "ses_top")).toBe(true);
    expect(store.isWithin("ses_grandchild", "ses_child")).toBe(true);
    expect(store.isWithin("ses_top", "ses_child")).toBe(false);
    expect(store.isWithin("ses_other", "ses_top")).toBe(false);
    expect(store.isWithin("ses_unknown", "ses_top")).toBe(false);
  });

  it("is not caught in a cycle of parents", () => {
    const store = new EventStore();
    store.receive(created("ses_a", "ses_b"), "hold");
    store.receive(created("ses_b", "ses_a"), "hold");
    expect(store.isWithin("ses_a", "ses_c")).toBe(false);
  });

  it(`remembers at most ${MAX_PARENTS} parents, forgetting the oldest`, () => {
    const store = new EventStore();
    for (let i = 0; i < MAX_PARENTS + 1; i++) store.receive(created(`ses_${i}`, "ses_top"), "hold");
    expect(store.parents.size).toBe(MAX_PARENTS);
    expect(store.isWithin("ses_0", "ses_top")).toBe(false);
    expect(store.isWithin(`ses_${MAX_PARENTS}`, "ses_top")).toBe(true);
  });

  it("retain keeps only the events a narrower stream carries, held ones too, counting them afresh", () => {
    const store = new EventStore();
    store.receive(event("server.connected"), "hold");
    store.receive(event("session.idle", "ses_1"), "hold");
    store.receive(event("session.idle", "ses_2"), "hold");
    store.receive(event("message.updated", "ses_2"), "hold");
    store.setPaused(true);
    store.receive(event("session.status", "ses_1"), "hold");
    store.receive(event("session.status", "ses_2"), "hold");
    store.receive(event("session.status", "ses_2"), "drop");
    const types = store.typesVersion;
    store.retain((record) => record.session === "ses_1");
    expect(store.records.map((record) => [record.type, record.session])).toEqual([["session.idle", "ses_1"]]);
    expect(store.held.map((record) => [record.type, record.session])).toEqual([["session.status", "ses_1"]]);
    expect([...store.counts]).toEqual([
      ["session.idle", 1],
      ["session.status", 1],
    ]);
    expect(store.types()).toEqual(["session.idle", "session.status"]);
    expect(store.typesVersion).toBeGreaterThan(types);
    expect(store.total).toBe(2);
    expect(store.dropped).toBe(0);
    expect(store.takeChanges()).toEqual({ fresh: [], forgotten: [] });
    // The sessions seen are still offered.
    expect([...store.sessions.keys()]).toEqual(["ses_1", "ses_2"]);
    store.setPaused(false);
    expect(store.records).toHaveLength(2);
  });

  it("clear forgets everything but the pause", () => {
    const store = new EventStore();
    store.receive(event("session.idle", "ses_1", undefined), "hold");
    store.receive(read({ type: "server.heartbeat", properties: {} }, "abc-2"), "hold");
    store.setPaused(true);
    store.receive(event("session.idle"), "hold");
    store.clear();
    expect(store).toMatchObject({
      records: [],
      held: [],
      total: 0,
      lastEventId: "",
      lastHeartbeat: undefined,
      paused: true,
      dropped: 0,
      heldOverflow: 0,
    });
    expect(store.counts.size).toBe(0);
    expect(store.sessions.size).toBe(0);
    expect(store.parents.size).toBe(0);
    expect(store.types()).toEqual([]);
    expect(store.takeChanges()).toEqual({ fresh: [], forgotten: [] });
  });
});
