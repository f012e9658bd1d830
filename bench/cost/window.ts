import type { OpencodeServer } from "../../fixtures/opencode.js";
import type { Relay } from "../../fixtures/relay.js";
import { sleep } from "../common/clock.js";
import { type ShimProcess, startShim } from "../common/process.js";
import { openSseReader, type SseReader } from "../common/sse-reader.js";
import { readHealth } from "../convergence/shim-status.js";
import { type BusyScene, type BusyWork, startBusyWork } from "./busy-work.js";
import type { Mode } from "./modes.js";
import { deleteSessions, forkSessions, type Template } from "./sessions.js";
import { measureUpstream, type UpstreamUse, untilQuiet } from "./upstream-window.js";

export interface Stage {
  opencode: OpencodeServer;
  /** The canonical directory of the instance the sessions live in. */
  directory: string;
  relay: Relay;
  template: Template;
  windowSeconds: number;
}

export interface Measured extends UpstreamUse {
  /** The shim's `/shim/health` when the window began and ended (`ok`, `ok → degraded`…); none without the shim. */
  health?: string;
  /** What makes the window less than it says. */
  caveats: string[];
}

/** After the turns began (and the shim judged the stream), before measuring: their first burst is over. */
const SETTLE_MS = 2000;
/** How long a shim gets to find a lying stream lying once the turns began. */
const JUDGE_TIMEOUT_MS = 20_000;
/** Turns outlast the window by this much beside the waits before it (they are aborted after it). */
const TURN_SPARE_SECONDS = 15;

function turnSeconds(stage: Stage): number {
  return stage.windowSeconds + (JUDGE_TIMEOUT_MS + SETTLE_MS) / 1000 + TURN_SPARE_SECONDS;
}

/** opencode's CPU below which it counts as quiet before a scene is set (a share of one core). */
const QUIET_SHARE = 0.03;

/** Fresh forks of the template, busy with `scene` while `measure` runs; ended and deleted after. */
async function withBusySessions(
  stage: Stage,
  scene: BusyScene,
  busy: number,
  beforeTurns: () => Promise<void>,
  measure: (work: BusyWork) => Promise<Measured>,
): Promise<Measured> {
  const { opencode, directory } = stage;
  const sessions = await forkSessions(opencode.url, directory, stage.template, busy);
  try {
    const quiet = await untilQuiet(opencode.pid, QUIET_SHARE, 15_000);
    await beforeTurns();
    const work = await startBusyWork(opencode.url, directory, sessions, scene, turnSeconds(stage));
    try {
      const measured = await measure(work);
      if (quiet >= QUIET_SHARE)
        measured.caveats.push(`opencode used ${(quiet * 100).toFixed(1)} % of a core just before the scene`);
      return measured;
    } finally {
      await work.end();
    }
  } finally {
    await deleteSessions(opencode.url, directory, sessions);
  }
}

async function spoiled(work: BusyWork): Promise<string[]> {
  return (await work.allBusy()) ? [] : ["a turn ended before the window did"];
}

/** The scene without the shim: a plain client of opencode's own `/global/event` instead. */
export async function measureWithoutShim(stage: Stage, scene: BusyScene, busy: number): Promise<Measured> {
  const held: { direct?: SseReader } = {};
  try {
    return await withBusySessions(
      stage,
      scene,
      busy,
      async () => {
        held.direct = await openSseReader(`${stage.opencode.url}/global/event`);
        await held.direct.waitFor((event) => event.type === "server.connected", 30_000, "server.connected");
      },
      async (work) => {
        await sleep(SETTLE_MS);
        const use = await measureUpstream(stage.opencode.pid, undefined, stage.windowSeconds);
        return { ...use, caveats: await spoiled(work) };
      },
    );
  } finally {
    held.direct?.close();
  }
}

/** Polls `/shim/health` (it asks upstream too: never inside a window) until it says `status`. */
async function awaitHealth(shim: ShimProcess, status: string, timeoutMs: number): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const now = (await readHealth(shim.url)).status;
    if (now === status || performance.now() > deadline) return now;
    await sleep(250);
  }
}

/**
 * The scene with the shim in front, as users run it (`--log-dir` opencode's log, as when
 * it starts opencode itself), the relay between them falsifying the stream as `mode`
 * says, and one client of the shim's `/event` following the instance.
 */
export async function measureWithShim(
  stage: Stage,
  mode: Mode,
  scene: BusyScene,
  busy: number,
): Promise<Measured> {
  const held: { shim?: ShimProcess; client?: SseReader } = {};
  stage.relay.setStreamFault(mode.fault);
  try {
    return await withBusySessions(
      stage,
      scene,
      busy,
      async () => {
        const shim = await startShim(stage.relay.url, ["--log-dir", stage.opencode.logDir]);
        held.shim = shim;
        held.client = await openSseReader(
          `${shim.url}/event?directory=${encodeURIComponent(stage.directory)}`,
        );
        await held.client.waitFor((event) => event.type === "server.connected", 30_000, "server.connected");
        // The reconciler's first look at the instance, before anything happens in it.
        await sleep(1000);
      },
      async (work) => {
        const running = held.shim as ShimProcess;
        const before = await awaitHealth(running, mode.expect, JUDGE_TIMEOUT_MS);
        await sleep(SETTLE_MS);
        const use = await measureUpstream(
          stage.opencode.pid,
          { pid: running.pid, relay: stage.relay },
          stage.windowSeconds,
        );
        const caveats = await spoiled(work);
        const after = (await readHealth(running.url)).status;
        if (before !== mode.expect)
          caveats.push(`the shim said ${before}, not ${mode.expect}, when it began`);
        return { ...use, health: before === after ? before : `${before} → ${after}`, caveats };
      },
    );
  } finally {
    held.client?.close();
    await held.shim?.stop();
    stage.relay.setStreamFault({ kind: "honest" });
  }
}
