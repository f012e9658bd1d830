import { describe, expect, it } from "vitest";
import { Hub } from "../../src/hub/hub.js";
import { Subscriber } from "../../src/hub/subscriber.js";
import type { Envelope } from "../../src/hub/update.js";
import { FakeStream } from "../helpers/fake-stream.js";
import { RecordingMetrics } from "../helpers/recording-metrics.js";

const DIR = "/work/project";
const OTHER = "/work/other";

let counter = 0;
function event(type: string, directory = DIR, extra: Partial<Envelope> = {}): Envelope {
  counter++;
  return { directory, payload: { id: `evt_${counter}`, type, properties: { n: counter } }, ...extra };
}

/** Publishes and writes out at once (the hub writes at the end of the event loop's turn). */
function publish(hub: Hub, envelope: Envelope) {
  const update = hub.dispatch(envelope);
  hub.flush();
  return update;
}

function subscribe(
  hub: Hub,
  directory = DIR,
  options: { workspace?: string; lastEventId?: string; max?: number; sessions?: string[] } = {},
) {
  const stream = new FakeStream();
  const sessions = options.sessions ? new Set(options.sessions) : undefined;
  const subscriber = new Subscriber(
    directory,
    options.workspace,
    stream.asStream(),
    options.max ?? 1 << 20,
    sessions,
  );
  const result = hub.subscribe(subscriber, options.lastEventId);
  return { stream, subscriber, result };
}

