/**
 * A bounded history of updates, oldest first, for replay by `Last-Event-ID`. Sequence
 * numbers only grow; `evictedUpTo` remembers the newest one that no longer fits, so a
 * cursor older than that is known to have missed something.
 */
export class Ring<T extends { seq: number }> {
  private readonly items: Array<T | undefined>;
  private start = 0;
  private count = 0;
  /** The sequence number of the first item ever pushed (0 while none was). */
  private first = 0;
  evictedUpTo: number;

  constructor(
    readonly capacity: number,
    /** Everything at or below this sequence number predates the ring. */
    createdAfter = 0,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("ring capacity must be >= 1");
    this.items = new Array(capacity);
    this.evictedUpTo = createdAfter;
  }

  get size(): number {
    return this.count;
  }

  /** The sequence number of the first item ever pushed (0 while none was): the ring knows nothing older. */
  get firstSeq(): number {
    return this.first;
  }

  get lastSeq(): number {
    if (this.count === 0) return this.evictedUpTo;
    return (this.at(this.count - 1) as T).seq;
  }

  push(item: T): void {
    if (this.first === 0) this.first = item.seq;
    if (this.count < this.capacity) {
      this.items[(this.start + this.count) % this.capacity] = item;
      this.count++;
      return;
    }
    const evicted = this.items[this.start] as T;
    this.evictedUpTo = evicted.seq;
    this.items[this.start] = item;
    this.start = (this.start + 1) % this.capacity;
  }

  /**
   * The items after `seq`, oldest first; undefined when some of them were already
   * evicted (the caller must then start over instead of resuming).
   */
  since(seq: number): T[] | undefined {
    if (seq < this.evictedUpTo) return undefined;
    let low = 0;
    let high = this.count;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.at(mid) as T).seq <= seq) low = mid + 1;
      else high = mid;
    }
    const out: T[] = [];
    for (let i = low; i < this.count; i++) out.push(this.at(i) as T);
    return out;
  }

  private at(index: number): T | undefined {
    return this.items[(this.start + index) % this.capacity];
  }
}
