import { type ReceivedEvent, SseClient } from "../../../fixtures/sse-client.js";

/** A spell a client was not connected: from when it left to when its next stream said server.connected. */
export interface Absence {
  from: number;
  to: number | undefined;
}

/**
 * A person's client of one instance's `/event`, through every connection it makes: it
 * leaves and comes back with `Last-Event-ID` (as browsers and the SDK resend it), and
 * reconnects at once when the shim ends its stream (an instance disposed). Its view is
 * every event of all its connections, in order.
 */
export class ChaosClient {
  readonly connections: SseClient[] = [];
  readonly absences: Absence[] = [];
  /** Connections that resumed (sent `Last-Event-ID`). */
  resumed = 0;
  private current: SseClient | undefined;
  private closing = false;
  private reconnecting: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly directory: string,
    private readonly shimUrl: () => string,
  ) {}

  /** Connects; resolves once its stream said server.connected. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Whether a stream is open now. */
  get connected(): boolean {
    return this.current !== undefined && !this.current.isEnded;
  }

  /** Every event this client got, over all its connections, in order (server.* left out). */
  view(): ReceivedEvent[] {
    return this.connections.flatMap((connection) =>
      connection.events.filter((event) => !event.json.type.startsWith("server.")),
    );
  }

  /** Every event, `server.*` included: what the client saw of disposals. */
  everything(): ReceivedEvent[] {
    return this.connections.flatMap((connection) => connection.events);
  }

  /**
   * When the client could first have got, for good, what happened at `at` and reached it at
   * `got`: then, or when it last came back in between (a client that left a moment after
   * `at` got it only on its return).
   */
  reachableFrom(at: number, got: number): number {
    return reachableFrom(this.absences, at, got);
  }

  /** Closes its stream, as a person closing a tab. */
  leave(): void {
    if (!this.current) return;
    this.closing = true;
    this.absences.push({ from: performance.now(), to: undefined });
    this.current.close();
    this.current = undefined;
  }

  /** Comes back, resuming where it left off. */
  async back(): Promise<void> {
    this.closing = false;
    await this.connect();
  }

  close(): void {
    this.closing = true;
    this.current?.close();
    this.current = undefined;
  }

  /** Resolves once the client is connected (reconnecting first, if the shim ended its stream). */
  async settled(): Promise<void> {
    while (this.reconnecting) await this.reconnecting;
    if (!this.connected && !this.closing) await this.connect();
  }

  private lastEventId(): string | undefined {
    for (let i = this.connections.length - 1; i >= 0; i--) {
      const id = this.connections[i]?.lastEventId;
      if (id !== undefined) return id;
    }
    return undefined;
  }

  private async connect(): Promise<void> {
    const url = `${this.shimUrl()}/event?directory=${encodeURIComponent(this.directory)}`;
    for (let attempt = 0; ; attempt++) {
      const lastEventId = this.lastEventId();
      const connection = await SseClient.connect(url, lastEventId ? { "last-event-id": lastEventId } : {});
      if (connection.status === 200) {
        try {
          await connection.waitFor((event) => event.json.type === "server.connected", 20_000);
        } catch {
          connection.close();
          continue;
        }
        if (lastEventId) this.resumed++;
        this.connections.push(connection);
        this.current = connection;
        const absence = this.absences.at(-1);
        if (absence && absence.to === undefined) absence.to = performance.now();
        void connection.ended.then(() => this.ended(connection));
        return;
      }
      connection.close();
      if (attempt > 200) throw new Error(`${this.name}: /event answered ${connection.status} for 60 s`);
      // opencode is away (restarting): try again shortly, as a client's retry would.
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  /** The shim ended the stream (an instance disposed): back at once, resuming. */
  private ended(connection: SseClient): void {
    if (this.closing || this.current !== connection) return;
    this.current = undefined;
    this.absences.push({ from: performance.now(), to: undefined });
    this.reconnecting = this.connect().finally(() => {
      this.reconnecting = undefined;
    });
  }
}

/** A client that leaves every few seconds and comes back after a while, until the run is over. */
export async function comeAndGo(
  client: ChaosClient,
  random: { int(min: number, max: number): number },
  running: () => boolean,
): Promise<void> {
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  while (running()) {
    await pause(random.int(3_000, 10_000));
    if (!running()) return;
    await client.settled();
    client.leave();
    await pause(random.int(500, 5_000));
    await client.back();
  }
}

/** See `ChaosClient.reachableFrom`: `at`, or the end of the last absence between `at` and `got`. */
export function reachableFrom(
  absences: Array<{ from: number; to?: number | undefined }>,
  at: number,
  got: number,
): number {
  let from = at;
  for (const absence of absences)
    if (absence.from < got && (absence.to ?? Infinity) > at) from = Math.max(from, absence.to ?? Infinity);
  return from;
}
