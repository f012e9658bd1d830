/** Remembers the last `capacity` event ids, to drop an event that arrives twice. */
export class RecentIds {
  private readonly order: string[];
  private readonly seen = new Set<string>();
  private next = 0;

  constructor(readonly capacity: number) {
    this.order = new Array(capacity);
  }

  /** Records `id`; false when it was already among the recent ones. */
  add(id: string): boolean {
    if (this.seen.has(id)) return false;
    const evicted = this.order[this.next];
    if (evicted !== undefined) this.seen.delete(evicted);
    this.order[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.seen.add(id);
    return true;
  }

  has(id: string): boolean {
    return this.seen.has(id);
  }
}
