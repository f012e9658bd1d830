import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { Subscriber } from "../../src/hub/subscriber.js";
import type { EventPayload } from "../../src/hub/update.js";
import type { OpencodeSink } from "../../src/opencode/sink.js";
import type { MessageWithParts, Part, SessionInfo } from "../../src/opencode/state.js";
import type { ReadKind } from "../../src/sources/reconciler/instance-reconciler.js";
import type { ReconcilerOptions } from "../../src/sources/reconciler/reconciler.js";
import { FakeStream } from "../helpers/fake-stream.js";
import { reconcilerOnRest } from "../helpers/reconciler-on-rest.js";
import type { RestUpstream } from "../helpers/rest-upstream.js";
import { teardownAfterEach } from "../helpers/teardown.js";
import { eventually } from "../helpers/wait.js";

const DIRECTORY = "/rest/project";
const SESSION = "ses_poller";

const teardown = teardownAfterEach();

function session(updated: number): SessionInfo {
  return { id: SESSION, directory: DIRECTORY, title: "t", time: { created: 1, updated } };
}

/** A reconciler on a scripted REST upstream, with one client of the instance (not yet followed). */
async function startReconciler(options: Partial<ReconcilerOptions>) {
  const reads: Array<{ kind: ReadKind; events: EventPayload[] }> = [];
  const parts = await reconcilerOnRest(teardown, {
    idleIntervalMs: 200,
    releaseAfterMs: 400,
    onCorrections: (_directory, events, kind) => reads.push({ kind, events }),
    ...options,
  });
  const { hub } = parts;
  const stream = new FakeStream();
  hub.subscribe(new Subscriber(DIRECTORY, undefined, stream.asStream(), 1 << 20));
  teardown.add(() => stream.destroy());
  return { ...parts, stream, reads };
}

/** The same, with one session upstream, and the instance followed. */
async function setUp(options: Partial<ReconcilerOptions>) {
  const parts = await startReconciler(options);
  parts.rest.sessions.push(session(1));
  await parts.reconciler.track(DIRECTORY);
  /** The events the client received of a type, for the session. */
  const received = (type: string) =>
    parts.stream
      .frames()
      .filter(
        (frame) =>
          frame.json.type === type &&
          (frame.json.properties as { sessionID?: string } | undefined)?.sessionID === SESSION,
      );
  return { ...parts, received };
}

/** Events as upstream's live stream hands them to the sink. */
function fromStream(sink: OpencodeSink, events: Array<readonly [string, string, Record<string, unknown>]>) {
  for (const [id, type, properties] of events) {
    sink.publish({ directory: DIRECTORY, origin: "stream", payload: { id, type, properties } });
  }
}

/** Reads of the instance (one session listing each) over the next `ms`. */
async function readsOver(rest: RestUpstream, ms: number): Promise<number> {
  const from = performance.now();
  await sleep(ms); // a measurement window, not a wait for something
  return rest.listReadsSince(from);
}

/** One whole turn as REST shows it once it is over: the question and its finished answer. */
function turn(created: number, answer: string): MessageWithParts[] {
  const user = `msg_user_${created}`;
  const assistant = `msg_assistant_${created}`;
  const part = (id: string, messageID: string, text: string): Part => ({
    id,
    messageID,
    sessionID: SESSION,
    type: "text",
    text,
    time: { start: created, end: created + 5 },
  });
  return [
    {
      info: { id: user, sessionID: SESSION, role: "user", time: { created } },
      parts: [part(`prt_user_${created}`, user, "say hello")],
    },
    {
      info: {
        id: assistant,
        sessionID: SESSION,
        role: "assistant",
        time: { created: created + 1, completed: created + 9 },
      },
      parts: [part(`prt_answer_${created}`, assistant, answer)],
    },
  ];
}

