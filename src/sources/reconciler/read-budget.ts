/** An answer slower than this on average slows the reconciler's reads in proportion. */
const SLOW_ANSWER_MS = 100;
/** How much one answer's time weighs in that average. */
const ANSWER_WEIGHT = 0.2;
/** Reads go on at this share of the budget at least, however slow opencode answers. */
const MIN_SHARE = 0.1;

/**
 * The reconciler's requests to one upstream, held to a budget (`--read-budget`): at most so
 * many a second — fewer while opencode's answers slow down, in proportion — so that the
 * shim's safety net never slows the server it protects. A request over the budget waits its
 * turn, in the order requests came (so reads spread fairly over instances and sessions),
 * and is counted as deferred.
 */
export class ReadBudget {
  private tokens: number;
  private refilledAt: number;
  private readonly waiting: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private answerMs = 0;
  /** Requests that had to wait, since the start. */
  deferred = 0;
  /** When a request last had to wait (ms, performance.now()); undefined if none ever did. */
  deferredAt: number | undefined;

  /** `perSecond` 0: no budget. */
  constructor(
    readonly perSecond: number,
    private readonly onDeferred: () => void = () => {},
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = perSecond;
    this.refilledAt = now();
  }

  /** Requests a second allowed now: the budget, less while opencode answers slowly. */
  get rate(): number {
    const share = this.answerMs <= SLOW_ANSWER_MS ? 1 : Math.max(MIN_SHARE, SLOW_ANSWER_MS / this.answerMs);
    return this.perSecond * share;
  }

  /** Resolves when the request may go. */
  take(): Promise<void> {
    if (this.perSecond <= 0) return Promise.resolve();
    this.refill();
    if (this.waiting.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    this.deferred++;
    this.deferredAt = this.now();
    this.onDeferred();
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  /** How long an answer took: opencode's answers slowing down slow the reads. */
  answered(ms: number): void {
    this.answerMs += (ms - this.answerMs) * ANSWER_WEIGHT;
  }

  /** Lets every waiting request go: the reads are stopping. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  private refill(): void {
    const now = this.now();
    const rate = this.rate;
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(1, ((1 - this.tokens) / this.rate) * 1000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
      while (this.waiting.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.waiting.shift()?.();
      }
      if (this.waiting.length > 0) this.schedule();
    }, wait);
    this.timer.unref();
  }
}
