import type { EventPayload } from "../hub/update.js";
import { eventKind, sessionOf, stateKey } from "../opencode/events.js";
import { CARRIED_KEPT_MS, LATE_MS } from "../trust.js";

export interface StreamRecordOptions {
  /** How long after a correction the stream may still carry the same state and count as having told it. */
  lateMs?: number;
  /** How long what the stream carried is remembered. */
  keepMs?: number;
  /**
   * Told, for the corrections checked, how many the stream carried and the types of those it
   * did not, with when the newest of those was made (a miss is known only `lateMs` after).
   */
  onEvidence: (carried: number, missedTypes: string[], missedAt: number) => void;
  now?: () => number;
}

/** Keys remembered at most; past it the oldest go first. */
const MAX_KEYS = 50_000;

/** Whether a correction can be looked up against the stream's copy: the event gives a state (text deltas give none). */
const keyed = (payload: EventPayload) => eventKind(payload.type)?.stateKey !== undefined;

/**
 * What upstream's stream carried, by state key, so that each correction the reconciler
 * publishes can be looked up: a state the stream carried (before it, or up to `lateMs`
 * after) is a change the stream told — late, perhaps; one it did not carry by then is a
 * miss. The stream's judge weighs that evidence: it is how a trusted stream is found
 * lying, and how a distrusted one proves honest again — or does not.
 */
export class StreamRecord {
  private readonly keys = new Map<string, number>();
  /**
   * What the stream carried and no correction has needed looked up yet: keyed (JSON, a
   * digest) only when one does, so that an honest stream's events cost a push each.
   */
  private unkeyed: Array<{ payload: EventPayload; at: number }> = [];
  /** Corrections waiting to be carried, each with its session; a status's key is the same turn after turn, so it tells nothing of how far behind the stream is. */
  private pending: Array<{
    key: string;
    type: string;
    at: number;
    due: number;
    sessionID: string;
    status: boolean;
  }> = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly keepMs: number;
  private readonly now: () => number;

  constructor(private readonly options: StreamRecordOptions) {
    this.keepMs = options.keepMs ?? CARRIED_KEPT_MS;
    this.now = options.now ?? (() => performance.now());
  }

  /** An event upstream's stream carried. */
  noted(payload: EventPayload): void {
    if (!keyed(payload)) return;
    const now = this.now();
    this.unkeyed.push({ payload, at: now });
    if (this.pending.length > 0) this.settle();
    else if (this.unkeyed.length > MAX_KEYS)
      this.unkeyed = this.unkeyed.filter(({ at }) => now - at < this.keepMs);
  }

  /** Corrections the reconciler published: did the stream carry them? */
  check(events: EventPayload[]): void {
    const at = this.now();
    const due = at + (this.options.lateMs ?? LATE_MS);
    for (const payload of events) {
      const key = stateKey(payload);
      if (key === undefined) continue;
      const status = eventKind(payload.type)?.status === true;
      this.pending.push({ key, type: payload.type, at, due, sessionID: sessionOf(payload) ?? "", status });
    }
    this.settle();
  }

  /**
   * Whether the stream has yet to carry what a correction told of the session (a message,
   * a part…): then it is behind, and what it says of the session's status now is older
   * than what clients were told.
   */
  behindOn(sessionID: string): boolean {
    if (this.pending.length === 0) return false;
    this.settle();
    return this.pending.some((entry) => entry.sessionID === sessionID && !entry.status);
  }

  /** Forgets everything: what the stream carried before now says nothing of what follows. */
  clear(): void {
    this.keys.clear();
    this.unkeyed = [];
    this.pending = [];
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Decides the pending corrections the stream carried, and those it has not carried by their due time. */
  private settle(): void {
    const now = this.now();
    this.keyCarried();
    this.forgetBefore(now - this.keepMs, false);
    let carried = 0;
    const missed: string[] = [];
    let missedAt = 0;
    const waiting: typeof this.pending = [];
    for (const entry of this.pending) {
      if (this.keys.has(entry.key)) carried++;
      else if (entry.due <= now) {
        missed.push(entry.type);
        missedAt = Math.max(missedAt, entry.at);
      } else waiting.push(entry);
    }
    this.pending = waiting;
    if (waiting.length > 0 && !this.timer) {
      const next = Math.max(1, Math.min(...waiting.map((entry) => entry.due)) - now);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.settle();
      }, next);
      this.timer.unref();
    }
    if (carried > 0 || missed.length > 0) this.options.onEvidence(carried, missed, missedAt);
  }

  /** Keys what the stream carried since the last look-up. */
  private keyCarried(): void {
    for (const { payload, at } of this.unkeyed) {
      const key = stateKey(payload);
      if (key === undefined) continue;
      this.keys.delete(key);
      this.keys.set(key, at);
    }
    this.unkeyed = [];
    if (this.keys.size > MAX_KEYS) this.forgetBefore(this.now() - this.keepMs, true);
  }

  private forgetBefore(cutoff: number, all: boolean): void {
    for (const [key, at] of this.keys) {
      if (at >= cutoff && !(all && this.keys.size > MAX_KEYS)) break;
      this.keys.delete(key);
    }
  }
}
