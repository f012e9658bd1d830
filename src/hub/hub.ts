import { eventId } from "../ids.js";
import { encodeFrame } from "../sse.js";
import { formatCursor, newEpoch, parseCursor } from "./cursor.js";
import { RecentIds } from "./dedupe.js";
import { Ring } from "./ring.js";
import type { Subscriber } from "./subscriber.js";
import type { Envelope, Update } from "./update.js";

export interface HubOptions {
  /** Updates kept per instance for `Last-Event-ID` replay. */
  replaySize: number;
  /** Event ids remembered to drop duplicates. */
  dedupeSize?: number;
  /** Instances whose history is kept; the least recently active idle one goes first. */
  maxInstances?: number;
}

const INSTANCE_DISPOSED = "server.instance.disposed";

/**
 * Where every source publishes and every `/event` client reads: drops events seen
 * before, numbers the rest, frames each once, keeps a bounded history per instance and
 * writes the same frame to each subscriber of the event's instance.
 */
export class Hub {
  readonly epoch = newEpoch();
  private seq = 0;
  private readonly rings = new Map<string, Ring<Update>>();
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly recent: RecentIds;
  private subscriberCount = 0;
  private readonly maxInstances: number;

  constructor(private readonly options: HubOptions) {
    this.recent = new RecentIds(options.dedupeSize ?? 16_384);
    this.maxInstances = options.maxInstances ?? 1024;
  }

  get subscriberTotal(): number {
    return this.subscriberCount;
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Accepts an event; undefined when it is a duplicate of one already published. */
  publish(envelope: Envelope): Update | undefined {
    const id = envelope.payload.id;
    if (typeof id === "string" && !this.recent.add(id)) return undefined;
    const seq = ++this.seq;
    const update: Update = {
      ...envelope,
      seq,
      frame: encodeFrame(JSON.stringify(envelope.payload), formatCursor(this.epoch, seq)),
    };
    this.ringFor(envelope.directory, seq - 1).push(update);

    const subscribers = this.subscribers.get(envelope.directory);
    if (!subscribers) return update;
    if (envelope.payload.type === INSTANCE_DISPOSED) {
      // The instance is gone for every workspace on it: all its streams end, as upstream's do.
      for (const subscriber of [...subscribers]) {
        subscriber.write(update.frame);
        subscriber.end();
      }
      return update;
    }
    for (const subscriber of subscribers) {
      if (subscriber.accepts(envelope.workspace)) subscriber.write(update.frame);
    }
    return update;
  }

  /**
   * Starts a stream: `server.connected`, then — when `lastEventId` is a cursor whose
   * successors are all still held — every later update of the instance, then live ones.
   */
  subscribe(subscriber: Subscriber, lastEventId?: string): { resumed: boolean } {
    subscriber.write(
      encodeFrame(JSON.stringify({ id: eventId(), type: "server.connected", properties: {} })),
    );
    const missed = this.missedSince(subscriber.directory, lastEventId);
    if (missed) {
      for (const update of missed) {
        if (subscriber.accepts(update.workspace)) subscriber.write(update.frame);
      }
    }
    if (subscriber.isClosed) return { resumed: missed !== undefined };

    let set = this.subscribers.get(subscriber.directory);
    if (!set) {
      set = new Set();
      this.subscribers.set(subscriber.directory, set);
    }
    set.add(subscriber);
    this.subscriberCount++;
    subscriber.onClose(() => {
      const current = this.subscribers.get(subscriber.directory);
      if (!current?.delete(subscriber)) return;
      this.subscriberCount--;
      if (current.size === 0) this.subscribers.delete(subscriber.directory);
    });
    return { resumed: missed !== undefined };
  }

  /** One `server.heartbeat` frame, written to every subscriber. */
  heartbeat(): void {
    if (this.subscriberCount === 0) return;
    const frame = encodeFrame(JSON.stringify({ id: eventId(), type: "server.heartbeat", properties: {} }));
    for (const set of this.subscribers.values()) {
      for (const subscriber of set) subscriber.write(frame);
    }
  }

  /** Ends every stream (shutdown). */
  close(): void {
    for (const set of [...this.subscribers.values()]) {
      for (const subscriber of [...set]) subscriber.end();
    }
  }

  private missedSince(directory: string, lastEventId: string | undefined): Update[] | undefined {
    const cursor = parseCursor(lastEventId);
    if (!cursor || cursor.epoch !== this.epoch || cursor.seq > this.seq) return undefined;
    const ring = this.rings.get(directory);
    if (!ring) return undefined;
    return ring.since(cursor.seq);
  }

  private ringFor(directory: string, createdAfter: number): Ring<Update> {
    let ring = this.rings.get(directory);
    if (!ring) {
      if (this.rings.size >= this.maxInstances) this.evictIdleRing();
      ring = new Ring<Update>(this.options.replaySize, createdAfter);
      this.rings.set(directory, ring);
    }
    return ring;
  }

  private evictIdleRing(): void {
    let oldest: string | undefined;
    let oldestSeq = Number.POSITIVE_INFINITY;
    for (const [directory, ring] of this.rings) {
      if (this.subscribers.has(directory)) continue;
      if (ring.lastSeq < oldestSeq) {
        oldestSeq = ring.lastSeq;
        oldest = directory;
      }
    }
    if (oldest !== undefined) this.rings.delete(oldest);
  }
}
