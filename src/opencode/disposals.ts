/** How long a second `server.instance.disposed` of an instance counts as the same disposal. */
const SAME_DISPOSAL_MS = 5_000;
/** Instances remembered at most; past it the memory starts over. */
const MAX_REMEMBERED = 1000;

/**
 * An instance's disposal can be told twice: by upstream's stream, and by the proxy that
 * saw the call which disposed it. Clients get it once: a disposal soon after another of
 * the same instance is a repeat, unless a new disposing call was seen in between.
 */
export class Disposals {
  private readonly lastTold = new Map<string, number>();

  /** A call that disposes `directory` is on its way: its disposal is news, whoever tells it. */
  expect(directory: string): void {
    this.lastTold.delete(directory);
  }

  /** Whether this disposal repeats one told already; if not, it is remembered as told. */
  repeats(directory: string, now: number): boolean {
    const at = this.lastTold.get(directory);
    if (at !== undefined && now - at < SAME_DISPOSAL_MS) return true;
    if (this.lastTold.size > MAX_REMEMBERED) this.lastTold.clear();
    this.lastTold.set(directory, now);
    return false;
  }
}
