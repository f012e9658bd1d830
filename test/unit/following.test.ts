import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { Subscriber } from "../../src/hub/subscriber.js";
import type { SessionInfo } from "../../src/opencode/state.js";
import type { ReconcilerOptions } from "../../src/sources/reconciler/reconciler.js";
import { FakeStream } from "../helpers/fake-stream.js";
import { reconcilerOnRest } from "../helpers/reconciler-on-rest.js";
import { teardownAfterEach } from "../helpers/teardown.js";
import { eventually } from "../helpers/wait.js";

const RELEASE_AFTER_MS = 400;
const SESSION = "ses_following";

const teardown = teardownAfterEach();

const directory = (n: number) => `/rest/project-${n}`;

function session(dir: string, updated: number): SessionInfo {
  return { id: SESSION, directory: dir, title: "t", time: { created: 1, updated } };
}

/** A reconciler feeding clients (as in `--source poll`) on a scripted REST upstream, with nobody following yet. */
async function start(options: Partial<ReconcilerOptions> = {}) {
  const released: string[] = [];
  const parts = await reconcilerOnRest(teardown, {
    idleIntervalMs: 100,
    releaseAfterMs: RELEASE_AFTER_MS,
    onRelease: (dir) => released.push(dir),
    ...options,
  });
  const { rest, hub } = parts;
  const streams: FakeStream[] = [];
  /** A client of `dir`'s `/event` (or, without `dir`, of the shim's own `/global/event`). */
  const client = (dir?: string, lastEventId?: string) => {
    const stream = new FakeStream();
    streams.push(stream);
    const { resumed } = hub.subscribe(
      new Subscriber(dir, undefined, stream.asStream(), 1 << 20),
      lastEventId,
    );
    return { stream, resumed };
  };
  teardown.add(() => {
    for (const stream of streams) stream.destroy();
  });
  /** Reads of any instance (one session listing each) over the next `ms`. */
  const readsOver = async (ms: number) => {
    const from = performance.now();
    await sleep(ms); // a measurement window, not a wait for something
    return rest.listReadsSince(from);
  };
  return { ...parts, released, client, readsOver };
}

describe("which instances the reconciler reads", () => {
  it("lets go of every instance once its /event clients leave, also while a /global/event client stays", async () => {
    const { hub, mirror, metrics, reconciler, client, readsOver } = await start();
    client(); // the /global/event client, connected throughout
    const clients = [];
    for (let n = 0; n < 20; n++) {
      await reconciler.track(directory(n));
      clients.push(client(directory(n)));
    }
    expect(reconciler.instanceCount).toBe(20);
    expect(metrics.instances).toBe(20);
    expect(await readsOver(300)).toBeGreaterThan(20);

    const left = Date.now();
    for (const { stream } of clients) stream.destroy();
    await eventually(() => reconciler.instanceCount === 0, 5000, "every instance let go");
    // Let go `releaseAfterMs` after the last client left, give or take a read.
    expect(Date.now() - left).toBeLessThan(RELEASE_AFTER_MS + 1000);
    expect(await readsOver(500)).toBe(0);
    expect(metrics.instances).toBe(0);
    expect(mirror.size).toBe(0);
    expect(hub.instanceCount).toBe(0);
    expect(hub.globalSubscriberCount).toBe(1);
  });

  it("lets go of an instance a request named once and that stayed quiet, though a /global/event client stays", async () => {
    const { reconciler, released, client, readsOver } = await start();
    client();
    await reconciler.track(directory(1));
    await eventually(() => released.includes(directory(1)), 5000, "the quiet instance let go");
    expect(reconciler.instanceCount).toBe(0);
    expect(await readsOver(300)).toBe(0);
  });

  it("keeps reading an instance named again and again, and lets it go once nobody names it", async () => {
    const { reconciler, released, client } = await start();
    client();
    await reconciler.track(directory(1));
    // Named every 100 ms (a client at work through the shim), for three times the release delay.
    for (let i = 0; i < (3 * RELEASE_AFTER_MS) / 100; i++) {
      await sleep(100); // the pace of the requests naming it
      await reconciler.track(directory(1));
    }
    expect(released).toEqual([]);
    await eventually(() => released.length === 1, 5000, "the instance let go");
  });

  it("keeps reading an instance with a busy session while a /global/event client is connected, and lets it go once quiet", async () => {
    const { rest, reconciler, released, client, mirror } = await start();
    const dir = directory(1);
    rest.sessions.push(session(dir, 1));
    client();
    await reconciler.track(dir);
    rest.statuses[SESSION] = { type: "busy" };
    rest.sessions[0] = session(dir, 2);
    await eventually(() => mirror.instance(dir).activeSessions().length === 1, 5000, "the session busy");
    // Busy for three times the release delay, then changed (its answer done) and idle.
    await sleep(3 * RELEASE_AFTER_MS); // time passing is what is tested
    expect(released).toEqual([]);
    delete rest.statuses[SESSION];
    rest.sessions[0] = session(dir, 3);
    const idleAt = Date.now();
    await eventually(() => mirror.instance(dir).activeSessions().length === 0, 5000, "the session idle");
    await eventually(() => released.length === 1, 5000, "the instance let go once quiet");
    // Its last change counts as followed: let go `releaseAfterMs` after it, not at once.
    expect(Date.now() - idleAt).toBeGreaterThanOrEqual(RELEASE_AFTER_MS - 100);
  });

  it("reads at most maxInstances, letting go of the one followed longest ago, never one with a client of its own", async () => {
    const { reconciler, released, client } = await start({ maxInstances: 3, releaseAfterMs: 60_000 });
    client();
    await reconciler.track(directory(0));
    client(directory(0)); // followed by its own client: never let go to make room
    for (let n = 1; n <= 5; n++) {
      await reconciler.track(directory(n));
      await sleep(5); // each named after the one before
    }
    expect(reconciler.instanceCount).toBe(3);
    expect(released).toEqual([directory(1), directory(2), directory(3)]);
  });

  it("forgets the history of an instance it lets go: a cursor into it starts afresh", async () => {
    const { hub, sink, reconciler, released, client } = await start();
    const dir = directory(1);
    const edited = (id: string) => {
      sink.publish({
        directory: dir,
        origin: "stream",
        payload: { id, type: "file.edited", properties: {} },
      });
      sink.flush();
    };
    await reconciler.track(dir);
    const first = client(dir);
    edited("evt_following_1");
    const cursor = first.stream.frames().at(-1)?.id;
    expect(cursor).toBeTruthy();
    expect(hub.instanceCount).toBe(1);
    first.stream.destroy();
    await eventually(() => released.includes(dir), 5000, "the instance let go");
    expect(hub.instanceCount).toBe(0);
    // Upstream went on meanwhile, unread: resuming would hide that, with or without newer history.
    await reconciler.track(dir);
    expect(client(dir, cursor).resumed).toBe(false);
    edited("evt_following_2");
    expect(hub.instanceCount).toBe(1);
    expect(client(dir, cursor).resumed).toBe(false);
  });
});
