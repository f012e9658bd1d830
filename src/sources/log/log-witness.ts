export interface LogWitnessOptions {
  /** How long the stream has to carry an event the log says was published. */
  graceMs: number;
  /** How long an event the stream carried before the log line about it came can pay for that line. */
  creditMs?: number;
  /** Only these event types are counted. */
  types: ReadonlySet<string>;
  /** The stream did not carry events of these types (one entry per event) that the log says were published. */
  onShortfall: (types: string[]) => void;
  now?: () => number;
}

interface Queue {
  /** When each log line the stream still owes an event for was read. */
  owed: number[];
  /** When each event the stream carried that no log line has asked for yet arrived. */
  credit: number[];
}

/**
 * opencode's log as a witness: every `service=bus type=X publishing` line is an event of
 * type X that upstream's stream should carry. Lines and events are matched by type, in
 * whichever order they come (the log is written a little after the event, or before);
 * a line still unmatched after `graceMs` is a shortfall. The log names no instance and no
 * id, and the folder may hold another opencode's log, so a shortfall is a reason to look
 * at REST now, not proof of a lie.
 */
export class LogWitness {
  private readonly queues = new Map<string, Queue>();
  private timer: NodeJS.Timeout | undefined;
  private readonly creditMs: number;
  private readonly now: () => number;

  constructor(private readonly options: LogWitnessOptions) {
    this.creditMs = options.creditMs ?? 5_000;
    this.now = options.now ?? (() => performance.now());
  }

  /** A log line: an event of `type` was published upstream. */
  published(type: string): void {
    if (!this.options.types.has(type)) return;
    const queue = this.queueOf(type);
    const now = this.now();
    dropBefore(queue.credit, now - this.creditMs);
    if (queue.credit.length > 0) queue.credit.shift();
    else {
      queue.owed.push(now);
      this.arm();
    }
  }

  /** The stream carried an event of `type`. */
  streamed(type: string): void {
    if (!this.options.types.has(type)) return;
    const queue = this.queueOf(type);
    if (queue.owed.length > 0) {
      queue.owed.shift();
      return;
    }
    const now = this.now();
    if ((queue.credit[0] ?? now) < now - this.creditMs) dropBefore(queue.credit, now - this.creditMs);
    queue.credit.push(now);
  }

  /** Nothing is owed any more (the stream went away, or came back: what was before is not its debt). */
  reset(): void {
    this.queues.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  stop(): void {
    this.reset();
  }

  private queueOf(type: string): Queue {
    let queue = this.queues.get(type);
    if (!queue) {
      queue = { owed: [], credit: [] };
      this.queues.set(type, queue);
    }
    return queue;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.settle();
    }, this.options.graceMs);
    this.timer.unref();
  }

  private settle(): void {
    const cutoff = this.now() - this.options.graceMs;
    const short: string[] = [];
    let waiting = false;
    for (const [type, queue] of this.queues) {
      const overdue = dropBefore(queue.owed, cutoff + 1);
      for (let i = 0; i < overdue; i++) short.push(type);
      if (queue.owed.length > 0) waiting = true;
    }
    if (waiting) this.arm();
    if (short.length > 0) this.options.onShortfall(short);
  }
}

/** Drops the leading times before `cutoff`; returns how many. */
function dropBefore(times: number[], cutoff: number): number {
  let count = 0;
  while (count < times.length && (times[count] as number) < cutoff) count++;
  if (count > 0) times.splice(0, count);
  return count;
}