describe("the reconciler's cost follows the work", () => {
  it("reads a quiet instance with one request a tick, a busy session while it changes fast and ever less often while it does not, and an unfollowed one not at all", async () => {
    const { rest, reconciler, stream, received, metrics } = await setUp({});
    const requestsOver = async (ms: number, path?: RegExp) => {
      const from = performance.now();
      await sleep(ms); // a measurement window, not a wait for something
      return rest.requests.filter((request) => request.at >= from && (!path || path.test(request.path)))
        .length;
    };
    const quiet = await requestsOver(1000);
    expect(quiet).toBeGreaterThanOrEqual(2); // one every 200 ms: about 5, and every 10 s statuses and requests (3)
    expect(quiet).toBeLessThanOrEqual(10);

    const created = Date.now();
    const [user, answer] = turn(created, "w");
    if (!user || !answer) throw new Error("no turn");
    rest.messages.set(SESSION, [user, answer]);
    rest.statuses[SESSION] = { type: "busy" };
    rest.sessions[0] = session(2);
    await eventually(() => received("session.status").length === 1, 5000, "session.status busy");
    // The answer grows: every read of it shows a change.
    const growing = setInterval(() => {
      const part = answer.parts[0] as Part & { text: string };
      answer.parts[0] = { ...part, text: `${part.text} w` };
    }, 20);
    let changing: number;
    try {
      changing = await requestsOver(1000, /\/message$/);
    } finally {
      clearInterval(growing);
    }
    expect(changing).toBeGreaterThanOrEqual(8); // every 50 ms: about 20
    await sleep(1000); // the reads back off: 50, 100, 200, 400, 800 ms, then every 1.5 s
    const unchanged = await requestsOver(2000, /\/message$/);
    expect(unchanged).toBeGreaterThanOrEqual(1);
    expect(unchanged).toBeLessThanOrEqual(3);

    // The client leaves: the instance is let go after `releaseAfterMs`, and reads stop.
    stream.destroy();
    await eventually(
      async () => (await readsOver(rest, 300)) === 0,
      5000,
      "reads to stop once nobody follows the instance",
    );
    const requests = metrics.requests;
    expect(await readsOver(rest, 500)).toBe(0);
    expect(metrics.requests).toBe(requests);
    expect(reconciler.feedsClients).toBe(true);
  });

  it("reads a busy session narrow while it only writes its newest message, wide once a message clients never heard of shows", async () => {
    const { rest, stream } = await setUp({});
    const created = Date.now();
    const [user, answer] = turn(created, "checking");
    if (!user || !answer) throw new Error("no turn");
    const step = (id: string, at: number, completed?: number): MessageWithParts => ({
      info: {
        ...answer.info,
        id,
        time: { created: at, completed },
        finish: completed ? "tool-calls" : undefined,
      },
      parts: [{ ...(answer.parts[0] as Part), id: `prt_${id}`, messageID: id, time: { start: at } }],
    });
    rest.messages.set(SESSION, [
      user,
      step("msg_step1", created + 1, created + 2),
      step("msg_step2", created + 3),
    ]);
    rest.statuses[SESSION] = { type: "busy" };
    rest.sessions[0] = session(created);
    const toldOf = (id: string) =>
      stream.frames().some((frame) => (frame.json.properties as { info?: { id?: string } }).info?.id === id);
    await eventually(() => toldOf("msg_step2"), 5000, "the running step told");
    const messageReads = (from: number) =>
      rest.requests.filter((request) => request.path.endsWith("/message") && request.at >= from);

    const quiet = performance.now();
    await sleep(500); // a measurement window: the turn writes nothing new
    expect(messageReads(quiet).length).toBeGreaterThanOrEqual(3);
    expect(messageReads(quiet).every((request) => request.limit === 1)).toBe(true);

    const next = performance.now();
    rest.messages.get(SESSION)?.push(step("msg_step3", created + 4));
    await eventually(() => toldOf("msg_step3"), 5000, "the next step told");
    expect(messageReads(next).some((request) => request.limit === 10)).toBe(true);
  });

  it("holds its requests to the read budget, deferring (and counting) the rest", async () => {
    const { rest, metrics, received } = await setUp({ readBudget: 5 });
    rest.statuses[SESSION] = { type: "busy" };
    rest.sessions[0] = session(2);
    await eventually(() => received("session.status").length === 1, 5000, "session.status busy");
    const from = performance.now();
    await sleep(2_000); // a measurement window
    const requests = rest.requests.filter((request) => request.at >= from).length;
    expect(requests).toBeGreaterThanOrEqual(6); // the reads go on…
    expect(requests).toBeLessThanOrEqual(12); // …at 5 a second, not every 50 ms (about 60 requests)
    expect(metrics.deferredRequests).toBeGreaterThan(0);
  });

  it("behind a trusted stream, reads a quiet instance once a second with one request", async () => {
    const { rest, reconciler } = await setUp({});
    reconciler.feedClients(false);
    const from = performance.now();
    await sleep(3100); // a measurement window
    const requests = rest.requests.filter((request) => request.at >= from);
    expect(rest.listReadsSince(from)).toBeGreaterThanOrEqual(2);
    expect(rest.listReadsSince(from)).toBeLessThanOrEqual(4);
    expect(requests.every((request) => request.path === "/session")).toBe(true);
  });

  it("reads once for a burst of nudges (log lines come in bursts)", async () => {
    const { rest, reconciler } = await setUp({ idleIntervalMs: 60_000 });
    const from = performance.now();
    for (let i = 0; i < 20; i++) reconciler.nudge();
    await eventually(() => rest.listReadsSince(from) >= 1, 5000, "a read");
    expect(await readsOver(rest, 300)).toBe(0);
    expect(rest.listReadsSince(from)).toBe(1);
  });
});

