import { type Metrics, noMetrics } from "../metrics.js";
import { formatCursor, newEpoch, parseCursor } from "./cursor.js";
import { RecentIds } from "./dedupe.js";
import { globalFrame, INSTANCE_DISPOSED, instanceFrame, serverFrame } from "./frames.js";
import { Ring } from "./ring.js";
import type { Subscriber } from "./subscriber.js";
import type { Envelope, Update } from "./update.js";

export interface HubOptions {
  /** Updates kept per instance for `Last-Event-ID` replay. */
  replaySize: number;
  /** Instances whose history is kept; the least recently active idle one goes first. */
  maxInstances?: number;
  /** Told of every frame written, every client come and gone. */
  metrics?: Metrics;
}

/** Event ids remembered to drop duplicates. */
const DEDUPE_SIZE = 16_384;
/** How long `close` waits for streams to finish. */
const CLOSE_WAIT_MS = 1000;

/** Frames to write in one go, and whether they end with the instance's disposal. */
interface Frames {
  buffer: Buffer;
  count: number;
  disposed: boolean;
}

/**
 * Where every client reads: drops events seen before (by id), numbers the rest, frames
 * each event once, keeps a bounded history per instance for `Last-Event-ID`, and writes
 * the same frame to each subscriber of the event's instance (and to every `/global/event`
 * subscriber). Of opencode it knows only the wire: its two framings, the stream's own
 * `server.connected` and `server.heartbeat` frames, and that `server.instance.disposed`
 * ends its instance's `/event` streams. Whether an event should reach clients at all is
 * the sink's business: events reach the hub through it.
 */
export class Hub {
  readonly epoch = newEpoch();
  private seq = 0;
  private readonly rings = new Map<string, Ring<Update>>();
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly globalSubscribers = new Set<Subscriber>();
  private readonly recent: RecentIds;
  private subscriberCount = 0;
  private readonly maxInstances: number;
  private pending: Update[] = [];
  /** The end-of-turn flush a dispatch queued, unless a source flushed first. */
  private scheduledFlush: NodeJS.Immediate | undefined;
  /** The newest update of any instance whose history was dropped: a cursor older than it may have lost events. */
  private forgottenUpTo = 0;
  private readonly metrics: Metrics;

  constructor(private readonly options: HubOptions) {
    this.recent = new RecentIds(DEDUPE_SIZE);
    this.maxInstances = options.maxInstances ?? 1024;
    this.metrics = options.metrics ?? noMetrics;
  }

  /** Clients of the whole server's stream (the shim's own `/global/event`). */
  get globalSubscriberCount(): number {
    return this.globalSubscribers.size;
  }

  get subscriberTotal(): number {
    return this.subscriberCount;
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Whether `directory` has `/event` clients of its own. */
  hasClients(directory: string): boolean {
    return this.subscribers.has(directory);
  }

  /** Instances whose history is kept. */
  get instanceCount(): number {
    return this.rings.size;
  }

  /** The instances that have an `/event` client now. */
  followedDirectories(): string[] {
    return [...this.subscribers.keys()];
  }

  /**
   * Numbers an event about `sessions` (its own, then its ancestors) and queues its frame for
   * clients; undefined when an event with its id came before.
   */
  dispatch(envelope: Envelope, sessions: readonly string[] = []): Update | undefined {
    const id = envelope.payload.id;
    if (typeof id === "string" && !this.recent.add(id)) return undefined;
    const seq = ++this.seq;
    const cursor = formatCursor(this.epoch, seq);
    const frame = instanceFrame(envelope.payload, cursor);
    const update: Update = { ...envelope, sessions, seq, cursor, frame };
    this.ringFor(envelope.directory).push(update);
    this.pending.push(update);
    this.scheduledFlush ??= setImmediate(() => this.flush());
    return update;
  }

  /**
   * Writes out what was dispatched since the last flush. Dispatching only queues: the
   * updates of one chunk from upstream (whose reader flushes when it is done with it) or
   * of one turn of the event loop (a read of the reconciler: flushed at the turn's end)
   * go out together, in one write per subscriber, and subscribers that want the same
   * updates share one buffer.
   */
  flush(): void {
    // Flushed by a source at the end of its chunk: the queued end-of-turn flush has nothing left.
    if (this.scheduledFlush) clearImmediate(this.scheduledFlush);
    this.scheduledFlush = undefined;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.deliverAll(this.globalSubscribers, batch);
    const byDirectory = new Map<string, Update[]>();
    for (const update of batch) {
      const updates = byDirectory.get(update.directory);
      if (updates) updates.push(update);
      else byDirectory.set(update.directory, [update]);
    }
    for (const [directory, updates] of byDirectory) {
      const subscribers = this.subscribers.get(directory);
      if (subscribers) this.deliverAll(subscribers, updates);
    }
  }

  /**
   * Writes each subscriber its part of `updates`, once. Subscribers that were there from
   * the start of `updates` and filter alike (all of it; one workspace; the same sessions)
   * share one buffer.
   */
  private deliverAll(subscribers: Set<Subscriber>, updates: Update[]): void {
    const firstSeq = (updates[0] as Update).seq;
    const shared = new Map<string, Frames>();
    let written = 0;
    // A subscriber cut off or ended here leaves the set as it is iterated, which a Set allows.
    for (const subscriber of subscribers) {
      if (subscriber.isClosed) continue;
      let frames: Frames | undefined;
      if (subscriber.since < firstSeq) {
        frames = shared.get(subscriber.filter);
        if (!frames) {
          frames = this.framesFor(subscriber, updates);
          shared.set(subscriber.filter, frames);
        }
      } else frames = this.framesFor(subscriber, updates);
      if (frames.count === 0) continue;
      subscriber.write(frames.buffer);
      written += frames.count;
      if (frames.disposed) subscriber.end();
    }
    if (written > 0) this.metrics.framesWritten(written);
  }

  /** The frames of `updates` a subscriber gets, up to an instance disposal (which ends its stream). */
  private framesFor(subscriber: Subscriber, updates: Update[]): Frames {
    const frames: Buffer[] = [];
    let disposed = false;
    for (const update of updates) {
      if (update.seq <= subscriber.since) continue;
      const disposal = update.payload.type === INSTANCE_DISPOSED && !subscriber.global;
      // The instance is gone for every workspace and session on it: its disposal reaches all its streams.
      if (!disposal && !subscriber.accepts(update)) continue;
      frames.push(frameFor(subscriber, update));
      if (disposal) {
        disposed = true;
        break;
      }
    }
    const buffer = frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames);
    return { buffer, count: frames.length, disposed };
  }

