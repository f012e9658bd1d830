import type { EventPayload } from "../hub/update.js";
import {
  CARRIED_TO_TRUST,
  FLAP_WINDOW_MS,
  FORGIVE_AFTER_MS,
  HOLD_MS,
  MAX_HOLD_MS,
  MISS_WINDOW_MS,
  MISSES_TO_DISTRUST,
  TURNS_CARRIED_TO_TRUST,
} from "../trust.js";
import { StreamRecord } from "./stream-record.js";

export type Verdict = "honest" | "lying";

export interface StreamJudgeOptions {
  /** Told of every change of verdict. */
  onVerdict?: (verdict: Verdict) => void;
  /** How long the stream must go without a miss, carrying what REST showed, to be trusted again. */
  holdMs?: number;
  /** The hold doubles each time the stream lies again soon after it was trusted, up to this. */
  maxHoldMs?: number;
  /** How many changes REST showed the stream must have carried in that time… */
  carriedToTrust?: number;
  /** …and how many whole turns (every message, part and the turn's end). */
  turnsToTrust?: number;
  /** How many missed events within `missWindowMs` make the stream a liar. */
  missesToDistrust?: number;
  missWindowMs?: number;
  /** How late the stream may carry what REST showed and still count as having told it. */
  lateMs?: number;
  now?: () => number;
}

/**
 * Decides whether upstream's stream tells the truth. It keeps the record of what the
 * stream carried and looks each correction of the reconciler up in it: a change REST
 * showed that the stream did not carry in time is a miss; one it carried counts for it.
 * It turns `lying` on the first miss, and `honest` again only once the stream has carried
 * what REST showed for a while with no miss — a while that doubles when it flaps. Silence
 * is no evidence either way: an idle upstream neither trips it nor clears it. The timing
 * is `trust.ts`'s.
 */
export class StreamJudge {
  private verdictNow: Verdict = "honest";
  private reasonNow: string | undefined;
  private readonly record: StreamRecord;
  private readonly holdMs: number;
  private readonly maxHoldMs: number;
  private readonly carriedToTrust: number;
  private readonly turnsToTrust: number;
  private readonly missesToDistrust: number;
  private readonly missWindowMs: number;
  private readonly now: () => number;
  private hold: number;
  /** Recent misses: when, and of what type. */
  private misses: Array<{ at: number; type: string }> = [];
  private lastMissAt = 0;
  private carriedSinceMiss = 0;
  private turnsSinceMiss = 0;
  /** What the stream carried since the last miss, and when: a miss known late does not undo what came after it. */
  private carriedLog: Array<{ at: number; count: number; turns: number }> = [];
  private trustedAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: StreamJudgeOptions = {}) {
    this.holdMs = options.holdMs ?? HOLD_MS;
    this.maxHoldMs = options.maxHoldMs ?? MAX_HOLD_MS;
    this.carriedToTrust = options.carriedToTrust ?? CARRIED_TO_TRUST;
    this.turnsToTrust = options.turnsToTrust ?? TURNS_CARRIED_TO_TRUST;
    this.missesToDistrust = options.missesToDistrust ?? MISSES_TO_DISTRUST;
    this.missWindowMs = options.missWindowMs ?? MISS_WINDOW_MS;
    this.now = options.now ?? (() => performance.now());
    this.hold = this.holdMs;
    this.record = new StreamRecord({
      lateMs: options.lateMs,
      now: this.now,
      onEvidence: (carried, missed, missedAt) => {
        this.carried(carried);
        this.missed(missed, missedAt);
      },
    });
  }

  get verdict(): Verdict {
    return this.verdictNow;
  }

  /** Why the stream is not trusted; undefined while it is. */
  get reason(): string | undefined {
    return this.reasonNow;
  }

  /** How long the stream must now prove honest before it is trusted again. */
  get holdingMs(): number {
    return this.hold;
  }

  /** An event upstream's stream carried. */
  noted(payload: EventPayload): void {
    this.record.noted(payload);
  }

  /** Changes REST showed (the reconciler's corrections): the stream carried them, or will in time, or missed them. */
  check(corrections: EventPayload[]): void {
    this.record.check(corrections);
  }

  /** Whether the stream has yet to carry what a correction told of the session: what it says of its status now is older. */
  behindOn(sessionID: string): boolean {
    return this.record.behindOn(sessionID);
  }

  /** Forgets what the stream carried: after it went away or came back, that says nothing of what follows. */
  reset(): void {
    this.record.clear();
  }

  /**
   * Evidence: REST showed these changes (event types, one per event) that the stream did not
   * carry; the newest of them was made `at` (a miss is known only a while after). What the
   * stream carried since then still counts for it.
   */
  missed(types: string[], at = this.now()): void {
    if (types.length === 0) return;
    // A correction made before the stream was trusted again: that lie was judged already.
    if (this.verdictNow === "honest" && this.trustedAt !== undefined && at < this.trustedAt) return;
    const now = this.now();
    this.lastMissAt = Math.max(this.lastMissAt, at);
    this.carriedLog = this.carriedLog.filter((entry) => entry.at > this.lastMissAt);
    this.carriedSinceMiss = this.carriedLog.reduce((sum, entry) => sum + entry.count, 0);
    this.turnsSinceMiss = this.carriedLog.reduce((sum, entry) => sum + entry.turns, 0);
    for (const type of types) this.misses.push({ at: now, type });
    this.misses = this.misses.filter((miss) => now - miss.at <= this.missWindowMs);
    if (this.verdictNow === "lying") {
      this.armReturn();
      return;
    }
    if (this.misses.length < this.missesToDistrust) return;
    if (this.trustedAt !== undefined) {
      const trustedFor = now - this.trustedAt;
      if (trustedFor < FLAP_WINDOW_MS) this.hold = Math.min(this.hold * 2, this.maxHoldMs);
      else if (trustedFor >= FORGIVE_AFTER_MS) this.hold = this.holdMs;
    }
    const kinds = [...new Set(this.misses.map((miss) => miss.type))].sort().join(", ");
    this.change(
      "lying",
      `upstream's stream did not carry ${this.misses.length} event${this.misses.length === 1 ? "" : "s"} that REST showed (${kinds})`,
    );
    this.armReturn();
  }

  /** Evidence: the stream carried `count` changes that REST showed, `turns` whole turns among them. */
  carried(count: number, turns = 0): void {
    if ((count <= 0 && turns <= 0) || this.verdictNow !== "lying") return;
    this.carriedSinceMiss += count;
    this.turnsSinceMiss += turns;
    this.carriedLog.push({ at: this.now(), count, turns });
    if (this.carriedLog.length > 1_000) this.carriedLog.shift();
    this.considerReturn();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.record.clear();
  }

  private armReturn(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.considerReturn(),
      Math.max(1, this.lastMissAt + this.hold - this.now()),
    );
    this.timer.unref();
  }

  private considerReturn(): void {
    if (this.verdictNow !== "lying") return;
    if (this.now() - this.lastMissAt < this.hold || this.carriedSinceMiss < this.carriedToTrust) return;
    if (this.turnsSinceMiss < this.turnsToTrust) return;
    clearTimeout(this.timer);
    this.misses = [];
    this.carriedLog = [];
    this.trustedAt = this.now();
    this.change("honest", undefined);
  }

  private change(verdict: Verdict, reason: string | undefined): void {
    this.verdictNow = verdict;
    this.reasonNow = reason;
    this.options.onVerdict?.(verdict);
  }
}
