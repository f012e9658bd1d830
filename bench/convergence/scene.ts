import { SAMPLE_QUESTION, toolPrompt } from "../../fixtures/model-server.js";
import * as rest from "../../fixtures/opencode-rest.js";
import { nowUs, sleep } from "../common/clock.js";
import type { ShimProcess } from "../common/process.js";
import type { SseReader } from "../common/sse-reader.js";
import type { Tally } from "./changes.js";
import { readHealth } from "./shim-status.js";
import type { TruthWatcher } from "./truth-watcher.js";

/**
 * What the convergence benchmark does to opencode, as a client of the shim would: prompts
 * sent through the shim, permissions and questions answered through it once the client
 * was told of them, and waits for the client to have caught up with REST.
 */
export interface Scene {
  shim: ShimProcess;
  directory: string;
  client: SseReader;
  clientTally: Tally;
  watcher: TruthWatcher;
  /** What went otherwise than with a working shim, for the report. */
  anomalies: string[];
  /** The phase running now (a stream mode, or a way back to an honest stream). */
  phase: string;
  /** Every phase so far, with when it began (µs): a change belongs to the phase in which REST first showed it. */
  phases: Array<{ label: string; fromUs: number }>;
}

export function enterPhase(scene: Scene, label: string): void {
  scene.phase = label;
  scene.phases.push({ label, fromUs: nowUs() });
}

/** The phase running at `atUs`. */
export function phaseAt(scene: Scene, atUs: number): string | undefined {
  return scene.phases.findLast((phase) => phase.fromUs <= atUs)?.label;
}

/** Longer than any prompt here takes; a prompt that runs past it means opencode or the shim is stuck. */
const PROMPT_TIMEOUT_MS = 180_000;
/** How long the client gets to receive what REST showed before the benchmark moves on (the promise: ~2 s). */
const CONVERGE_TIMEOUT_MS = 10_000;
/** A client that has not been told of a permission or question by then is answered from REST. */
const ASKED_TIMEOUT_MS = 15_000;

function shimAlive(scene: Scene): void {
  const { exitCode, signalCode } = scene.shim.process;
  if (exitCode !== null || signalCode !== null)
    throw new Error(`the shim exited (${exitCode ?? signalCode}): ${scene.shim.stderr().slice(-4000)}`);
  scene.watcher.failIfGone();
}

/** Through the shim, in the scene's instance, as its client would. */
function throughShim(scene: Scene): rest.RestOptions {
  return { directory: scene.directory, signal: AbortSignal.timeout(PROMPT_TIMEOUT_MS) };
}

/** A new session, created through the shim, whose messages and todos the truth watcher follows. */
export async function newSession(scene: Scene): Promise<string> {
  const { id } = await rest.createSession(scene.shim.url, throughShim(scene));
  scene.watcher.follow(id);
  return id;
}

export function prompt(scene: Scene, sessionID: string, text: string): Promise<unknown> {
  return rest.prompt(scene.shim.url, sessionID, text, throughShim(scene));
}

export function promptAsync(scene: Scene, sessionID: string, text: string): Promise<void> {
  return rest.promptAsync(scene.shim.url, sessionID, text, throughShim(scene));
}

function reply(scene: Scene, path: string, body: unknown): Promise<unknown> {
  return rest.call(scene.shim.url, "POST", path, body, throughShim(scene));
}

/** Waits until the client has received every change REST has shown so far; false if it has not within `timeoutMs`. */
export async function converged(scene: Scene, timeoutMs = CONVERGE_TIMEOUT_MS): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    shimAlive(scene);
    scene.clientTally.catchUp(scene.client.events);
    const missing = scene.watcher.changes.filter((change) => !scene.clientTally.firstUs.has(change.key));
    if (missing.length === 0) return true;
    if (performance.now() > deadline) {
      const kinds = [...new Set(missing.map((change) => change.kind))].join(", ");
      scene.anomalies.push(
        `${scene.phase}: ${missing.length} change(s) REST showed not at the client after ${timeoutMs / 1000} s (${kinds})`,
      );
      return false;
    }
    await sleep(50);
  }
}

