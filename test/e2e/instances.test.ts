import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ModelServer, startModelServer } from "../../fixtures/model-server.js";
import { type OpencodeServer, startOpencode } from "../../fixtures/opencode.js";
import { createSession } from "../../fixtures/opencode-rest.js";
import { type Relay, startRelay } from "../../fixtures/relay.js";
import { sample, scrape } from "../../fixtures/shim-metrics.js";
import { SseClient } from "../../fixtures/sse-client.js";
import type { Shim } from "../../src/app.js";
import { startTestShim } from "../helpers/shim.js";
import { eventually } from "../helpers/wait.js";

/** Directories named by one `/event` client each. */
const DIRECTORIES = 24;
/** The reconciler lets an instance go 30 s after it was last followed; a read or two more, and the scrape. */
const RELEASED_WITHIN_MS = 40_000;

/**
 * Instances nobody follows are not read: `/event` clients naming many directories come and
 * go while a `/global/event` client stays, in front of real opencode 1.14.48; the shim's
 * requests to upstream (counted by a relay between the two) stop a short while after the
 * last client left.
 */
describe("instances nobody follows, in front of opencode 1.14.48", () => {
  let model: ModelServer;
  let opencode: OpencodeServer;
  const directories: string[] = [];
  const clients: SseClient[] = [];
  const shims: Shim[] = [];
  const relays: Relay[] = [];

  beforeAll(async () => {
    model = await startModelServer();
    opencode = await startOpencode({ version: "1.14.48", modelBaseURL: model.baseURL });
    for (let n = 0; n < DIRECTORIES; n++) directories.push(mkdtempSync(join(tmpdir(), "shim-instance-")));
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const shim of shims.splice(0)) await shim.close();
    for (const relay of relays.splice(0)) await relay.close();
  });

  afterAll(async () => {
    await opencode?.stop();
    await model?.close();
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  });

  /** A shim with `flags`, its requests to opencode counted by a relay. */
  async function shim(flags: string[]): Promise<{ shim: Shim; relay: Relay }> {
    const relay = await startRelay(opencode.url);
    relays.push(relay);
    const started = await startTestShim(relay.url, flags);
    shims.push(started);
    return { shim: started, relay };
  }

  async function subscribe(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = await SseClient.connect(url, headers);
    clients.push(client);
    expect(client.status).toBe(200);
    await client.waitFor(
      (event) => event.json.type === "server.connected" || event.json.payload !== undefined,
    );
    return client;
  }

  /** The shim's requests to opencode a second, over the next `ms`. */
  async function rate(relay: Relay, ms: number): Promise<number> {
    const before = relay.requests.length;
    await sleep(ms); // a measurement window: time passing is what is measured
    return (relay.requests.length - before) / (ms / 1000);
  }

  const instancesRead = async (url: string) =>
    sample(await scrape(url), "opencode_shim_reconciler_instances") ?? Number.NaN;

  /**
   * One `/event` client per directory (every other one naming it by header), connected
   * together; the rate while they are; then they leave, and the time until the shim reads
   * no instance any more, and the rate after.
   */
  async function comeAndGo(url: string, relay: Relay) {
    const events = await Promise.all(
      directories.map((directory, n) =>
        n % 2 === 0
          ? subscribe(`${url}/event?directory=${encodeURIComponent(directory)}`)
          : subscribe(`${url}/event`, { "x-opencode-directory": directory }),
      ),
    );
    expect(await instancesRead(url)).toBeGreaterThanOrEqual(DIRECTORIES);
    const followed = await rate(relay, 3000);
    for (const client of events) client.close();
    const left = Date.now();
    await eventually(
      async () => (await instancesRead(url)) === 0,
      RELEASED_WITHIN_MS,
      "no instance read",
      500,
    );
    const releasedAfterMs = Date.now() - left;
    const after = await rate(relay, 3000);
    return { followed, releasedAfterMs, after };
  }

  it("in poll mode with a /global/event client connected, stops reading the instances once their clients left", async () => {
    const { shim: polling, relay } = await shim(["--source", "poll"]);
    const global = await subscribe(`${polling.url}/global/event`);
    const { followed, releasedAfterMs, after } = await comeAndGo(polling.url, relay);
    console.log(
      `poll: ${followed.toFixed(1)} requests/s with ${DIRECTORIES} instances followed; none read ${(releasedAfterMs / 1000).toFixed(1)} s after the last client left; then ${after.toFixed(1)} requests/s`,
    );
    expect(followed).toBeGreaterThanOrEqual(DIRECTORIES / 2);
    expect(after).toBe(0);
    expect(polling.hub.globalSubscriberCount).toBe(1);

    // The /global/event client is still served: an instance a request names is followed again.
    const session = await createSession(polling.url, { directory: directories[0] });
    const created = await global.waitFor(
      (event) =>
        (event.json.payload as { type?: string; properties?: { info?: { id?: string } } } | undefined)
          ?.properties?.info?.id === session.id,
      10_000,
      "session.created of an instance named again",
    );
    expect(created.json).toMatchObject({ directory: directories[0], payload: { type: "session.created" } });
    expect(await instancesRead(polling.url)).toBe(1);
    // So is opencode's own instance, let go as quiet, when a request naming none works in it again.
    const own = await createSession(polling.url);
    await global.waitFor(
      (event) =>
        (event.json.payload as { type?: string; properties?: { info?: { id?: string } } } | undefined)
          ?.properties?.info?.id === own.id,
      10_000,
      "session.created in opencode's own instance",
    );
  }, 150_000);

  it("in auto mode behind a live stream, stops reading the instances once their clients left", async () => {
    const { shim: streaming, relay } = await shim([]);
    expect(streaming.sources?.feeder).toBe("stream");
    await subscribe(`${streaming.url}/global/event`);
    const { followed, releasedAfterMs, after } = await comeAndGo(streaming.url, relay);
    console.log(
      `auto: ${followed.toFixed(1)} requests/s with ${DIRECTORIES} instances followed; none read ${(releasedAfterMs / 1000).toFixed(1)} s after the last client left; then ${after.toFixed(1)} requests/s`,
    );
    expect(followed).toBeGreaterThanOrEqual(DIRECTORIES / 2);
    expect(after).toBe(0);
  }, 150_000);
});
