import { setTimeout as sleep } from "node:timers/promises";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { Hub } from "../../src/hub/hub.js";
import type { SessionInfo } from "../../src/hub/state.js";
import { Subscriber } from "../../src/hub/subscriber.js";
import { Reconciler, type ReconcilerOptions } from "../../src/sources/poll.js";
import { Upstream } from "../../src/upstream/upstream.js";
import { FakeStream } from "../helpers/fake-stream.js";
import { type RestUpstream, startRestUpstream } from "../helpers/rest-upstream.js";
import { eventually } from "../helpers/wait.js";

const DIRECTORY = "/rest/project";
const SESSION = "ses_poller";

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

function session(updated: number): SessionInfo {
  return { id: SESSION, directory: DIRECTORY, title: "t", time: { created: 1, updated } };
}

/** A reconciler on a scripted REST upstream, with one client of the instance (not yet followed). */
async function startReconciler(options: Partial<ReconcilerOptions>) {
  const rest: RestUpstream = await startRestUpstream();
  const upstream = new Upstream(rest.url);
  const hub = new Hub({ replaySize: 1000 });
  const reconciler = new Reconciler({
    upstream,
    hub,
    log: Fastify({ logger: false }).log,
    pollIntervalMs: 50,
    idleIntervalMs: 200,
    releaseAfterMs: 400,
    ...options,
  });
  const stream = new FakeStream();
  hub.subscribe(new Subscriber(DIRECTORY, undefined, stream.asStream(), 1 << 20));
  stops.push(async () => {
    stream.destroy();
    await reconciler.stop();
    await upstream.close();
    await rest.close();
  });
  return { rest, hub, reconciler, stream };
}

/** The same, with one session upstream, and the instance followed. */
async function setUp(options: Partial<ReconcilerOptions>) {
  const { rest, hub, reconciler, stream } = await startReconciler(options);
  rest.sessions.push(session(1));
  await reconciler.track(DIRECTORY);
  /** The events the client received of a type, for the session. */
  const received = (type: string) =>
    stream
      .frames()
      .filter(
        (frame) =>
          frame.json.type === type &&
          (frame.json.properties as { sessionID?: string } | undefined)?.sessionID === SESSION,
      );
  return { rest, hub, reconciler, stream, received };
}

/** Events as upstream's live stream hands them to the hub. */
function fromStream(hub: Hub, events: Array<readonly [string, string, Record<string, unknown>]>) {
  for (const [id, type, properties] of events) {
    hub.publish({ directory: DIRECTORY, origin: "global", payload: { id, type, properties } });
  }
}

/** What the reconciler published, `type: count`. */
function corrections(hub: Hub): Record<string, number> {
  const made: Record<string, number> = {};
  for (const [key, count] of hub.stats.eventsIn) {
    if (key.startsWith("reconciler ")) made[key.slice("reconciler ".length)] = count;
  }
  return made;
}

/** Reads of the instance (one session listing each) over the next `ms`. */
async function readsOver(rest: RestUpstream, ms: number): Promise<number> {
  const from = performance.now();
  await sleep(ms); // a measurement window, not a wait for something
  return rest.listReadsSince(from);
}

describe("the reconciler's cost follows the work", () => {
  it("reads a quiet instance slowly, a busy one fast, and an unfollowed one not at all", async () => {
    const { rest, reconciler, stream, received } = await setUp({});
    const quiet = await readsOver(rest, 1000);
    expect(quiet).toBeGreaterThanOrEqual(2); // every 200 ms: about 5
    expect(quiet).toBeLessThanOrEqual(7);

    rest.statuses[SESSION] = { type: "busy" };
    rest.sessions[0] = session(2);
    await eventually(() => received("session.status").length === 1, 5000, "session.status busy");
    const busy = await readsOver(rest, 1000);
    expect(busy).toBeGreaterThanOrEqual(8); // every 50 ms: about 20
    expect(busy).toBeGreaterThan(quiet * 2);

    // The client leaves: the instance is let go after `releaseAfterMs`, and reads stop.
    stream.destroy();
    await eventually(
      async () => (await readsOver(rest, 300)) === 0,
      5000,
      "reads to stop once nobody follows the instance",
    );
    const requests = reconciler.requests;
    expect(await readsOver(rest, 500)).toBe(0);
    expect(reconciler.requests).toBe(requests);
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
    const created = stream.frames().filter((frame) => frame.json.type === "session.created");
    expect(created.map((frame) => (frame.json.properties as { sessionID: string }).sessionID)).toEqual([
      "ses_fresh",
    ]);
  });
});

describe("behind a live stream (slow pace)", () => {
  /** The session went busy, as the stream said; then upstream finishes the turn. */
  async function busyThenIdle() {
    const parts = await setUp({ slowIntervalMs: 100 });
    parts.reconciler.setPace("slow");
    parts.rest.statuses[SESSION] = { type: "busy" };
    parts.rest.sessions[0] = session(2);
    fromStream(parts.hub, [
      ["evt_stream_updated", "session.updated", { sessionID: SESSION, info: session(2) }],
      ["evt_stream_busy", "session.status", { sessionID: SESSION, status: { type: "busy" } }],
    ]);
    await eventually(() => parts.received("session.status").length === 1, 5000, "busy");
    delete parts.rest.statuses[SESSION];
    parts.rest.sessions[0] = session(3);
    return parts;
  }

  it("makes up, once, for a session.idle the stream lost", async () => {
    const { hub, received } = await busyThenIdle();
    await eventually(() => received("session.idle").length === 1, 10_000, "the made-up session.idle");
    expect(received("session.status").map((frame) => frame.json.properties)).toEqual([
      { sessionID: SESSION, status: { type: "busy" } },
      { sessionID: SESSION, status: { type: "idle" } },
    ]);
    expect(received("session.idle")[0]?.json.id).toMatch(/^evt_/);
    await sleep(1500); // more reads, at the slow pace: nothing more to say
    expect(received("session.idle")).toHaveLength(1);
    expect(corrections(hub)).toEqual({ "session.updated": 1, "session.status": 1, "session.idle": 1 });
  });

  it("says nothing when the stream is merely late", async () => {
    const { hub, reconciler, received } = await busyThenIdle();
    await sleep(300); // the stream's events come 300 ms after REST shows the change
    fromStream(hub, [
      ["evt_stream_updated_again", "session.updated", { sessionID: SESSION, info: session(3) }],
      ["evt_stream_idle_status", "session.status", { sessionID: SESSION, status: { type: "idle" } }],
      ["evt_stream_idle", "session.idle", { sessionID: SESSION }],
    ]);
    await sleep(2500); // two settle periods of reads
    expect(received("session.idle").map((frame) => frame.json.id)).toEqual(["evt_stream_idle"]);
    expect(corrections(hub)).toEqual({});
    expect(reconciler.corrections).toBe(0);
  });
});
