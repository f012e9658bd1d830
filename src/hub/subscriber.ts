/** What a subscriber writes to: an HTTP response (or its socket), or anything shaped like one in tests. */
export interface SubscriberStream {
  write(frames: Buffer): unknown;
  end(): unknown;
  destroy(): unknown;
  /** Bytes written and not yet handed to the kernel. */
  readonly writableLength: number;
  once(event: "close", listener: () => void): unknown;
}

/**
 * One client's stream: an instance's `/event` (`directory` set), or the whole server's
 * `/global/event` (`directory` undefined) — of one workspace only, when `workspace` is set,
 * and only of some sessions (and their descendants), when `sessions` is set. Frames are
 * written as they come; a client that stops reading is cut off once `maxBufferedBytes` are
 * waiting for it, so it can never slow down or bloat the others (it can come back with
 * `Last-Event-ID`).
 */
export class Subscriber {
  private closed = false;
  private readonly closeListeners: Array<() => void> = [];
  overflowed = false;
  /** The hub's sequence number when this stream started: it is written only what came after. */
  since = 0;
  /** Settles once the stream is really done with (its last bytes handed to the socket). */
  readonly finished: Promise<void>;
  /** What it filters by, as a key: streams with the same key are written the same frames ("" for all of them). */
  readonly filter: string;

  constructor(
    readonly directory: string | undefined,
    readonly workspace: string | undefined,
    private readonly stream: SubscriberStream,
    private readonly maxBufferedBytes: number,
    readonly sessions?: ReadonlySet<string>,
  ) {
    this.filter =
      workspace === undefined && sessions === undefined
        ? ""
        : JSON.stringify([workspace ?? null, sessions ? [...sessions].sort() : null]);
    this.finished = new Promise((resolve) => {
      stream.once("close", () => {
        this.markClosed();
        resolve();
      });
    });
  }

  /** Whether this is a `/global/event` stream, framed with each event's instance. */
  get global(): boolean {
    return this.directory === undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether an event of `workspace`, about `sessions` (its own and its ancestors), belongs on this stream. */
  accepts(update: { workspace?: string | undefined; sessions: readonly string[] }): boolean {
    if (this.workspace !== undefined && this.workspace !== update.workspace) return false;
    if (this.sessions === undefined) return true;
    for (const session of update.sessions) if (this.sessions.has(session)) return true;
    return false;
  }

  /** Writes frames, unless the client is already more than `maxBufferedBytes` behind: then it is cut off. */
  write(frames: Buffer): void {
    if (this.closed) return;
    if (this.stream.writableLength > this.maxBufferedBytes) {
      this.overflowed = true;
      this.markClosed();
      this.stream.destroy();
      return;
    }
    this.stream.write(frames);
  }

  /** Ends the stream cleanly, as upstream does after `server.instance.disposed`. */
  end(): void {
    if (this.closed) return;
    this.markClosed();
    this.stream.end();
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}
