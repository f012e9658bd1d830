import { createWriteStream, type WriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startModelServer } from "../../fixtures/model-server.js";
import { type OpencodeServer, startOpencode } from "../../fixtures/opencode.js";
import { type Relay, startRelay } from "../../fixtures/relay.js";
import { labelledSamples, scrape, total } from "../../fixtures/shim-metrics.js";
import type { StreamFault } from "../../fixtures/stream-faults.js";
import { nowUs, sleep } from "../common/clock.js";
import type { BenchContext } from "../common/context.js";
import { type ShimProcess, startShim } from "../common/process.js";
import { openSseReader, type SseReader } from "../common/sse-reader.js";
import { summarize } from "../common/stats.js";
import { busyAlongside } from "./busy-alongside.js";
import { Tally } from "./changes.js";
import { measureLoads } from "./load.js";
import { describeHealth, outcomes } from "./outcome.js";
import { type ModeRow, reportLoads, reportModes, writeRecord } from "./report.js";
import { driveUntilHealth, enterPhase, phaseAt, runTurns, type Scene, TURNS } from "./scene.js";
import { HealthWatch } from "./shim-status.js";
import { TruthWatcher } from "./truth-watcher.js";

const MODES: Array<{ name: string; fault: StreamFault }> = [
  { name: "honest", fault: { kind: "honest" } },
  { name: "mute", fault: { kind: "mute" } },
  { name: "drop 40 % (seed 7)", fault: { kind: "drop", percent: 40, seed: 7 } },
  { name: "drop-sync", fault: { kind: "drop-sync" } },
  { name: "delay 1000 ms", fault: { kind: "delay", ms: 1000 } },
  { name: "delay 5000 ms", fault: { kind: "delay", ms: 5000 } },
];
const BACK = "back on an honest stream, until ok";
/** Then every mode again beside this many busy sessions, each in a silent tool call. */
const BUSY_ALONGSIDE = 16;
/** Verdicts from before the stream turned honest may still be due this long after (LATE_MS + a read). */
const SETTLE_AFTER_HONEST_MS = 4000;
/** The shim's hold before trusting a stream again doubles when the stream flaps, up to 300 s. */
const BACK_TIMEOUT_MS = 360_000;

/** The shim's stderr, all of it, in a file kept after the run: what it logged is what to read when it misbehaves. */
function keepLog(shim: ShimProcess): { path: string; out: WriteStream } {
  const path = join(tmpdir(), `convergence-shim-${shim.pid}.log`);
  const out = createWriteStream(path);
  out.write(shim.stderr());
  shim.process.stderr?.on("data", (text: string) => out.write(text));
  return { path, out };
}

function switchesBetween(before: string, after: string): string {
  const name = "opencode_shim_feeder_switches_total";
  const earlier = labelledSamples(before, name);
  const moved: string[] = [];
  for (const [labels, value] of labelledSamples(after, name)) {
    const delta = value - (earlier.get(labels) ?? 0);
    if (delta > 0) moved.push(`${labels.replace(/"/g, "")} ×${delta}`);
  }
  return moved.join(", ") || "none";
}

/** One stream mode: the turns under the fault, then the stream honest again until the shim trusts it. */
async function runMode(
  scene: Scene,
  relay: Relay,
  health: HealthWatch,
  mode: (typeof MODES)[number],
): Promise<ModeRow> {
  const before = await scrape(scene.shim.url);
  enterPhase(scene, mode.name);
  const startUs = nowUs();
  relay.setStreamFault(mode.fault);
  await runTurns(scene, TURNS);
  const during = await scrape(scene.shim.url);
  relay.setStreamFault({ kind: "honest" });
  enterPhase(scene, BACK);
  const honestUs = nowUs();
  const back = await driveUntilHealth(scene, "ok", SETTLE_AFTER_HONEST_MS, BACK_TIMEOUT_MS);
  if (back === undefined)
    scene.anomalies.push(
      `${mode.name}: health not ok within ${BACK_TIMEOUT_MS / 1000} s of an honest stream`,
    );
  // The background samples must have seen what the loop above just read.
  await health.next();
  const after = await scrape(scene.shim.url);
  const corrections = "opencode_shim_reconciler_corrections_total";
  return {
    name: mode.name,
    outcome: undefined,
    health: describeHealth(health.samples, startUs, honestUs, nowUs()),
    corrections: total(during, corrections) - total(before, corrections),
    switches: switchesBetween(before, after),
  };
}