describe("the first look", () => {
  it("takes in what was there before the instance was followed, and announces what came after", async () => {
    const { rest, reconciler, stream } = await startReconciler({});
    // The first look is delayed (upstream was away): by the time it is taken, a session has
    // been created since the client came — news — beside one that was always there.
    rest.sessions.push(session(1));
    rest.messages.set(SESSION, turn(1, "old answer"));
    const following = reconciler.track(DIRECTORY);
    const fresh: SessionInfo = {
      id: "ses_fresh",
      directory: DIRECTORY,
      title: "f",
      time: { created: Date.now() + 1, updated: Date.now() + 1 },
    };
    rest.sessions.push(fresh);
    await following;
    await eventually(
      () => stream.types().includes("session.created"),
      5000,
      "session.created of the new session",
    );
    await sleep(500); // more reads: nothing of the old session is news
    const told = stream.frames().slice(1);
    expect(told.map((frame) => frame.json.type)).toEqual(["session.created"]);
    expect(told[0]?.json.properties).toMatchObject({ sessionID: "ses_fresh" });
  });
});

describe("a turn that began and ended between two reads", () => {
  for (const leading of [true, false]) {
    it(`is published whole: busy, both messages, final parts, idle and session.idle once (${leading ? "leading" : "checking"})`, async () => {
      const { rest, reconciler, received, stream, reads } = await setUp({
        idleIntervalMs: 300,
        checkIntervalMs: 300,
        graceMs: 100,
      });
      reconciler.feedClients(leading);
      rest.messages.set(SESSION, turn(Date.now(), "Hello there"));
      rest.sessions[0] = session(Date.now());
      await eventually(() => received("session.idle").length === 1, 5000, "session.idle");
      await sleep(1000); // more reads: nothing more to say
      const told = stream
        .frames()
        .slice(1)
        .map((frame) => {
          const p = frame.json.properties as {
            status?: { type: string };
            info?: { role?: string };
            part?: { text?: string };
          };
          return `${frame.json.type} ${p.status?.type ?? p.info?.role ?? p.part?.text ?? ""}`.trim();
        });
      expect(told).toEqual([
        "session.updated",
        "session.status busy",
        "message.updated user",
        "message.part.updated say hello",
        "message.updated assistant",
        "message.part.updated Hello there",
        "session.status idle",
        "session.idle",
      ]);
      expect(reads.map((read) => read.kind)).toEqual([leading ? "feed" : "check"]);
    });
  }
});

