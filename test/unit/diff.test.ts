import { beforeEach, describe, expect, it } from "vitest";
import type { EventPayload } from "../../src/hub/update.js";
import { Mirror } from "../../src/opencode/mirror.js";
import type {
  MessageInfo,
  MessageWithParts,
  Part,
  PendingRequest,
  SessionInfo,
} from "../../src/opencode/state.js";
import {
  diffList,
  diffMessages,
  diffRequests,
  diffSessions,
  diffStatuses,
  event,
  idleEvents,
} from "../../src/sources/reconciler/diff.js";

const DIR = "/work/project";
const SID = "ses_1";

function session(id: string, updated: number, extra: Partial<SessionInfo> = {}): SessionInfo {
  return { id, directory: DIR, title: `title of ${id}`, time: { created: 1, updated }, ...extra };
}
function message(id: string, role: string, created: number, extra: Partial<MessageInfo> = {}): MessageInfo {
  return { id, sessionID: SID, role, time: { created }, ...extra };
}
function text(id: string, messageID: string, value: string, ended = false): Part {
  return {
    id,
    messageID,
    sessionID: SID,
    type: "text",
    text: value,
    time: ended ? { start: 1, end: 2 } : { start: 1 },
  };
}
function tool(id: string, messageID: string, status: string, extra: Record<string, unknown> = {}): Part {
  return {
    id,
    messageID,
    sessionID: SID,
    type: "tool",
    tool: "bash",
    callID: `call_${id}`,
    state: { status, ...extra },
  };
}

/** A mirror and a hub-like sequence: apply events the way the hub would. */
let mirror: Mirror;
let seq: number;
function apply(events: EventPayload[]): void {
  for (const payload of events) mirror.apply({ directory: DIR, payload, seq: ++seq });
}
const state = () => mirror.instance(DIR);
const types = (events: EventPayload[]) => events.map((payload) => payload.type);
const props = (payload: EventPayload | undefined) => payload?.properties as Record<string, unknown>;

beforeEach(() => {
  mirror = new Mirror();
  seq = 0;
});

describe("diffSessions", () => {
  it("announces a new session with upstream's shape and a fresh evt_ id", () => {
    const info = session("ses_a", 10);
    const events = diffSessions(state(), { sessions: [info], complete: false }, seq);
    expect(types(events)).toEqual(["session.created"]);
    expect(events[0]?.properties).toEqual({ sessionID: "ses_a", info });
    expect(events[0]?.id).toMatch(/^evt_[0-9a-f]{12}[0-9A-Za-z]{14}$/);
  });

  it("announces the creation of a session clients were only told was updated (its session.created lost)", () => {
    apply([event("session.updated", { sessionID: "ses_a", info: session("ses_a", 10) })]);
    const events = diffSessions(state(), { sessions: [session("ses_a", 11)], complete: false }, seq);
    expect(types(events)).toEqual(["session.created"]);
    apply(events);
    expect(diffSessions(state(), { sessions: [session("ses_a", 11)], complete: false }, seq)).toEqual([]);
  });

  it("announces an update only when the snapshot is newer and different", () => {
    apply([event("session.created", { sessionID: "ses_a", info: session("ses_a", 10) })]);
    const since = seq;
    expect(diffSessions(state(), { sessions: [session("ses_a", 10)], complete: false }, since)).toEqual([]);
    expect(
      diffSessions(state(), { sessions: [session("ses_a", 9, { title: "old" })], complete: false }, since),
    ).toEqual([]);
    const renamed = diffSessions(
      state(),
      { sessions: [session("ses_a", 11, { title: "new" })], complete: false },
      since,
    );
    expect(types(renamed)).toEqual(["session.updated"]);
    expect((props(renamed[0]).info as SessionInfo).title).toBe("new");
  });

  it("ignores key order", () => {
    const info = session("ses_a", 10, { summary: { additions: 1, files: 2 } });
    apply([event("session.created", { sessionID: "ses_a", info })]);
    const reordered = JSON.parse(
      JSON.stringify({
        time: info.time,
        title: info.title,
        summary: { files: 2, additions: 1 },
        directory: DIR,
        id: "ses_a",
      }),
    );
    expect(diffSessions(state(), { sessions: [reordered], complete: false }, seq)).toEqual([]);
  });

  it("announces a deletion only from a complete listing", () => {
    apply([event("session.created", { sessionID: "ses_a", info: session("ses_a", 10) })]);
    expect(diffSessions(state(), { sessions: [], complete: false }, seq)).toEqual([]);
    const deleted = diffSessions(state(), { sessions: [], complete: true }, seq);
    expect(types(deleted)).toEqual(["session.deleted"]);
    expect(props(deleted[0])).toEqual({ sessionID: "ses_a", info: session("ses_a", 10) });
    apply(deleted);
    expect(state().session("ses_a")).toBeUndefined();
    // A listing made before the deletion cannot bring it back.
    expect(diffSessions(state(), { sessions: [session("ses_a", 10)], complete: true }, 0)).toEqual([]);
  });

  it("leaves alone what the mirror learned after the snapshot was asked for", () => {
    const since = seq;
    apply([
      event("session.created", {
        sessionID: "ses_a",
        info: session("ses_a", 20, { title: "from the stream" }),
      }),
    ]);
    expect(
      diffSessions(state(), { sessions: [session("ses_a", 25, { title: "x" })], complete: true }, since),
    ).toEqual([]);
    expect(diffSessions(state(), { sessions: [], complete: true }, since)).toEqual([]);
  });
});