describe("Hub", () => {
  it("starts every stream with server.connected, without an id", () => {
    const hub = new Hub({ replaySize: 10 });
    const { stream } = subscribe(hub);
    const [first] = stream.frames();
    expect(first?.json.type).toBe("server.connected");
    expect(first?.json.id).toMatch(/^evt_[0-9a-f]{12}[0-9A-Za-z]{14}$/);
    expect(first?.id).toBeUndefined();
  });

  it("delivers an instance's events to its subscribers only, each with an id", () => {
    const hub = new Hub({ replaySize: 10 });
    const mine = subscribe(hub, DIR);
    const theirs = subscribe(hub, OTHER);
    publish(hub, event("session.created", DIR));
    publish(hub, event("session.created", OTHER));
    publish(hub, event("session.idle", DIR));
    expect(mine.stream.types()).toEqual(["server.connected", "session.created", "session.idle"]);
    expect(theirs.stream.types()).toEqual(["server.connected", "session.created"]);
    const ids = mine.stream
      .frames()
      .slice(1)
      .map((frame) => frame.id);
    expect(ids.every((id) => typeof id === "string")).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("frames each event once: every subscriber gets the same buffer", () => {
    const hub = new Hub({ replaySize: 10 });
    const a = subscribe(hub);
    const b = subscribe(hub);
    publish(hub, event("session.updated"));
    expect(a.stream.chunks[1]).toBe(b.stream.chunks[1]);
  });

  it("drops an event whose id it has already published", () => {
    const hub = new Hub({ replaySize: 10 });
    const { stream } = subscribe(hub);
    const first = event("message.updated");
    expect(publish(hub, first)).toBeDefined();
    expect(publish(hub, { ...first })).toBeUndefined();
    expect(stream.types()).toEqual(["server.connected", "message.updated"]);
  });

  it("keeps events without an id (nothing to dedupe them by)", () => {
    const hub = new Hub({ replaySize: 10 });
    const { stream } = subscribe(hub);
    publish(hub, { directory: DIR, payload: { type: "tui.toast.show", properties: {} } });
    publish(hub, { directory: DIR, payload: { type: "tui.toast.show", properties: {} } });
    expect(stream.types()).toEqual(["server.connected", "tui.toast.show", "tui.toast.show"]);
  });

  it("filters by workspace when the client names one", () => {
    const hub = new Hub({ replaySize: 10 });
    const any = subscribe(hub);
    const wsA = subscribe(hub, DIR, { workspace: "wrk_a" });
    publish(hub, event("session.created", DIR, { workspace: "wrk_a" }));
    publish(hub, event("session.created", DIR, { workspace: "wrk_b" }));
    publish(hub, event("session.created", DIR));
    expect(any.stream.types()).toHaveLength(4);
    expect(wsA.stream.types()).toEqual(["server.connected", "session.created"]);
  });

  it("resumes from Last-Event-ID with every later event of the instance, none twice", () => {
    const hub = new Hub({ replaySize: 100 });
    const live = subscribe(hub);
    for (let i = 0; i < 5; i++) {
      publish(hub, event("message.part.delta"));
      publish(hub, event("message.part.delta"));
      publish(hub, event("message.part.delta", OTHER));
    }
    const frames = live.stream.frames();
    const cursor = frames[1]?.id;
    const resumed = subscribe(hub, DIR, { lastEventId: cursor });
    expect(resumed.result.resumed).toBe(true);
    publish(hub, event("session.idle"));
    const expected = live.stream
      .frames()
      .slice(2)
      .map((frame) => frame.json.id);
    const got = resumed.stream
      .frames()
      .slice(1)
      .map((frame) => frame.json.id);
    expect(got).toEqual(expected);
    expect(resumed.stream.frames()[0]?.json.type).toBe("server.connected");
  });

  it("starts afresh when the cursor is older than the history, foreign or garbage", () => {
    const hub = new Hub({ replaySize: 3 });
    const live = subscribe(hub);
    for (let i = 0; i < 10; i++) publish(hub, event("message.part.delta"));
    const oldCursor = live.stream.frames()[1]?.id;
    for (const lastEventId of [oldCursor, "0000000000-1", "garbage", `${hub.epoch}-999999`]) {
      const fresh = subscribe(hub, DIR, { lastEventId });
      expect(fresh.result.resumed).toBe(false);
      expect(fresh.stream.types()).toEqual(["server.connected"]);
    }
    const recent = live.stream.frames()[7]?.id;
    const resumed = subscribe(hub, DIR, { lastEventId: recent });
    expect(resumed.result.resumed).toBe(true);
    expect(resumed.stream.types()).toEqual([
      "server.connected",
      "message.part.delta",
      "message.part.delta",
      "message.part.delta",
    ]);
  });

  it("replays only the named workspace's events", () => {
    const hub = new Hub({ replaySize: 10 });
    const live = subscribe(hub);
    publish(hub, event("a", DIR, { workspace: "wrk_a" }));
    const cursor = live.stream.frames()[1]?.id;
    publish(hub, event("b", DIR, { workspace: "wrk_b" }));
    publish(hub, event("c", DIR, { workspace: "wrk_a" }));
    const resumed = subscribe(hub, DIR, { workspace: "wrk_a", lastEventId: cursor });
    expect(resumed.stream.types()).toEqual(["server.connected", "c"]);
  });

  it("ends the instance's streams after server.instance.disposed, as upstream does", () => {
    const hub = new Hub({ replaySize: 10 });
    const mine = subscribe(hub);
    const workspaced = subscribe(hub, DIR, { workspace: "wrk_a" });
    const theirs = subscribe(hub, OTHER);
    publish(hub, event("server.instance.disposed", DIR));
    expect(mine.stream.ended).toBe(true);
    expect(mine.stream.types()).toEqual(["server.connected", "server.instance.disposed"]);
    expect(workspaced.stream.ended).toBe(true);
    expect(theirs.stream.ended).toBe(false);
    expect(hub.subscriberTotal).toBe(1);
    publish(hub, event("session.created", DIR));
    expect(mine.stream.types()).toHaveLength(2);
  });

  it("lets a client that reconnects after disposal resume right after the disposal", () => {
    const hub = new Hub({ replaySize: 10 });
    const first = subscribe(hub);
    publish(hub, event("server.instance.disposed"));
    const cursor = first.stream.frames()[1]?.id;
    publish(hub, event("session.created"));
    const again = subscribe(hub, DIR, { lastEventId: cursor });
    expect(again.stream.types()).toEqual(["server.connected", "session.created"]);
  });

  it("writes one heartbeat frame to everyone, without an id", () => {
    const hub = new Hub({ replaySize: 10 });
    const a = subscribe(hub, DIR);
    const b = subscribe(hub, OTHER);
    hub.heartbeat();
    expect(a.stream.types()).toEqual(["server.connected", "server.heartbeat"]);
    expect(b.stream.types()).toEqual(["server.connected", "server.heartbeat"]);
    expect(a.stream.frames()[1]?.id).toBeUndefined();
    expect(a.stream.chunks[1]).toBe(b.stream.chunks[1]);
  });

  it("cuts off a client that stops reading, without touching the others", () => {
    const hub = new Hub({ replaySize: 10_000 });
    const slow = subscribe(hub, DIR, { max: 4096 });
    const fast = subscribe(hub, DIR, { max: 4096 });
    slow.stream.stuck = true;
    for (let i = 0; i < 1000; i++) publish(hub, event("message.part.delta"));
    expect(slow.stream.destroyed).toBe(true);
    expect(slow.subscriber.overflowed).toBe(true);
    expect(fast.stream.types()).toHaveLength(1001);
    expect(hub.subscriberTotal).toBe(1);
    const lastSeen = slow.stream.frames().at(-1)?.id;
    const back = subscribe(hub, DIR, { lastEventId: lastSeen });
    expect(back.result.resumed).toBe(true);
    expect(slow.stream.frames().length - 1 + back.stream.frames().length - 1).toBe(1000);
  });

  it("holds at most the buffer limit plus one batch for a client that never reads, then lets it go", () => {
    const hub = new Hub({ replaySize: 100 });
    const limit = 64 * 1024;
    const stuck = subscribe(hub, DIR, { max: limit });
    const reading = subscribe(hub, DIR, { max: limit });
    stuck.stream.stuck = true;
    const delta = "x".repeat(1000);
    let peak = 0;
    let largestBatch = 0;
    for (let batch = 0; batch < 1000; batch++) {
      for (let i = 0; i < 10; i++) {
        hub.dispatch({
          directory: DIR,
          payload: { id: `evt_big_${batch}_${i}`, type: "message.part.delta", properties: { delta } },
        });
      }
      hub.flush();
      // One write per flush: the batch, as the reading client got it.
      largestBatch = Math.max(largestBatch, reading.stream.chunks.at(-1)?.length ?? 0);
      peak = Math.max(peak, stuck.stream.writableLength);
    }
    // 10,000 events of 1 KB (10 MB) went by; the stuck client never held more than this.
    expect(stuck.stream.destroyed).toBe(true);
    expect(peak).toBeGreaterThan(limit);
    expect(peak).toBeLessThanOrEqual(limit + largestBatch);
    expect(reading.stream.types()).toHaveLength(10_001);
    expect(hub.subscriberTotal).toBe(1);
  });

  it("forgets the history of the idlest instance beyond maxInstances, never one with subscribers", () => {
    const hub = new Hub({ replaySize: 10, maxInstances: 2 });
    const watched = subscribe(hub, "/a");
    const left = subscribe(hub, "/b");
    publish(hub, event("x", "/a"));
    publish(hub, event("x", "/b"));
    const cursorA = watched.stream.frames()[1]?.id;
    const cursorB = left.stream.frames()[1]?.id;
    left.stream.end();
    publish(hub, event("y", "/b")); // nobody saw this one; it goes with /b's history
    publish(hub, event("x", "/c"));
    publish(hub, event("x", "/a"));
    expect(subscribe(hub, "/a", { lastEventId: cursorA }).result.resumed).toBe(true);
    expect(subscribe(hub, "/b", { lastEventId: cursorB }).result.resumed).toBe(false);
    // A cursor at /b's last event lost nothing: it resumes (with nothing to replay).
    const upToDate = subscribe(hub, "/c", { lastEventId: `${hub.epoch}-${hub.lastSeq}` });
    expect(upToDate.result.resumed).toBe(true);
  });

  it("gives a whole-server subscriber every instance's events, wrapped as /global/event wraps them", () => {
    const hub = new Hub({ replaySize: 10 });
    const stream = new FakeStream();
    hub.subscribe(new Subscriber(undefined, undefined, stream.asStream(), 1 << 20));
    const mine = subscribe(hub, DIR);
    publish(hub, event("session.created", DIR, { project: "prj_1" }));
    publish(hub, event("session.created", OTHER, { project: "prj_2", workspace: "wrk_a" }));
    publish(hub, event("server.instance.disposed", DIR));
    hub.heartbeat();
    const frames = stream.frames() as unknown as Array<{ id?: string; json: Record<string, unknown> }>;
    expect(frames[0]?.json).toMatchObject({ payload: { type: "server.connected", properties: {} } });
    expect(frames[0]?.json.directory).toBeUndefined();
    expect(frames[1]?.json).toMatchObject({
      directory: DIR,
      project: "prj_1",
      payload: { type: "session.created" },
    });
    expect(frames[2]?.json).toMatchObject({
      directory: OTHER,
      project: "prj_2",
      workspace: "wrk_a",
      payload: { type: "session.created" },
    });
    expect(frames[3]?.json).toMatchObject({ directory: DIR, payload: { type: "server.instance.disposed" } });
    expect(frames[4]?.json).toMatchObject({ payload: { type: "server.heartbeat" } });
    expect(frames[1]?.id).toBe(mine.stream.frames()[1]?.id);
    // An instance's disposal ends that instance's streams, not the whole server's.
    expect(stream.ended).toBe(false);
    expect(mine.stream.ended).toBe(true);
  });

  it("resumes a whole-server subscriber across instances, in order", () => {
    const hub = new Hub({ replaySize: 10 });
    const first = new FakeStream();
    hub.subscribe(new Subscriber(undefined, undefined, first.asStream(), 1 << 20));
    publish(hub, event("a", DIR));
    const cursor = first.frames()[1]?.id;
    first.end();
    publish(hub, event("b", OTHER));
    publish(hub, event("c", DIR));
    publish(hub, event("d", "/third"));
    const again = new FakeStream();
    const { resumed } = hub.subscribe(
      new Subscriber(undefined, undefined, again.asStream(), 1 << 20),
      cursor,
    );
    expect(resumed).toBe(true);
    const payloadTypes = again
      .frames()
      .map((frame) => (frame.json as unknown as { payload: { type: string } }).payload.type);
    expect(payloadTypes).toEqual(["server.connected", "b", "c", "d"]);
  });

  it("writes a turn's events to each subscriber in one go, a late joiner only what came after it", async () => {
    const metrics = new RecordingMetrics();
    const hub = new Hub({ replaySize: 100, metrics });
    const early = subscribe(hub);
    const before = early.stream.chunks.length;
    hub.dispatch(event("message.part.delta"));
    hub.dispatch(event("message.part.delta"));
    const late = subscribe(hub);
    hub.dispatch(event("message.part.delta", DIR, { workspace: "wrk_a" }));
    hub.dispatch(event("session.idle"));
    expect(early.stream.chunks.length).toBe(before); // nothing yet: writing waits for the end of the turn
    await new Promise((resolve) => setImmediate(resolve));
    expect(early.stream.chunks.length).toBe(before + 1);
    expect(early.stream.types()).toEqual([
      "server.connected",
      "message.part.delta",
      "message.part.delta",
      "message.part.delta",
      "session.idle",
    ]);
    expect(late.stream.types()).toEqual(["server.connected", "message.part.delta", "session.idle"]);
    expect(metrics.frames).toBe(6);
  });

  it("ends streams at a disposal within a turn, and spares those that came after it", () => {
    const hub = new Hub({ replaySize: 100 });
    const before = subscribe(hub);
    hub.dispatch(event("session.updated"));
    hub.dispatch(event("server.instance.disposed"));
    const after = subscribe(hub);
    hub.dispatch(event("session.created"));
    hub.flush();
    expect(before.stream.types()).toEqual([
      "server.connected",
      "session.updated",
      "server.instance.disposed",
    ]);
    expect(before.stream.ended).toBe(true);
    expect(after.stream.types()).toEqual(["server.connected", "session.created"]);
    expect(after.stream.ended).toBe(false);
  });

  it("ends every stream on close, and waits for them to finish", async () => {
    const hub = new Hub({ replaySize: 10 });
    const a = subscribe(hub);
    const b = subscribe(hub, OTHER);
    await hub.close();
    expect(a.stream.ended && b.stream.ended).toBe(true);
    expect(hub.subscriberTotal).toBe(0);
  });

  it("writes a stream that follows sessions only updates about them or their descendants, live and replayed, and the instance's disposal", () => {
    const hub = new Hub({ replaySize: 10 });
    const whole = subscribe(hub);
    const follower = subscribe(hub, DIR, { sessions: ["ses_a"] });
    const about = (type: string, ...sessions: string[]) => {
      const envelope = event(type);
      const update = hub.dispatch(envelope, sessions);
      hub.flush();
      return update;
    };
    const first = about("message.updated", "ses_a");
    about("message.updated", "ses_b");
    about("message.part.delta", "ses_child", "ses_a");
    about("file.edited");
    expect(whole.stream.types()).toEqual([
      "server.connected",
      "message.updated",
      "message.updated",
      "message.part.delta",
      "file.edited",
    ]);
    expect(follower.stream.types()).toEqual(["server.connected", "message.updated", "message.part.delta"]);
    const resumed = subscribe(hub, DIR, { sessions: ["ses_child"], lastEventId: first?.cursor });
    expect(resumed.stream.types()).toEqual(["server.connected", "message.part.delta"]);
    about("server.instance.disposed");
    expect(follower.stream.types().at(-1)).toBe("server.instance.disposed");
    expect(follower.subscriber.isClosed).toBe(true);
  });

  it("writes streams that follow the same sessions one shared buffer, and other filters their own", () => {
    const hub = new Hub({ replaySize: 10 });
    const one = subscribe(hub, DIR, { sessions: ["ses_a", "ses_b"] });
    const same = subscribe(hub, DIR, { sessions: ["ses_b", "ses_a"] });
    const other = subscribe(hub, DIR, { sessions: ["ses_a"] });
    hub.dispatch(event("message.updated"), ["ses_a"]);
    hub.dispatch(event("message.updated"), ["ses_b"]);
    hub.flush();
    const last = (stream: FakeStream) => stream.chunks.at(-1);
    expect(last(one.stream)).toBe(last(same.stream));
    expect(last(other.stream)).not.toBe(last(one.stream));
    expect(one.stream.types()).toEqual(["server.connected", "message.updated", "message.updated"]);
    expect(other.stream.types()).toEqual(["server.connected", "message.updated"]);
  });
});