describe("a permission settled as its turn ends", () => {
  it("is told replied before the turn's session.idle", async () => {
    const { rest, reconciler, received, stream } = await setUp({ idleIntervalMs: 300, graceMs: 100 });
    reconciler.feedClients(true);
    const created = Date.now();
    const [user, answer] = turn(created, "done") as [MessageWithParts, MessageWithParts];
    const tool = (status: string): Part => ({
      id: "prt_tool",
      messageID: answer.info.id,
      sessionID: SESSION,
      type: "tool",
      callID: "call_1",
      tool: "bash",
      state: { status, input: { command: "true" }, ...(status === "completed" ? { output: "" } : {}) },
    });
    const running = { info: { ...answer.info, time: { created: created + 1 } }, parts: [tool("running")] };
    rest.statuses[SESSION] = { type: "busy" };
    rest.messages.set(SESSION, [user, running]);
    rest.permissions.push({
      id: "per_1",
      sessionID: SESSION,
      permission: "bash",
      tool: { messageID: answer.info.id, callID: "call_1" },
    });
    rest.sessions[0] = session(created);
    await eventually(() => received("permission.asked").length === 1, 5000, "permission.asked");
    // Answered, the tool ran, the turn ended: all between two reads.
    rest.permissions.length = 0;
    rest.messages.set(SESSION, [user, { info: answer.info, parts: [tool("completed"), ...answer.parts] }]);
    delete rest.statuses[SESSION];
    rest.sessions[0] = session(created + 20);
    await eventually(() => received("session.idle").length === 1, 5000, "session.idle");
    const types = stream.frames().map((frame) => frame.json.type);
    expect(types.indexOf("permission.replied")).toBeGreaterThan(-1);
    expect(types.indexOf("permission.replied")).toBeLessThan(types.indexOf("session.idle"));
  });
});

describe("a subagent's session, made and done between two reads of its caller", () => {
  it("is told (created, its turn) before the caller's session.idle, though the read that finds the caller's turn over lists no sessions", async () => {
    // The list is read every 5 s; a busy session's messages every 50 ms: the caller's end shows in them first.
    const { rest, reconciler, received, stream } = await setUp({ idleIntervalMs: 5000 });
    reconciler.feedClients(true);
    const created = Date.now();
    const [user, answer] = turn(created, "done") as [MessageWithParts, MessageWithParts];
    rest.statuses[SESSION] = { type: "busy" };
    rest.messages.set(SESSION, [
      user,
      { info: { ...answer.info, time: { created: created + 1 } }, parts: [] },
    ]);
    rest.sessions[0] = session(created);
    reconciler.nudge();
    await eventually(() => received("message.updated").length === 2, 5000, "the caller's turn begun");
    const child: SessionInfo = {
      id: "ses_child",
      parentID: SESSION,
      directory: DIRECTORY,
      title: "subagent",
      time: { created: created + 2, updated: created + 30 },
    };
    rest.sessions.push(child);
    rest.messages.set(
      child.id,
      turn(created + 3, "Hello from the subagent").map((message) => ({
        info: { ...message.info, sessionID: child.id },
        parts: message.parts.map((part) => ({ ...part, sessionID: child.id })),
      })),
    );
    // The caller's answer completes after the subagent's (created + 12).
    rest.messages.set(SESSION, [
      user,
      { ...answer, info: { ...answer.info, time: { created: created + 1, completed: created + 35 } } },
    ]);
    delete rest.statuses[SESSION];
    rest.sessions[0] = session(created + 40);
    await eventually(() => received("session.idle").length === 1, 3000, "the caller's session.idle");
    const told = stream.frames().map((frame) => {
      const p = frame.json.properties as { sessionID?: string; info?: { id?: string } };
      return `${frame.json.type} ${p.sessionID ?? p.info?.id ?? ""}`.trim();
    });
    const callerIdle = told.indexOf(`session.idle ${SESSION}`);
    expect(told.indexOf("session.created ses_child")).toBeGreaterThan(-1);
    expect(told.indexOf("session.created ses_child")).toBeLessThan(callerIdle);
    expect(told.indexOf("session.idle ses_child")).toBeGreaterThan(-1);
    expect(told.indexOf("session.idle ses_child")).toBeLessThan(callerIdle);
  });
});