async function canonicalDirectory(opencodeUrl: string, directory: string): Promise<string> {
  const response = await fetch(`${opencodeUrl}/path?directory=${encodeURIComponent(directory)}`);
  return ((await response.json()) as { directory: string }).directory;
}

/**
 * Convergence: whatever upstream's stream does, every change REST shows reaches a client of
 * the shim within about 2 s, once. Real opencode behind a relay that falsifies its event
 * stream (honest, mute, lossy, sync events dropped, late), a shim in front as users run it,
 * a client of the shim's `/event`, and a truth watcher polling opencode's REST directly.
 * Then what the reconciler costs upstream, behind an honest stream and a mute one.
 */
export async function runConvergence(context: BenchContext): Promise<void> {
  const modes = context.quick ? MODES.slice(0, 2) : MODES;
  const windowSeconds = context.quick ? 3 : 10;
  const model = await startModelServer();
  let opencode: OpencodeServer | undefined;
  let relay: Relay | undefined;
  let shim: ShimProcess | undefined;
  let log: ReturnType<typeof keepLog> | undefined;
  const readers: SseReader[] = [];
  let health: HealthWatch | undefined;
  let watcher: TruthWatcher | undefined;
  try {
    // A bash call asks permission only when opencode is configured so: the Lab's opencode is not.
    opencode = await startOpencode({
      version: context.lab.version,
      modelBaseURL: model.baseURL,
      config: { permission: { bash: "ask" } },
    });
    relay = await startRelay(opencode.url);
    shim = await startShim(relay.url, ["--log-dir", opencode.logDir, "--log-level", "info"]);
    log = keepLog(shim);
    const directory = await canonicalDirectory(opencode.url, opencode.projectDir);
    const client = await openSseReader(`${shim.url}/event?directory=${encodeURIComponent(directory)}`);
    readers.push(client);
    await client.waitFor(
      (event) => event.type === "server.connected",
      30_000,
      "server.connected from the shim",
    );
    const direct = await openSseReader(`${opencode.url}/global/event`);
    readers.push(direct);
    health = new HealthWatch(shim.url);
    watcher = new TruthWatcher(opencode.url, directory);
    await watcher.start();
    const scene: Scene = {
      shim,
      directory,
      client,
      clientTally: new Tally(),
      watcher,
      anomalies: [],
      phase: "start",
      phases: [],
    };
    // The reconciler's first look at the instance, before anything happens in it.
    await sleep(1000);

    const runs: ModeRow[] = [];
    for (const mode of modes) runs.push(await runMode(scene, relay, health, mode));
    if (!context.quick) {
      enterPhase(scene, `${BUSY_ALONGSIDE} busy sessions starting`);
      const busy = await busyAlongside(opencode.url, directory, BUSY_ALONGSIDE);
      try {
        for (const mode of modes)
          runs.push(
            await runMode(scene, relay, health, {
              ...mode,
              name: `${mode.name}, ${BUSY_ALONGSIDE} busy beside`,
            }),
          );
      } finally {
        enterPhase(scene, `${BUSY_ALONGSIDE} busy sessions ending`);
        await busy.end();
      }
    }
    enterPhase(scene, "after the modes");
    scene.clientTally.catchUp(client.events);
    const reference = new Tally((event) => event.directory === directory);
    reference.catchUp(direct.events);
    const judged = outcomes(watcher.changes, scene.clientTally, reference, (atUs) => phaseAt(scene, atUs));
    const recordPath = join(tmpdir(), `convergence-record-${shim.pid}.jsonl`);
    writeRecord(recordPath, scene, direct.events, watcher.changes, health.samples);
    reportModes(
      context,
      [
        ...runs.map((run) => ({ ...run, outcome: judged.get(run.name) })),
        { name: BACK, outcome: judged.get(BACK) },
      ],
      {
        turns: TURNS.map((turn) => turn.name).join(", "),
        watcherPeriods: summarize(watcher.periodsUs.slice(1)),
        settleMs: SETTLE_AFTER_HONEST_MS,
        logPath: log.path,
        recordPath,
      },
    );

    reportLoads(
      context,
      await measureLoads(scene, relay, opencode.url, health, windowSeconds),
      windowSeconds,
    );
    for (const anomaly of scene.anomalies) process.stdout.write(`- anomaly: ${anomaly}\n`);
  } finally {
    await watcher?.stop();
    await health?.stop();
    for (const reader of readers) reader.close();
    await shim?.stop();
    log?.out.end();
    await relay?.close();
    await opencode?.stop();
    await model.close();
  }
}
