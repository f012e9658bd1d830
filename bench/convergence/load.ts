import { abort, sessionStatus } from "../../fixtures/opencode-rest.js";
import type { Relay } from "../../fixtures/relay.js";
import { scrape, total } from "../../fixtures/shim-metrics.js";
import { nowUs, sleep } from "../common/clock.js";
import { driveUntilHealth, enterPhase, newSession, promptAsync, type Scene } from "./scene.js";
import { type HealthWatch, readHealth } from "./shim-status.js";

export interface Load {
  stream: "honest" | "mute";
  scene: "idle" | "busy";
  /** The shim's health over the window, as sampled (e.g. `ok`, or `ok → degraded`). */
  health: string;
  windowSeconds: number;
  /** `opencode_shim_reconciler_requests_total` over the window, per second. */
  perSecond: number;
  /** Something that makes the row less than it says (the session was not busy the whole window…). */
  caveat?: string;
}

const REQUESTS = "opencode_shim_reconciler_requests_total";
/** Gives a degraded shim time to be judged so, and a trusted one back (the hold doubles when the stream flaps). */
const HEALTH_TIMEOUT_MS = { degraded: 60_000, ok: 360_000 };

async function until(test: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await test())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

function healthOver(health: HealthWatch, fromUs: number, toUs: number): string {
  const statuses: string[] = [];
  for (const sample of health.between(fromUs, toUs))
    if (statuses.at(-1) !== sample.status) statuses.push(sample.status);
  return statuses.join(" → ") || "–";
}

/** The reconciler's requests over one window of `seconds`, with whatever the scene holds meanwhile. */
async function window(scene: Scene, health: HealthWatch, seconds: number) {
  const before = total(await scrape(scene.shim.url), REQUESTS);
  const fromUs = nowUs();
  await sleep(seconds * 1000);
  const requests = total(await scrape(scene.shim.url), REQUESTS) - before;
  const toUs = nowUs();
  return { perSecond: requests / ((toUs - fromUs) / 1e6), health: healthOver(health, fromUs, toUs) };
}

/**
 * One followed instance with nothing happening, then one session streaming a long reply
 * (started with prompt_async through the shim, aborted after the window), each measured
 * from the shim's own request counter.
 */
async function idleAndBusy(
  scene: Scene,
  opencodeUrl: string,
  health: HealthWatch,
  stream: Load["stream"],
  seconds: number,
): Promise<Load[]> {
  const quiet = async () =>
    Object.keys(await sessionStatus(opencodeUrl, { directory: scene.directory })).length === 0;
  await until(quiet, 30_000, "the instance going quiet");
  // The reconciler slows down a read or two after the last busy session went idle.
  await sleep(2000);
  const idle: Load = {
    stream,
    scene: "idle",
    windowSeconds: seconds,
    ...(await window(scene, health, seconds)),
  };

  const sessionID = await newSession(scene);
  scene.watcher.unfollow(sessionID);
  // Streams longer than the window: 30 ms a chunk, with 5 s to spare.
  await promptAsync(
    scene,
    sessionID,
    `[chunks:${Math.ceil((seconds + 5) / 0.03)}] [delay:30] keep streaming`,
  );
  const busyNow = async () => sessionID in (await sessionStatus(opencodeUrl, { directory: scene.directory }));
  await until(busyNow, 30_000, "the long reply starting");
  await sleep(1000);
  const measured = await window(scene, health, seconds);
  const stillBusy = await busyNow();
  await abort(scene.shim.url, sessionID, { directory: scene.directory });
  await until(quiet, 30_000, "the long reply ending after abort");
  const busy: Load = {
    stream,
    scene: "busy",
    windowSeconds: seconds,
    ...measured,
    caveat: stillBusy ? undefined : "the reply ended before the window did",
  };
  return [idle, busy];
}

/**
 * Upstream requests per second the reconciler makes: behind an honest, trusted stream
 * (measured only once the shim says `ok`), then degraded on a mute one.
 */
export async function measureLoads(
  scene: Scene,
  relay: Relay,
  opencodeUrl: string,
  health: HealthWatch,
  seconds: number,
): Promise<Load[]> {
  relay.setStreamFault({ kind: "honest" });
  enterPhase(scene, "request rate, honest");
  if ((await readHealth(scene.shim.url)).status !== "ok") {
    const back = await driveUntilHealth(scene, "ok", 0, HEALTH_TIMEOUT_MS.ok);
    if (back === undefined)
      throw new Error("the shim's health did not come back to ok: no honest rows to measure");
  }
  const loads = await idleAndBusy(scene, opencodeUrl, health, "honest", seconds);

  relay.setStreamFault({ kind: "mute" });
  enterPhase(scene, "request rate, mute");
  const degraded = await driveUntilHealth(scene, "degraded", 0, HEALTH_TIMEOUT_MS.degraded);
  if (degraded === undefined)
    scene.anomalies.push("request rate: a mute stream was not judged lying within 60 s");
  loads.push(...(await idleAndBusy(scene, opencodeUrl, health, "mute", seconds)));

  relay.setStreamFault({ kind: "honest" });
  enterPhase(scene, "request rate, back to honest");
  const back = await driveUntilHealth(scene, "ok", 4000, HEALTH_TIMEOUT_MS.ok);
  if (back === undefined)
    scene.anomalies.push("request rate: health not ok again within 360 s of an honest stream");
  return loads;
}
