import { EventEmitter } from "node:events";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyBaseLogger } from "fastify";
import { describeError } from "../errors.js";
import type { Envelope } from "../hub/update.js";
import { type Metrics, noMetrics } from "../metrics.js";
import type { Upstream } from "../upstream/upstream.js";
import type { GlobalFrame } from "./global-frame.js";
import { createGlobalStreamReader, type GlobalStreamReader } from "./global-stream.js";
import { StallWatchdog } from "./stall-watchdog.js";

export interface GlobalSourceOptions {
  upstream: Upstream;
  /** Each event of the stream, as it is read; true when it went out to clients. */
  onEvent: (envelope: Envelope) => boolean;
  /** A chunk of the stream has been read, its events handed to `onEvent`: they are to go out now. */
  onChunkRead: () => void;
  log: FastifyBaseLogger;
  /** Told of reconnects, and of each published event's added latency. */
  metrics?: Metrics;
  /** Silence after which the stream counts as stalled and is reconnected. */
  stallTimeoutMs?: number;
  /** Largest frame accepted from upstream. */
  maxFrameBytes?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A stream live at least this long counts as healthy: after it, the first retry is immediate. */
  stableAfterMs?: number;
}

export type GlobalSourceState = "connecting" | "live" | "down" | "stopped";

/** One connection to upstream's stream, as its phases share it. */
interface Connection {
  abort: AbortController;
  /** When its first frame came (`performance.now()`); undefined until then. */
  liveSince: number | undefined;
  /** Events of the chunk being read that clients got: their latency is observed once written. */
  published: number;
}

/**
 * The shim's one connection to upstream's `GET /global/event`, which still works on the
 * releases whose `/event` does not. Every frame is unwrapped and handed to `onEvent` with
 * its directory; a stream that ends, fails or goes silent is reconnected with backoff.
 *
 * Emits `state` (GlobalSourceState) on every change.
 */
export class GlobalSource extends EventEmitter {
  private stateValue: GlobalSourceState = "connecting";
  private stopped = false;
  private readonly stopping = new AbortController();
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;
  private lastProblem: string | undefined;
  private readonly skippedReasons = new Set<string>();
  private everLive = false;
  private readonly metrics: Metrics;
  private readonly stallTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly stableAfterMs: number;

  constructor(private readonly options: GlobalSourceOptions) {
    super();
    this.stallTimeoutMs = options.stallTimeoutMs ?? 35_000;
    this.maxFrameBytes = options.maxFrameBytes ?? 16 * 1024 * 1024;
    this.initialBackoffMs = options.initialBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 3_000;
    this.stableAfterMs = options.stableAfterMs ?? 5_000;
    this.metrics = options.metrics ?? noMetrics;
  }