describe("diffStatuses", () => {
  it("announces busy and retry, and lists sessions that went idle", () => {
    const busy = diffStatuses(state(), { ses_a: { type: "busy" } }, seq);
    expect(busy.events.map(props)).toEqual([{ sessionID: "ses_a", status: { type: "busy" } }]);
    apply(busy.events);
    const retry = { type: "retry", attempt: 2, message: "rate limited", next: 123 };
    const retrying = diffStatuses(state(), { ses_a: retry }, seq);
    expect(retrying.events.map(props)).toEqual([{ sessionID: "ses_a", status: retry }]);
    apply(retrying.events);
    expect(diffStatuses(state(), { ses_a: retry }, seq).events).toEqual([]);
    const idle = diffStatuses(state(), {}, seq);
    expect(idle).toEqual({ events: [], becameIdle: ["ses_a"] });
    expect(types(idleEvents("ses_a"))).toEqual(["session.status", "session.idle"]);
    expect(props(idleEvents("ses_a")[0])).toEqual({ sessionID: "ses_a", status: { type: "idle" } });
  });

  it("does not call a session idle that turned busy after the snapshot was asked for", () => {
    const since = seq;
    apply([event("session.status", { sessionID: "ses_a", status: { type: "busy" } })]);
    expect(diffStatuses(state(), {}, since).becameIdle).toEqual([]);
  });

  it("does not call a session busy whose turn's session.idle clients were told after the snapshot was asked for (issue 21, seed 42)", () => {
    const since = seq;
    apply([event("session.idle", { sessionID: "ses_a" })]);
    expect(diffStatuses(state(), { ses_a: { type: "busy" } }, since).events).toEqual([]);
    expect(diffStatuses(state(), { ses_a: { type: "busy" } }, seq).events).toHaveLength(1);
  });
});

