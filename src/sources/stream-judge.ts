import { EventEmitter } from "node:events";

export type Verdict = "honest" | "lying";

export interface StreamJudgeOptions {
  /** How long the stream must go without a miss, carrying what the witnesses saw, to be trusted again. */
  holdMs?: number;
  /** The hold doubles each time the stream lies again soon after it was trusted, up to this. */
  maxHoldMs?: number;
  /** How many witnessed changes the stream must have carried in that time: enough that a lossy stream's lucky streak is not mistaken for honesty. */
  carriedToTrust?: number;
  /** How many missed events within `missWindowMs` make the stream a liar (one: a miss is a state not carried for seconds). */
  missesToDistrust?: number;
  missWindowMs?: number;
  now?: () => number;
}

/** Lying again within this long of being trusted is flapping: the next hold is longer. */
const FLAP_WINDOW_MS = 60_000;
/** Trusted this long without a lie, the hold goes back to its first length. */
const FORGIVE_AFTER_MS = 600_000;

/**
 * Decides whether upstream's stream tells the truth, from what the witnesses report: the
 * changes REST showed that the stream did not carry (misses), and, while it is not
 * trusted, those it did carry. It turns `lying` on the first miss, and `honest` again
 * only once the stream has carried what the witnesses saw for a while with no miss — a
 * while that doubles when it flaps. Silence is no evidence either way: an idle upstream
 * neither trips it nor clears it.
 *
 * Emits `verdict` (verdict, reason) on every change.
 */
export class StreamJudge extends EventEmitter {
  private verdictNow: Verdict = "honest";
  private reasonNow: string | undefined;
  private readonly holdMs: number;
  private readonly maxHoldMs: number;
  private readonly carriedToTrust: number;
  private readonly missesToDistrust: number;
  private readonly missWindowMs: number;
  private readonly now: () => number;
  private hold: number;
  /** Recent misses: when, and of what type. */
  private misses: Array<{ at: number; type: string }> = [];
  private lastMissAt = 0;
  private carriedSinceMiss = 0;
  private trustedAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: StreamJudgeOptions = {}) {
    super();
    this.holdMs = options.holdMs ?? 10_000;
    this.maxHoldMs = options.maxHoldMs ?? 300_000;
    this.carriedToTrust = options.carriedToTrust ?? 20;
    this.missesToDistrust = options.missesToDistrust ?? 1;
    this.missWindowMs = options.missWindowMs ?? 30_000;
    this.now = options.now ?? (() => performance.now());
    this.hold = this.holdMs;
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

  /** REST showed these changes (event types, one per event) that the stream did not carry. */
  missed(types: string[]): void {
    if (types.length === 0) return;
    const now = this.now();
    this.lastMissAt = now;
    this.carriedSinceMiss = 0;
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

  /** A witness saw `count` changes that the stream did carry. */
  carried(count: number): void {
    if (count <= 0 || this.verdictNow !== "lying") return;
    this.carriedSinceMiss += count;
    this.considerReturn();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private armReturn(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.considerReturn(), this.hold);
    this.timer.unref();
  }

  private considerReturn(): void {
    if (this.verdictNow !== "lying") return;
    if (this.now() - this.lastMissAt < this.hold || this.carriedSinceMiss < this.carriedToTrust) return;
    clearTimeout(this.timer);
    this.misses = [];
    this.trustedAt = this.now();
    this.change("honest", undefined);
  }

  private change(verdict: Verdict, reason: string | undefined): void {
    this.verdictNow = verdict;
    this.reasonNow = reason;
    this.emit("verdict", verdict, reason);
  }
}
