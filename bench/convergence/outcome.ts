import { type Summary, summarize } from "../common/stats.js";
import type { Tally } from "./changes.js";
import type { HealthSample } from "./shim-status.js";
import type { RestChange } from "./truth-watcher.js";

/** How one phase went for the shim's client, against REST and against opencode's own stream. */
export interface Outcome {
  phase: string;
  tracked: number;
  never: RestChange[];
  /** Changes told more often than opencode itself told them (copies of the same kind, under distinct ids). */
  doubled: string[];
  /** Client arrival − REST first showing, µs; negative when the stream is ahead of REST. */
  latency: Summary;
  slowest: { change: RestChange; latencyUs: number } | undefined;
  /** Events of any type whose very content the client got more often than opencode sent it. */
  repeats: string[];
}

/**
 * Judges every phase at once, from the changes REST showed (each belonging to the phase in
 * which it first showed), what the shim's client was told, and what opencode's own stream
 * (read directly) told: the baseline for repeats, since opencode says some things twice
 * itself (a turn's `session.status` busy, for one).
 */
export function outcomes(
  changes: RestChange[],
  client: Tally,
  reference: Tally,
  phaseAt: (atUs: number) => string | undefined,
): Map<string, Outcome> {
  const byPhase = new Map<string, Outcome & { latencies: number[] }>();
  const of = (phase: string) => {
    let outcome = byPhase.get(phase);
    if (!outcome) {
      outcome = {
        phase,
        tracked: 0,
        never: [],
        doubled: [],
        latency: summarize([]),
        slowest: undefined,
        repeats: [],
        latencies: [],
      };
      byPhase.set(phase, outcome);
    }
    return outcome;
  };
  for (const change of changes) {
    const outcome = of(phaseAt(change.firstSeenUs) ?? "before the first phase");
    outcome.tracked++;
    const arrivedUs = client.firstUs.get(change.key);
    if (arrivedUs === undefined) outcome.never.push(change);
    else {
      const latencyUs = arrivedUs - change.firstSeenUs;
      outcome.latencies.push(latencyUs);
      if (!outcome.slowest || latencyUs > outcome.slowest.latencyUs) outcome.slowest = { change, latencyUs };
    }
    for (const [copy, ids] of client.copiesOf(change.key)) {
      const own = reference.copiesOf(change.key).get(copy)?.size ?? 0;
      if (ids.size > Math.max(1, own))
        outcome.doubled.push(
          `${change.key} (${change.kind}): ${copy.split(" ")[0]} ×${ids.size}, opencode ×${own}`,
        );
    }
  }
  // A turn told twice shows as one more busy-and-idle than REST showed, not as a repeated key.
  const turnsShown = new Map<string, RestChange[]>();
  for (const change of changes)
    if (change.kind === "busy")
      turnsShown.set(change.sessionID, [...(turnsShown.get(change.sessionID) ?? []), change]);
  for (const [sessionID, turns] of turnsShown) {
    const told = client.turns(sessionID);
    const last = turns.at(-1) as RestChange;
    if (told > turns.length)
      of(phaseAt(last.firstSeenUs) ?? "before the first phase").doubled.push(
        `session ${sessionID}: ${told} turns told, REST showed ${turns.length}`,
      );
  }
  for (const [content, copies] of client.contents) {
    const own = reference.contents.get(content)?.length ?? 0;
    const extra = copies[Math.max(1, own)];
    if (!extra) continue;
    of(phaseAt(extra.atUs) ?? "before the first phase").repeats.push(
      `${content.split(" ")[0]} ×${copies.length} (opencode ×${own}): ${copies.map((copy) => copy.id).join(", ")}`,
    );
  }
  for (const outcome of byPhase.values()) outcome.latency = summarize(outcome.latencies);
  return byPhase;
}

/**
 * What the shim's health did in a mode: whether it went degraded (and when, from the mode's
 * start) and when it was `ok` again (from the moment the stream turned honest).
 */
export function describeHealth(
  samples: HealthSample[],
  startUs: number,
  honestUs: number,
  endUs: number,
): { text: string; wentDegraded: boolean; cameBack: boolean } {
  const within = samples.filter((sample) => sample.atUs >= startUs && sample.atUs <= endUs);
  const firstBad = within.find((sample) => sample.status !== "ok");
  if (!firstBad) return { text: "ok throughout", wentDegraded: false, cameBack: true };
  const seconds = (us: number) => `${(us / 1e6).toFixed(1)} s`;
  const when =
    firstBad.atUs <= honestUs
      ? `${seconds(firstBad.atUs - startUs)} in`
      : `${seconds(firstBad.atUs - honestUs)} after the stream turned honest`;
  const lastBad = within.findLast((sample) => sample.status !== "ok") as HealthSample;
  const okAgain = within.find((sample) => sample.atUs > lastBad.atUs && sample.status === "ok");
  const back = okAgain
    ? `ok ${seconds(okAgain.atUs - honestUs)} after the stream turned honest`
    : "not ok again by the end";
  return { text: `${firstBad.status} ${when}; ${back}`, wentDegraded: true, cameBack: okAgain !== undefined };
}
