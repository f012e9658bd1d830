/** How long after a change REST shows the log line that announced it may still come. */
const LINE_LATE_MS = 1_000;
/** After the log missed a change, how long reads do not lean on it. */
const DISTRUST_MS = 10 * 60_000;

/**
 * opencode's log as the pulse of change: every bus publish is a line, so while lines come
 * something changes, and while none come nothing does — a busy session in a silent tool
 * call need not be read. The log leads the reads only once it has shown a publish line
 * (a log at WARN, or none, never does) and as long as it has not missed a change REST
 * showed: a read that finds a change no line announced puts the reads back on their own
 * pace for a while.
 */
export class LogPulse {
  private lines = 0;
  private missedAt = Number.NEGATIVE_INFINITY;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly onMissed: () => void = () => {},
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A publish line of opencode's log. */
  published(): void {
    this.lines++;
  }

  /** How many publish lines came so far: a mark to compare a later one with. */
  get mark(): number {
    return this.lines;
  }

  /** Whether reads may wait for the log to say something changed. */
  get leads(): boolean {
    return this.lines > 0 && this.now() - this.missedAt >= DISTRUST_MS;
  }

  /** A read showed a change since a read made at `mark`: the log must have said something since. */
  changedSince(mark: number): void {
    if (!this.leads) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.lines > mark || !this.leads) return;
      this.missedAt = this.now();
      this.onMissed();
    }, LINE_LATE_MS);
    timer.unref();
    this.timers.add(timer);
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