/** After a turn: REST shows the session idle, the watcher has read its final state, the client has caught up. */
async function settle(scene: Scene, sessionID: string): Promise<void> {
  for (let read = 0; read < 200 && scene.watcher.isBusy(sessionID); read++) await scene.watcher.reads(1);
  await scene.watcher.reads(2);
  await converged(scene);
}

/** The id of the permission or question the client was told of; from REST (and noted) if it never was. */
async function askedOf(scene: Scene, kind: "permission" | "question", sessionID: string): Promise<string> {
  try {
    const asked = await scene.client.waitFor(
      (event) => event.type === `${kind}.asked` && event.properties.sessionID === sessionID,
      ASKED_TIMEOUT_MS,
      `${kind}.asked`,
    );
    return String(asked.properties.id);
  } catch {
    const id = scene.watcher.pendingOf(kind, sessionID);
    if (!id) throw new Error(`${scene.phase}: no ${kind} asked, at the client or in REST, after 15 s`);
    scene.anomalies.push(
      `${scene.phase}: the client was not told ${kind}.asked within 15 s; answered from REST`,
    );
    return id;
  }
}

interface Turn {
  name: string;
  run(scene: Scene, sessionID: string): Promise<void>;
}

/** The prompts of each mode, in order: each kind of change REST can show. */
export const TURNS: Turn[] = [
  { name: "plain reply", run: async (scene, id) => void (await prompt(scene, id, "say hello")) },
  {
    name: "long streamed reply",
    run: async (scene, id) => void (await prompt(scene, id, "[chunks:60] [delay:30] long")),
  },
  {
    name: "bash tool asking permission",
    run: async (scene, id) => {
      const turn = prompt(scene, id, "[bash:echo converged]");
      turn.catch(() => {}); // awaited below, unless answering fails first: that is the failure to report
      const request = await askedOf(scene, "permission", id);
      await reply(scene, `/permission/${request}/reply`, { reply: "once" });
      await turn;
    },
  },
  {
    name: "question",
    run: async (scene, id) => {
      const turn = prompt(scene, id, toolPrompt("question", SAMPLE_QUESTION));
      turn.catch(() => {}); // awaited below, unless answering fails first: that is the failure to report
      const request = await askedOf(scene, "question", id);
      await reply(scene, `/question/${request}/reply`, { answers: [["Blue"]] });
      await turn;
    },
  },
  {
    name: "todos",
    run: async (scene, id) => {
      const todos = [
        { content: `Converge (${scene.phase})`, status: "in_progress", priority: "high" },
        { content: "Report the figures", status: "pending", priority: "medium" },
      ];
      await prompt(scene, id, toolPrompt("todowrite", { todos }));
    },
  },
];

/** Runs the turns in a new session, each settled (the client caught up, or given up on) before the next. */
export async function runTurns(scene: Scene, turns: Turn[]): Promise<void> {
  const sessionID = await newSession(scene);
  try {
    await converged(scene);
    for (const turn of turns) {
      await turn.run(scene, sessionID);
      await settle(scene, sessionID);
    }
  } finally {
    scene.watcher.unfollow(sessionID);
  }
}

/**
 * Short prompts until the shim's health says `status` (not before `minMs`: verdicts about
 * what happened before may still be due), or `timeoutMs` passes. Returns how long it took
 * from the call (ms), or undefined.
 */
export async function driveUntilHealth(
  scene: Scene,
  status: "ok" | "degraded",
  minMs: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const startUs = nowUs();
  const elapsedMs = () => (nowUs() - startUs) / 1000;
  const sessionID = await newSession(scene);
  try {
    while (elapsedMs() < timeoutMs) {
      if (elapsedMs() >= minMs && (await readHealth(scene.shim.url)).status === status) return elapsedMs();
      await prompt(scene, sessionID, "[chunks:5] keep going");
      await settle(scene, sessionID);
    }
    return undefined;
  } finally {
    scene.watcher.unfollow(sessionID);
  }
}