  get state(): GlobalSourceState {
    return this.stateValue;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Resolves once the stream is live; rejects after `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    if (this.stateValue === "live") return;
    let onState: ((state: GlobalSourceState) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        onState = (state) => {
          if (state === "live") resolve();
        };
        this.on("state", onState);
        timer = setTimeout(() => {
          const reason = this.lastProblem ? `: ${this.lastProblem}` : "";
          reject(new Error(`upstream /global/event did not stream within ${timeoutMs} ms${reason}`));
        }, timeoutMs);
      });
    } finally {
      clearTimeout(timer);
      if (onState) this.off("state", onState);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.abort?.abort();
    await this.running;
    this.setState("stopped");
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const liveMs = await this.connectOnce();
      if (this.stopped) break;
      this.setState("down");
      // A stream that breaks soon after it went live (a flapping upstream) backs off like
      // one that never went live: only a healthy stream's end is retried at once.
      failures = liveMs >= this.stableAfterMs ? 0 : failures + 1;
      const delay =
        failures === 0 ? 0 : Math.min(this.initialBackoffMs * 2 ** (failures - 1), this.maxBackoffMs);
      if (delay > 0) await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => {});
      if (!this.stopped) this.setState("connecting");
    }
  }

  /** One connection, from request to end of stream: how long it was live (ms), 0 if never. */
  private async connectOnce(): Promise<number> {
    const abort = new AbortController();
    this.abort = abort;
    const connection: Connection = { abort, liveSince: undefined, published: 0 };
    const watchdog = new StallWatchdog(this.stallTimeoutMs, () => {
      this.problem(`no data for ${this.stallTimeoutMs} ms, reconnecting`);
      abort.abort();
    });
    try {
      // Armed before the answer too: opencode never answers a request that reaches it in its
      // first moments (docs/opencode-answers.md §4a), and the pool waits for ever.
      watchdog.fed();
      const body = await this.open(abort.signal);
      if (!body) return 0;
      watchdog.fed();
      await this.readAll(body, connection, watchdog);
      if (!this.stopped) this.problem("GET /global/event ended, reconnecting");
    } catch (error) {
      if (!this.stopped && !abort.signal.aborted)
        this.problem(`GET /global/event failed: ${describeError(error)}`);
    } finally {
      watchdog.stop();
    }
    return connection.liveSince === undefined ? 0 : performance.now() - connection.liveSince;
  }

  /** Phase 1: asks for the stream; its body, or undefined (the problem told) when upstream answered something else. */
  private async open(signal: AbortSignal): Promise<Readable | undefined> {
    const response = await this.options.upstream.pool.request({
      method: "GET",
      path: "/global/event",
      headers: this.options.upstream.ownHeaders({ accept: "text/event-stream" }),
      signal,
    });
    const contentType = String(response.headers["content-type"] ?? "");
    if (response.statusCode === 200 && contentType.startsWith("text/event-stream")) return response.body;
    await response.body.dump().catch(() => {});
    this.problem(`GET /global/event answered ${response.statusCode} ${contentType || "(no content-type)"}`);
    return undefined;
  }

  /**
   * Phase 2: reads the stream to its end. What the socket has handed over goes out at once
   * (no async iteration, no wait for the event loop's turn to end); then one turn's pause
   * before the next read, so that with upstream's data already buffered the clients'
   * sockets still drain (and other work runs) meanwhile. A read takes all that is buffered,
   * in one piece.
   */
  private readAll(body: Readable, connection: Connection, watchdog: StallWatchdog): Promise<void> {
    const reader = createGlobalStreamReader({
      maxFrameBytes: this.maxFrameBytes,
      onFrame: (frame) => this.take(frame, connection),
      onOversize: () => {
        this.problem(`an upstream frame exceeded ${this.maxFrameBytes} bytes, reconnecting`);
        connection.abort.abort();
      },
    });
    return new Promise<void>((resolve, reject) => {
      let pausing = false;
      const readBuffered = () => {
        pausing = false;
        const chunk = body.read() as Buffer | null;
        if (chunk === null) return; // "readable" comes when there is more
        watchdog.fed();
        try {
          this.readChunk(reader, chunk, connection);
        } catch (error) {
          // Thrown here, it would escape the stream's own code: end this connection instead.
          this.problem(`reading GET /global/event failed: ${describeError(error)}`);
          connection.abort.abort();
          reject(error);
          return;
        }
        pausing = true;
        setImmediate(readBuffered);
      };
      body.on("readable", () => {
        if (!pausing) readBuffered();
      });
      body.once("end", resolve);
      body.once("close", resolve);
      body.once("error", reject);
    });
  }

  /** One chunk of the stream: its events handed on and written out, their added latency observed. */
  private readChunk(reader: GlobalStreamReader, chunk: Buffer, connection: Connection): void {
    const arrived = performance.now();
    connection.published = 0;
    reader.feed(chunk);
    this.options.onChunkRead();
    if (connection.published > 0)
      this.observeWritten(connection.published, (performance.now() - arrived) / 1000);
  }

  /** Phase 3: one frame. The first one makes the stream live; each event goes to `onEvent`. */
  private take(frame: GlobalFrame, connection: Connection): void {
    if (frame.kind === "invalid") {
      this.skipped(frame.reason);
      return;
    }
    if (connection.liveSince === undefined) this.wentLive(connection);
    if (frame.kind === "event" && this.options.onEvent(frame.envelope)) connection.published++;
  }

  private wentLive(connection: Connection): void {
    connection.liveSince = performance.now();
    if (this.everLive) this.metrics.streamReconnected();
    this.everLive = true;
    this.lastProblem = undefined;
    this.options.log.info("upstream /global/event is live");
    this.setState("live");
  }

  /** Bytes in from upstream → frames written to every client, for each of `events`. */
  private observeWritten(events: number, seconds: number): void {
    for (let i = 0; i < events; i++) this.metrics.addedLatency(seconds);
  }

  /** Logs each kind of bad frame once; there may be thousands of the same. */
  private skipped(reason: string): void {
    if (this.skippedReasons.has(reason)) return;
    this.skippedReasons.add(reason);
    this.options.log.warn({ reason }, "skipped a frame from upstream /global/event");
  }

  /** Logs a problem once, not once per retry. */
  private problem(message: string): void {
    if (message === this.lastProblem) return;
    this.lastProblem = message;
    this.options.log.warn(message);
  }

  private setState(state: GlobalSourceState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.emit("state", state);
  }
}