describe("diffMessages", () => {
  const user = message("msg_1", "user", 100);
  const assistant = message("msg_2", "assistant", 101);
  const snapshot = (messages: MessageWithParts[], complete = false) => ({
    sessionID: SID,
    messages,
    complete,
  });

  it("announces new messages and parts; an assistant's unfinished text starts empty and grows by a delta", () => {
    const events = diffMessages(
      state(),
      snapshot([
        { info: user, parts: [text("prt_1", "msg_1", "say hello")] },
        { info: assistant, parts: [text("prt_2", "msg_2", "Hel")] },
      ]),
      seq,
      0,
    ).events;
    expect(types(events)).toEqual([
      "message.updated",
      "message.part.updated",
      "message.updated",
      "message.part.updated",
      "message.part.delta",
    ]);
    expect((props(events[1]).part as Part).text).toBe("say hello");
    expect((props(events[3]).part as Part).text).toBe("");
    expect(props(events[4])).toEqual({
      sessionID: SID,
      messageID: "msg_2",
      partID: "prt_2",
      field: "text",
      delta: "Hel",
    });
    expect(Object.keys(props(events[1]) ?? {}).sort()).toEqual(["part", "sessionID", "time"]);
  });

  it("streams text that grew by appending as deltas, and the finished part once it ends", () => {
    apply(
      diffMessages(state(), snapshot([{ info: assistant, parts: [text("prt_2", "msg_2", "Hel")] }]), seq, 0)
        .events,
    );
    const grew = diffMessages(
      state(),
      snapshot([{ info: assistant, parts: [text("prt_2", "msg_2", "Hello wor")] }]),
      seq,
      0,
    );
    expect(types(grew.events)).toEqual(["message.part.delta"]);
    expect(props(grew.events[0]).delta).toBe("lo wor");
    apply(grew.events);
    const done = diffMessages(
      state(),
      snapshot([{ info: assistant, parts: [text("prt_2", "msg_2", "Hello world", true)] }]),
      seq,
      0,
    );
    expect(types(done.events)).toEqual(["message.part.delta", "message.part.updated"]);
    expect(props(done.events[0]).delta).toBe("ld");
    apply(done.events);
    const stored = state().messages.get(SID)?.messages.get("msg_2")?.parts.get("prt_2")?.value;
    expect(stored?.text).toBe("Hello world");
  });

  it("sends a part whose text was replaced, not appended to, whole", () => {
    apply(
      diffMessages(
        state(),
        snapshot([{ info: assistant, parts: [text("prt_2", "msg_2", "draft answer")] }]),
        seq,
        0,
      ).events,
    );
    const replaced = diffMessages(
      state(),
      snapshot([{ info: assistant, parts: [text("prt_2", "msg_2", "final")] }]),
      seq,
      0,
    );
    expect(types(replaced.events)).toEqual(["message.part.updated"]);
    expect((props(replaced.events[0]).part as Part).text).toBe("final");
  });

  it("never takes text backwards: a snapshot behind the deltas already sent is ignored", () => {
    apply(
      diffMessages(state(), snapshot([{ info: assistant, parts: [text("prt_2", "msg_2", "")] }]), seq, 0)
        .events,
    );
    apply([
      event("message.part.delta", {
        sessionID: SID,
        messageID: "msg_2",
        partID: "prt_2",
        field: "text",
        delta: "Hello",
      }),
    ]);
    expect(
      diffMessages(state(), snapshot([{ info: assistant, parts: [text("prt_2", "msg_2", "")] }]), 0, 0)
        .events,
    ).toEqual([]);
    expect(
      diffMessages(state(), snapshot([{ info: assistant, parts: [text("prt_2", "msg_2", "Hel")] }]), 0, 0)
        .events,
    ).toEqual([]);
  });

  it("never takes a tool backwards, and follows it forwards", () => {
    apply(
      diffMessages(
        state(),
        snapshot([{ info: assistant, parts: [tool("prt_3", "msg_2", "running")] }]),
        seq,
        0,
      ).events,
    );
    const older = diffMessages(
      state(),
      snapshot([{ info: assistant, parts: [tool("prt_3", "msg_2", "pending")] }]),
      seq,
      0,
    );
    expect(older.events).toEqual([]);
    const output = { output: "hi\n", metadata: { exit: 0 } };
    const done = diffMessages(
      state(),
      snapshot([{ info: assistant, parts: [tool("prt_3", "msg_2", "completed", output)] }]),
      seq,
      0,
    );
    expect(types(done.events)).toEqual(["message.part.updated"]);
    expect((props(done.events[0]).part as Part).state).toEqual({ status: "completed", ...output });
  });

  it("sends the message's own update after its parts", () => {
    apply(diffMessages(state(), snapshot([{ info: assistant, parts: [] }]), seq, 0).events);
    const completed = message("msg_2", "assistant", 101, {
      time: { created: 101, completed: 200 },
      finish: "stop",
    });
    const events = diffMessages(
      state(),
      snapshot([{ info: completed, parts: [tool("prt_3", "msg_2", "completed")] }]),
      seq,
      0,
    ).events;
    expect(types(events)).toEqual(["message.part.updated", "message.updated"]);
  });

  it("announces removed messages (within the span of the newest page, or any in a complete listing) and removed parts", () => {
    apply(
      diffMessages(
        state(),
        snapshot([
          { info: user, parts: [text("prt_1", "msg_1", "hi")] },
          {
            info: assistant,
            parts: [text("prt_2", "msg_2", "a", true), tool("prt_3", "msg_2", "completed")],
          },
        ]),
        seq,
        0,
      ).events,
    );
    // The newest page no longer reaching back to the user's message says nothing of it…
    const onlyAssistant = snapshot([
      { info: assistant, parts: [text("prt_2", "msg_2", "a", true), tool("prt_3", "msg_2", "completed")] },
    ]);
    expect(diffMessages(state(), onlyAssistant, seq, 0).events).toEqual([]);
    expect(diffMessages(state(), { ...onlyAssistant, complete: true }, seq, 0).events.map(props)).toEqual([
      { sessionID: SID, messageID: "msg_1" },
    ]);
    // …but a newer message missing from the newest page was removed.
    const onlyUser = snapshot([{ info: user, parts: [text("prt_1", "msg_1", "hi")] }]);
    const removed = diffMessages(state(), onlyUser, seq, 0).events;
    expect(removed.map(props)).toEqual([{ sessionID: SID, messageID: "msg_2" }]);
    expect(types(removed)).toEqual(["message.removed"]);
    const partGone = diffMessages(
      state(),
      snapshot([{ info: assistant, parts: [text("prt_2", "msg_2", "a", true)] }]),
      seq,
      0,
    ).events;
    expect(types(partGone)).toEqual(["message.part.removed"]);
    expect(props(partGone[0])).toEqual({ sessionID: SID, messageID: "msg_2", partID: "prt_3" });
    apply(removed);
    // A listing from before the removal does not revive it.
    expect(diffMessages(state(), snapshot([{ info: assistant, parts: [] }]), 0, 0).events).toEqual([]);
  });

  it("takes a running tool as the stream told it (its arguments as streamed, `raw`) and REST keeps it as the same", () => {
    const running = tool("prt_9", "msg_2", "running", { input: { command: "ls" } });
    apply([event("message.updated", { sessionID: SID, info: assistant })]);
    apply([
      event("message.part.updated", {
        sessionID: SID,
        part: { ...running, state: { ...running.state, raw: "" } },
      }),
    ]);
    expect(diffMessages(state(), snapshot([{ info: assistant, parts: [running] }]), seq, 0).events).toEqual(
      [],
    );
  });

  it("tells a running tool once though REST keeps its `raw` too (issue 21: told again on every read while its permission waited)", () => {
    const running = tool("prt_9", "msg_2", "running", { input: { command: "ls" } });
    const asStored = { ...running, state: { ...running.state, raw: "" } };
    apply([event("message.updated", { sessionID: SID, info: assistant })]);
    apply(diffMessages(state(), snapshot([{ info: assistant, parts: [asStored] }]), seq, 0).events);
    expect(diffMessages(state(), snapshot([{ info: assistant, parts: [asStored] }]), seq, 0).events).toEqual(
      [],
    );
    expect(diffMessages(state(), snapshot([{ info: assistant, parts: [running] }]), seq, 0).events).toEqual(
      [],
    );
  });

  it("announces a message whose parts alone were told, and not the parts again", () => {
    const part = text("prt_2", "msg_2", "done", true);
    apply([event("message.part.updated", { sessionID: SID, part, time: 1 })]);
    const { events } = diffMessages(state(), snapshot([{ info: assistant, parts: [part] }]), seq, 0);
    expect(types(events)).toEqual(["message.updated"]);
    expect(props(events[0])).toEqual({ sessionID: SID, info: assistant });
  });

  it("hands back messages from before the shim looked as history, to adopt silently", () => {
    const result = diffMessages(
      state(),
      snapshot([
        { info: message("msg_0", "user", 50), parts: [] },
        { info: user, parts: [text("prt_1", "msg_1", "new")] },
      ]),
      seq,
      60,
    );
    expect(result.history.map((entry) => entry.info.id)).toEqual(["msg_0"]);
    expect(types(result.events)).toEqual(["message.updated", "message.part.updated"]);
  });
});

