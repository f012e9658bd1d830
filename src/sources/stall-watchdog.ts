/** Calls `onStall` once `timeoutMs` pass without a `fed()`: a stream that went silent. */
export class StallWatchdog {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly onStall: () => void,
  ) {}

  /** Something arrived: the silence starts over. */
  fed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onStall, this.timeoutMs);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