  /**
   * Starts a stream: `server.connected`, then — when `lastEventId` is a cursor whose
   * successors are all still held — every later update it would have seen, then live ones.
   */
  subscribe(subscriber: Subscriber, lastEventId?: string): { resumed: boolean } {
    subscriber.since = this.seq;
    subscriber.write(serverFrame("server.connected", subscriber.global));
    const missed = this.missedSince(subscriber.directory, lastEventId);
    if (missed) {
      for (const update of missed) {
        if (subscriber.accepts(update)) subscriber.write(frameFor(subscriber, update));
      }
    }
    if (subscriber.isClosed) return { resumed: missed !== undefined };

    const set = this.setFor(subscriber);
    set.add(subscriber);
    this.subscriberCount++;
    this.metrics.clientConnected();
    subscriber.onClose(() => {
      const current = this.setFor(subscriber);
      if (!current.delete(subscriber)) return;
      this.subscriberCount--;
      this.metrics.clientDisconnected(subscriber.overflowed);
      if (current.size === 0 && subscriber.directory !== undefined)
        this.subscribers.delete(subscriber.directory);
    });
    return { resumed: missed !== undefined };
  }

  /** One `server.heartbeat` frame per kind of stream, written to every subscriber. */
  heartbeat(): void {
    if (this.subscriberCount === 0) return;
    if (this.subscribers.size > 0) {
      const frame = serverFrame("server.heartbeat", false);
      for (const set of this.subscribers.values()) {
        for (const subscriber of set) subscriber.write(frame);
      }
    }
    if (this.globalSubscribers.size > 0) {
      const frame = serverFrame("server.heartbeat", true);
      for (const subscriber of this.globalSubscribers) subscriber.write(frame);
    }
  }

  /** Ends every stream cleanly (shutdown); resolves once they are done, or after `CLOSE_WAIT_MS`. */
  async close(): Promise<void> {
    this.flush();
    const finished: Array<Promise<void>> = [];
    for (const set of [...this.subscribers.values(), this.globalSubscribers]) {
      for (const subscriber of [...set]) {
        subscriber.end();
        finished.push(subscriber.finished);
      }
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(finished),
      new Promise((resolve) => {
        timer = setTimeout(resolve, CLOSE_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  private setFor(subscriber: Subscriber): Set<Subscriber> {
    if (subscriber.directory === undefined) return this.globalSubscribers;
    let set = this.subscribers.get(subscriber.directory);
    if (!set) {
      set = new Set();
      this.subscribers.set(subscriber.directory, set);
    }
    return set;
  }

  /** What a subscriber missed since `lastEventId`; undefined when that cannot be told exactly. */
  private missedSince(directory: string | undefined, lastEventId: string | undefined): Update[] | undefined {
    const cursor = parseCursor(lastEventId);
    if (!cursor || cursor.epoch !== this.epoch || cursor.seq > this.seq) return undefined;
    const forgotten = cursor.seq < this.forgottenUpTo;
    if (directory !== undefined) {
      const ring = this.rings.get(directory);
      // A cursor older than the instance's history is from history let go (or from another instance).
      if (ring) return cursor.seq < ring.firstSeq ? undefined : ring.since(cursor.seq);
      // No history: nothing happened in this instance since the cursor, unless its history was dropped.
      return forgotten ? undefined : [];
    }
    if (forgotten) return undefined;
    const all: Update[] = [];
    for (const ring of this.rings.values()) {
      const missed = ring.since(cursor.seq);
      if (!missed) return undefined;
      all.push(...missed);
    }
    return all.sort((a, b) => a.seq - b.seq);
  }

  private ringFor(directory: string): Ring<Update> {
    let ring = this.rings.get(directory);
    if (!ring) {
      if (this.rings.size >= this.maxInstances) this.evictIdleRing();
      ring = new Ring<Update>(this.options.replaySize);
      this.rings.set(directory, ring);
    }
    return ring;
  }

  /**
   * Lets go of the history of an instance nobody follows any more (unless it has clients
   * after all). A cursor into it, even its newest, no longer resumes: what happened in the
   * instance while nobody followed it was never told.
   */
  forget(directory: string): void {
    const ring = this.rings.get(directory);
    if (!ring || this.subscribers.has(directory)) return;
    this.rings.delete(directory);
    this.forgottenUpTo = Math.max(this.forgottenUpTo, ring.lastSeq + 1);
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
    if (oldest === undefined) return;
    this.rings.delete(oldest);
    this.forgottenUpTo = Math.max(this.forgottenUpTo, oldestSeq);
  }
}

function globalFrameOf(update: Update): Buffer {
  update.globalFrame ??= globalFrame(update, update.cursor);
  return update.globalFrame;
}

function frameFor(subscriber: Subscriber, update: Update): Buffer {
  return subscriber.global ? globalFrameOf(update) : update.frame;
}
