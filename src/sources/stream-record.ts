import type { EventPayload } from "../hub/update.js";
import { stateKey } from "./state-key.js";

export interface StreamRecordOptions {
  /** How long after a correction the stream may still carry the same state and count as having told it. */
  lateMs: number;
  /** How long what the stream carried is remembered. */
  keepMs?: number;
  /** Told, for the corrections checked, how many the stream carried and the types of those it did not. */
  onVerdict: (carried: number, missedTypes: string[]) => void;
  now?: () => number;
}

/** Keys remembered at most; past it the oldest go first. */
const MAX_KEYS = 50_000;

/**
 * What upstream's stream carried, by state key, so that each correction the reconciler
 * publishes can be looked up: a state the stream carried (before it, or up to `lateMs`
 * after) is a change the stream told — late, perhaps; one it did not carry by then is a
 * miss. That is how a trusted stream is found lying, and how a distrusted one proves
 * honest again — or does not.
 */
export class StreamRecord {
  private readonly keys = new Map<string, number>();
  private pending: Array<{ key: string; type: string; due: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly keepMs: number;
  private readonly now: () => number;

  constructor(private readonly options: StreamRecordOptions) {
    this.keepMs = options.keepMs ?? 10_000;
    this.now = options.now ?? (() => performance.now());
  }

  /** An event upstream's stream carried. */
  noted(payload: EventPayload): void {
    const key = stateKey(payload);
    if (key === undefined) return;
    const now = this.now();
    this.keys.delete(key);
    this.keys.set(key, now);
    if (this.keys.size > MAX_KEYS) this.forgetBefore(now - this.keepMs, true);
    if (this.pending.length > 0) this.settle();
  }

  /** Corrections the reconciler published: did the stream carry them? */
  check(events: EventPayload[]): void {
    const due = this.now() + this.options.lateMs;
    for (const payload of events) {
      const key = stateKey(payload);
      if (key !== undefined) this.pending.push({ key, type: payload.type, due });
    }
    this.settle();
  }

  /** Forgets everything: what the stream carried before now says nothing of what follows. */
  clear(): void {
    this.keys.clear();
    this.pending = [];
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Decides the pending corrections the stream carried, and those it has not carried by their due time. */
  private settle(): void {
    const now = this.now();
    this.forgetBefore(now - this.keepMs, false);
    let carried = 0;
    const missed: string[] = [];
    const waiting: typeof this.pending = [];
    for (const entry of this.pending) {
      if (this.keys.has(entry.key)) carried++;
      else if (entry.due <= now) missed.push(entry.type);
      else waiting.push(entry);
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
    if (carried > 0 || missed.length > 0) this.options.onVerdict(carried, missed);
  }

  private forgetBefore(cutoff: number, all: boolean): void {
    for (const [key, at] of this.keys) {
      if (at >= cutoff && !(all && this.keys.size > MAX_KEYS)) break;
      this.keys.delete(key);
    }
  }
}
