import { sameJson } from "../../json.js";
import type { InstanceView, Tracked } from "../../opencode/instance-state.js";
import { storedPart } from "../../opencode/state.js";
import type { Snapshot } from "./corrections.js";

/**
 * How many of the changes a read shows upstream's stream had told clients already, since
 * `after` (a hub sequence number): messages and parts as REST has them, last told by the
 * stream, not by a correction. While the reconciler feeds clients the stream's events are
 * merged, so what it carries leaves the reconciler nothing to correct: this is the evidence
 * that the stream tells the truth again.
 */
export function carriedByStream(state: InstanceView, snapshot: Snapshot, after: number): number {
  let carried = 0;
  const byStream = (tracked: Tracked<unknown> | undefined, since: number) =>
    tracked !== undefined && tracked.corrected !== true && tracked.seq > after && tracked.seq <= since;
  for (const read of snapshot.messages) {
    for (const { info, parts } of read.messages) {
      const told = state.message(read.sessionID, info.id);
      if (!told) continue;
      if (byStream(told.info, read.since) && sameJson(told.info?.value, info)) carried++;
      for (const part of parts) {
        const toldPart = told.parts.get(part.id);
        const value = toldPart?.value;
        if (value && byStream(toldPart, read.since) && sameJson(storedPart(value), storedPart(part)))
          carried++;
      }
    }
  }
  return carried;
}
