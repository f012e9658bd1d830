import { startModelServer } from "../../fixtures/model-server.js";
import { type OpencodeServer, startOpencode } from "../../fixtures/opencode.js";
import { type Relay, startRelay } from "../../fixtures/relay.js";
import type { BenchContext } from "../common/context.js";
import { percent } from "../common/report.js";
import type { BusyScene } from "./busy-work.js";
import { MODES } from "./modes.js";
import { reportCost } from "./report.js";
import { buildTemplate, MESSAGE_WINDOW } from "./sessions.js";
import type { CostRow } from "./targets.js";
import { measureWithoutShim, measureWithShim, type Stage } from "./window.js";

/**
 * Bash turns of the session every busy session is forked from. With a short exchange on
 * either side, 10 messages: once a busy turn adds its two, the reconciler's 10-message window
 * holds both full tool outputs, and older history lies beyond it (issue 22 measured such
 * windows at about 155 KiB).
 */
const TEMPLATE_TOOL_TURNS = 2;

interface Step {
  scene: BusyScene;
  busy: number;
}

const FULL_PLAN: Step[] = [
  { scene: "silent", busy: 1 },
  { scene: "silent", busy: 4 },
  { scene: "silent", busy: 16 },
  { scene: "streaming", busy: 1 },
  { scene: "streaming", busy: 4 },
  { scene: "streaming", busy: 16 },
];
/** BENCH_QUICK: proves it runs (one busy session, silent), too short to judge by. */
const QUICK_PLAN: Step[] = [{ scene: "silent", busy: 1 }];

async function canonicalDirectory(opencodeUrl: string, directory: string): Promise<string> {
  const response = await fetch(`${opencodeUrl}/path?directory=${encodeURIComponent(directory)}`);
  return ((await response.json()) as { directory: string }).directory;
}

/** Seconds measured per window: BENCH_COST_WINDOW if set (e.g. for a trial), else 15 (3 when quick). */
function windowSeconds(quick: boolean): number {
  const chosen = Number(process.env.BENCH_COST_WINDOW);
  return Number.isFinite(chosen) && chosen > 0 ? chosen : quick ? 3 : 15;
}

/**
 * Upstream cost (issue 22): what the shim asks of opencode — opencode's CPU with the shim
 * in front against the same scene without it, and the requests and KiB a second the shim
 * reads — at 1, 4 and 16 busy sessions of realistic size, silent and streaming, behind an
 * honest, a mute and a lossy stream.
 */
export async function runCost(context: BenchContext): Promise<void> {
  const seconds = windowSeconds(context.quick);
  const plan = context.quick ? QUICK_PLAN : FULL_PLAN;
  const model = await startModelServer();
  let opencode: OpencodeServer | undefined;
  let relay: Relay | undefined;
  try {
    opencode = await startOpencode({
      version: context.lab.version,
      modelBaseURL: model.baseURL,
      config: { permission: { bash: "allow" } },
    });
    relay = await startRelay(opencode.url);
    const directory = await canonicalDirectory(opencode.url, opencode.projectDir);
    const template = await buildTemplate(opencode.url, directory, TEMPLATE_TOOL_TURNS);
    process.stdout.write(
      `\ntemplate session: ${template.messages} messages, the newest ${MESSAGE_WINDOW} ${(template.windowBytes / 1024).toFixed(1)} KiB\n`,
    );
    const stage: Stage = { opencode, directory, relay, template, windowSeconds: seconds };
    const rows: CostRow[] = [];
    const missing: string[] = [];
    for (const { scene, busy } of plan) {
      try {
        const without = await measureWithoutShim(stage, scene, busy);
        for (const mode of MODES) {
          const withShim = await measureWithShim(stage, mode, scene, busy);
          rows.push({ mode, scene, busy, withShim, without });
          process.stdout.write(
            `${scene} × ${busy}, ${mode.label}: opencode ${percent(withShim.cpu)} with the shim, ${percent(without.cpu)} without; ${withShim.requestsPerSecond.toFixed(1)} requests/s, ${withShim.restKiBPerSecond.toFixed(1)} KiB/s; shim ${percent(withShim.shimCpu ?? Number.NaN)} (${withShim.health}${withShim.caveats.length ? `; ${withShim.caveats.join("; ")}` : ""})\n`,
          );
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        process.stdout.write(`${scene} × ${busy} failed: ${message}\n`);
        missing.push(`${scene} × ${busy} busy: failed (${message.split("\n")[0]})`);
      }
    }
    reportCost(context, rows, {
      windowSeconds: seconds,
      templateToolTurns: TEMPLATE_TOOL_TURNS,
      templateWindowKiB: template.windowBytes / 1024,
      templateMessages: template.messages,
      missing,
    });
  } finally {
    await relay?.close();
    await opencode?.stop();
    await model.close();
  }
}