describe("diffRequests", () => {
  const permission: PendingRequest = {
    id: "per_1",
    sessionID: SID,
    permission: "bash",
    patterns: ["echo hi"],
    metadata: {},
    always: ["echo *"],
    tool: { messageID: "msg_2", callID: "call_1" },
  };
  const options = {
    asked: "permission.asked",
    settled: (request: PendingRequest) =>
      event("permission.replied", { sessionID: request.sessionID, requestID: request.id, reply: "once" }),
  };

  it("announces a request with the listed object as its properties, and its settlement when it is gone", () => {
    const asked = diffRequests(state().permissions, [permission], seq, options);
    expect(types(asked)).toEqual(["permission.asked"]);
    expect(asked[0]?.properties).toEqual(permission);
    apply(asked);
    expect(diffRequests(state().permissions, [permission], seq, options)).toEqual([]);
    const replied = diffRequests(state().permissions, [], seq, options);
    expect(replied.map(props)).toEqual([{ sessionID: SID, requestID: "per_1", reply: "once" }]);
    apply(replied);
    expect(diffRequests(state().permissions, [], seq, options)).toEqual([]);
    expect(diffRequests(state().permissions, [permission], 0, options)).toEqual([]);
  });

  it("holds a settlement back while it cannot be told yet", () => {
    apply(diffRequests(state().permissions, [permission], seq, options));
    expect(diffRequests(state().permissions, [], seq, { ...options, settled: () => undefined })).toEqual([]);
  });
});

describe("diffList", () => {
  it("announces todo.updated and session.diff with the whole new list", () => {
    const todos = [{ content: "First", status: "pending", priority: "high" }];
    const updated = diffList(undefined, todos, seq, "todo.updated", SID);
    expect(updated.map(props)).toEqual([{ sessionID: SID, todos }]);
    apply(updated);
    expect(diffList(state().todos.get(SID), todos, seq, "todo.updated", SID)).toEqual([]);
    expect(diffList(undefined, [], seq, "session.diff", SID)).toEqual([]);
    const diff = [{ file: "a.txt", additions: 2, deletions: 0, status: "added" }];
    expect(diffList(undefined, diff, seq, "session.diff", SID).map(props)).toEqual([
      { sessionID: SID, diff },
    ]);
  });
});
