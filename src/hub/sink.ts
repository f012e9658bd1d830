import { eventId } from "../ids.js";
import { type Metrics, noMetrics } from "../metrics.js";
import { Disposals, INSTANCE_DISPOSED, staleAfterCorrection, unannouncedSession } from "./announcements.js";
import type { Hub } from "./hub.js";
import { type History, type InstanceView, Mirror } from "./mirror.js";
import type { Envelope, Update } from "./update.js";

/**
 * The one way events enter: every source — upstream's stream, the reconciler, the proxy —
 * is given a sink and nothing else of the hub. Grep `publish(` to find every way in.
 */
export interface Sink {
  /** Hands an event to clients; false when it was dropped as one already told. */
  publish(envelope: Envelope): boolean;
  /**
   * Writes out what was published so far, now: a source that has read a chunk calls it, so
   * the chunk's events need not wait for the end of the event loop's turn (when the hub
   * writes them otherwise).
   */
  flush(): void;
  /** What a look at upstream found that was there before: taken in, not announced. */
  takeInHistory(directory: string, history: History): void;
  /** What clients of `directory` have been told, to compare upstream's state with. */
  instance(directory: string): InstanceView;
  /** The newest update's number: whatever is told after a read began is newer than the read. */
  readonly lastSeq: number;
  /** Whether anyone follows `directory`, directly or through `/global/event`. */
  isWatched(directory: string): boolean;
  /** The instances that have an `/event` client now. */
  followedDirectories(): string[];
  /** A call that disposes `directory` is on its way upstream: its disposal is news again. */
  disposing(directory: string): void;
}

/**
 * The sink in front of the hub, and the one place that knows opencode's events: it drops
 * what only repeats what clients were told (a late stream event after a correction of
 * the same thing, a second disposal of an instance), announces a session whose
 * `session.created` nobody sent before its first update, then has the hub number and
 * deliver the event and the mirror take it in.
 */
export class OpencodeSink implements Sink {
  private readonly mirror = new Mirror();
  private readonly disposals = new Disposals();

  constructor(
    private readonly hub: Hub,
    private readonly metrics: Metrics = noMetrics,
    private readonly now: () => number = () => Date.now(),
  ) {}

  get lastSeq(): number {
    return this.hub.lastSeq;
  }

  flush(): void {
    this.hub.flush();
  }

  publish(envelope: Envelope): boolean {
    const { directory, payload } = envelope;
    if (this.hub.hasSeen(payload.id)) {
      this.hub.publish(envelope); // a duplicate: the hub drops it, and counts it
      return false;
    }
    const state = this.mirror.instance(directory);
    const origin = envelope.origin ?? "global";
    const now = this.now();
    const repeat =
      payload.type === INSTANCE_DISPOSED
        ? this.disposals.repeats(directory, now)
        : origin === "global" && staleAfterCorrection(state, payload, now);
    if (repeat) {
      this.metrics.duplicateDropped(true);
      return false;
    }
    const unannounced = unannouncedSession(state, payload);
    if (unannounced) {
      // What a client needs before an update of a session it never heard of: its creation.
      this.commit({
        ...envelope,
        origin: "reconciler",
        payload: {
          id: eventId(),
          type: "session.created",
          properties: { sessionID: unannounced.id, info: unannounced },
        },
      });
    }
    return this.commit(envelope) !== undefined;
  }

  takeInHistory(directory: string, history: History): void {
    this.mirror.takeInHistory(directory, history, this.hub.lastSeq);
  }

  instance(directory: string): InstanceView {
    return this.mirror.instance(directory);
  }

  isWatched(directory: string): boolean {
    return this.hub.isWatched(directory);
  }

  followedDirectories(): string[] {
    return this.hub.followedDirectories();
  }

  disposing(directory: string): void {
    this.disposals.expect(directory);
  }

  private commit(envelope: Envelope): Update | undefined {
    const update = this.hub.publish(envelope);
    if (update) this.mirror.apply(update, this.now());
    return update;
  }
}