describe("a session created after the first look", () => {
  it("has all its messages announced, even when the stream told of it only once its turn had begun", async () => {
    const { rest, sink, reconciler, stream } = await setUp({ idleIntervalMs: 300 });
    reconciler.feedClients(true);
    const created = Date.now();
    const fresh: SessionInfo = {
      id: "ses_new",
      directory: DIRECTORY,
      title: "n",
      time: { created, updated: created + 50 },
    };
    const messages = turn(created + 10, "Hello there").map((message) => ({
      info: { ...message.info, sessionID: "ses_new" },
      parts: message.parts.map((part) => ({ ...part, sessionID: "ses_new" })),
    }));
    rest.sessions.push(fresh);
    rest.messages.set("ses_new", messages);
    // The stream's word on the session came after its messages were written.
    sink.publish({
      directory: DIRECTORY,
      origin: "stream",
      payload: {
        id: "evt_stream_created",
        type: "session.created",
        properties: { sessionID: "ses_new", info: fresh },
      },
    });
    await eventually(() => stream.types().includes("session.idle"), 5000, "session.idle");
    const told = stream
      .frames()
      .filter((frame) => (frame.json.properties as { sessionID?: string }).sessionID === "ses_new")
      .map((frame) => frame.json.type);
    expect(told).toEqual([
      "session.created",
      "session.status",
      "message.updated",
      "message.part.updated",
      "message.updated",
      "message.part.updated",
      "session.status",
      "session.idle",
    ]);
  });
});

describe("behind a trusted stream", () => {
  /** The session went busy, as the stream said; then upstream finishes the turn. */
  async function busyThenIdle() {
    const parts = await setUp({ checkIntervalMs: 100, graceMs: 500 });
    parts.reconciler.feedClients(false);
    parts.rest.statuses[SESSION] = { type: "busy" };
    parts.rest.sessions[0] = session(2);
    fromStream(parts.sink, [
      ["evt_stream_updated", "session.updated", { sessionID: SESSION, info: session(2) }],
      ["evt_stream_busy", "session.status", { sessionID: SESSION, status: { type: "busy" } }],
    ]);
    await eventually(() => parts.received("session.status").length === 1, 5000, "busy");
    delete parts.rest.statuses[SESSION];
    parts.rest.sessions[0] = session(3);
    return parts;
  }

  it("makes up, once and after the grace period, for a session.idle the stream lost", async () => {
    const { metrics, received, reads } = await busyThenIdle();
    const lost = performance.now();
    await eventually(() => received("session.idle").length === 1, 10_000, "the made-up session.idle");
    expect(performance.now() - lost).toBeGreaterThanOrEqual(450);
    expect(received("session.status").map((frame) => frame.json.properties)).toEqual([
      { sessionID: SESSION, status: { type: "busy" } },
      { sessionID: SESSION, status: { type: "idle" } },
    ]);
    expect(received("session.idle")[0]?.json.id).toMatch(/^evt_/);
    await sleep(1500); // more reads: nothing more to say
    expect(received("session.idle")).toHaveLength(1);
    expect(metrics.from("reconciler")).toEqual({
      "session.updated": 1,
      "session.status": 1,
      "session.idle": 1,
    });
    expect(reads.map((read) => read.kind)).toEqual(["check"]);
  });

  it("says nothing when the stream is merely late", async () => {
    const { sink, metrics, received, reads } = await busyThenIdle();
    await sleep(300); // the stream's events come 300 ms after REST shows the change
    fromStream(sink, [
      ["evt_stream_updated_again", "session.updated", { sessionID: SESSION, info: session(3) }],
      ["evt_stream_idle_status", "session.status", { sessionID: SESSION, status: { type: "idle" } }],
      ["evt_stream_idle", "session.idle", { sessionID: SESSION }],
    ]);
    await sleep(2500); // many reads
    expect(received("session.idle").map((frame) => frame.json.id)).toEqual(["evt_stream_idle"]);
    expect(metrics.from("reconciler")).toEqual({});
    expect(reads).toEqual([]);
  });
});
