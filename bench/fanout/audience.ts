import { Histogram } from "../common/stats.js";
import { openTickStream, type TickStream } from "../common/tick-stream.js";

/** One subscriber's count of the ticks it got, from `first` on (earlier ones are the warm-up's). */
class Tally {
  next: number;
  received = 0;
  skipped = 0;

  constructor(readonly first: number) {
    this.next = first;
  }

  /** False for a tick that is not counted. */
  take(n: number): boolean {
    if (n < this.first) return false;
    if (n > this.next) this.skipped += n - this.next;
    this.next = n + 1;
    this.received++;
    return true;
  }
}

/** Streams opened at once: a thousand at a time would only queue in the shim's accept backlog. */
const OPENING_BATCH = 100;

/**
 * Subscribers of one tick stream, read in this process: what each got (from tick
 * `first` on), every delivery's latency, and when the last one came.
 */
export class Audience {
  readonly latency = new Histogram();
  lastDeliveryUs = 0;
  private readonly tallies: Tally[] = [];
  private readonly streams: TickStream[] = [];

  private constructor(private readonly first: number) {}

  static async open(url: string, size: number, first: number): Promise<Audience> {
    const audience = new Audience(first);
    try {
      for (let opened = 0; opened < size; opened += OPENING_BATCH) {
        const batch = Array.from({ length: Math.min(OPENING_BATCH, size - opened) }, () =>
          audience.subscribe(url),
        );
        audience.streams.push(...(await Promise.all(batch)));
      }
      return audience;
    } catch (error) {
      audience.close();
      throw error;
    }
  }

  /** Ticks counted so far, over every subscriber. */
  delivered(): number {
    return this.sum((tally) => tally.received);
  }

  skipped(): number {
    return this.sum((tally) => tally.skipped);
  }

  /** How far the subscribers have got, warm-up included: it moves while anything arrives. */
  progress(): number {
    return this.sum((tally) => tally.next);
  }

  /** Whether every subscriber has got everything before `first`. */
  warmedUp(): boolean {
    return this.tallies.every((tally) => tally.next >= this.first);
  }

  /** Subscribers whose stream ended (a shim drops a client that falls too far behind). */
  dropped(): number {
    return this.streams.filter((stream) => stream.ended).length;
  }

  close(): void {
    for (const stream of this.streams) stream.close();
  }

  private subscribe(url: string): Promise<TickStream> {
    const tally = new Tally(this.first);
    this.tallies.push(tally);
    return openTickStream(url, (n, emittedUs, receivedUs) => {
      if (!tally.take(n)) return;
      this.latency.record(receivedUs - emittedUs);
      this.lastDeliveryUs = receivedUs;
    });
  }

  private sum(of: (tally: Tally) => number): number {
    let total = 0;
    for (const tally of this.tallies) total += of(tally);
    return total;
  }
}
