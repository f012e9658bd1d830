import { sameJson } from "../../json.js";
import type { InstanceView, MessageEntry, Tracked } from "../../opencode/instance-state.js";
import { type MessageWithParts, type Part, storedPart } from "../../opencode/state.js";
import type { Snapshot } from "./corrections.js";
import { lastAnswer } from "./turns.js";

/** What a read shows that upstream's stream told clients already. */
export interface Carried {
  /** Messages and parts as REST has them. */
  changes: number;
  /** Turns carried in full: every message and part of the last turn, and its `session.idle`. */
  turns: number;
}

/**
 * How many of the changes a read shows upstream's stream had told clients already, since
 * `after` (a hub sequence number): messages and parts as REST has them, last told by the
 * stream, not by a correction; and turns it carried in full (their `session.idle` too),
 * each counted once (`turnsCounted`: each session's last `session.idle` counted). While the reconciler feeds clients the stream's events are
 * merged, so what it carries leaves the reconciler nothing to correct: this is the evidence
 * that the stream tells the truth again.
 */
export function carriedByStream(
  state: InstanceView,
  snapshot: Snapshot,
  after: number,
  turnsCounted: Map<string, number> = new Map(),
): Carried {
  let changes = 0;
  let turns = 0;
  const since = (tracked: Tracked<unknown> | undefined, read: SessionRead) =>
    tracked !== undefined && tracked.seq > after && tracked.seq <= read.since;
  for (const read of snapshot.messages) {
    for (const { info, parts } of read.messages) {
      const told = state.message(read.sessionID, info.id);
      if (!told) continue;
      if (since(told.info, read) && infoAsRest(told, info)) changes++;
      for (const part of parts) if (since(told.parts.get(part.id), read) && partAsRest(told, part)) changes++;
    }
    // A turn is counted once, when a read first finds it whole (its question may be updated after its end).
    const idle = state.idles.get(read.sessionID);
    if (!idle || idle.corrected === true || idle.seq > read.since) continue;
    if (turnsCounted.get(read.sessionID) === idle.seq || !lastTurnAsTold(state, read)) continue;
    turnsCounted.set(read.sessionID, idle.seq);
    turns++;
  }
  return { changes, turns };
}

/** Whether every message and part of the read's last (ended) turn is as the stream told it, none by a correction. */
function lastTurnAsTold(state: InstanceView, read: SessionRead): boolean {
  if (!lastAnswer(read.messages)) return false;
  let question: MessageWithParts["info"] | undefined;
  for (const { info } of read.messages)
    if (info.role === "user" && (!question || info.time.created >= question.time.created)) question = info;
  if (!question) return false;
  const asked = question.time.created;
  return read.messages
    .filter(({ info }) => info.time.created >= asked)
    .every(({ info, parts }) => {
      const told = state.message(read.sessionID, info.id);
      return told !== undefined && infoAsRest(told, info) && parts.every((part) => partAsRest(told, part));
    });
}

type SessionRead = Snapshot["messages"][number];

/** Whether clients were told the message as REST has it, last by the stream (not by a correction). */
function infoAsRest(told: MessageEntry, info: MessageWithParts["info"]): boolean {
  return told.info !== undefined && told.info.corrected !== true && sameJson(told.info.value, info);
}

/** Whether clients were told the part as REST has it, last by the stream (not by a correction). */
function partAsRest(told: MessageEntry, part: Part): boolean {
  const tracked = told.parts.get(part.id);
  return (
    tracked?.value !== undefined &&
    tracked.corrected !== true &&
    sameJson(storedPart(tracked.value), storedPart(part))
  );
}
