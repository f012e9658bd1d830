import type { FastifyBaseLogger } from "fastify";
import { describeError } from "../errors.js";
import { LATE_MS } from "../hub/announcements.js";
import type { Sink } from "../hub/sink.js";
import { type Envelope, type EventPayload, sessionOf } from "../hub/update.js";
import { type ActiveSource, type Metrics, noMetrics, type SwitchReason } from "../metrics.js";
import type { Upstream } from "../upstream/upstream.js";
import { GlobalSource, type GlobalSourceOptions, type GlobalSourceState } from "./global.js";
import type { LogHint } from "./log-line.js";
import { LogWitness } from "./log-witness.js";
import type { ReadKind } from "./reconciler/instance-reconciler.js";
import { RECONCILED_TYPES } from "./reconciler/reconciled.js";
import { Reconciler } from "./reconciler/reconciler.js";
import { StreamJudge, type StreamJudgeOptions } from "./stream-judge.js";
import { StreamRecord } from "./stream-record.js";

/** Where `/event` comes from (`--source`): `auto` picks global when upstream's stream works, poll otherwise. */
export const SOURCE_MODES = ["auto", "global", "poll", "passthrough"] as const;
export type SourceMode = (typeof SOURCE_MODES)[number];

const STATUS_TYPES = new Set(["session.status", "session.idle"]);

/** How long the stream gets to carry what a witness saw before it counts as missed. */
const GRACE_MS = 400;

/** Published for every streamed token: the busy-session reads cover those already. */
const TOO_FREQUENT = new Set(["message.part.delta"]);

export interface EventSourcesOptions {
  mode: Exclude<SourceMode, "passthrough">;
  upstream: Upstream;
  sink: Sink;
  log: FastifyBaseLogger;
  metrics?: Metrics;
  /** `--poll-interval`: between the reconciler's reads of a busy instance while it feeds clients. */
  pollIntervalMs: number;
  /** Whether opencode's log is followed (`fromLog` will be told its lines): then it is a witness too. */
  followsLog?: boolean;
  /** Tuning of upstream's stream, for tests of its failures. */
  stream?: Pick<GlobalSourceOptions, "stallTimeoutMs" | "maxFrameBytes">;
  judge?: StreamJudgeOptions;
}

/** How the shim serves clients now, and why. */
export interface SourceHealth {
  status: "ok" | "degraded";
  reason?: string;
}

/**
 * Decides, and keeps deciding, where clients' events come from: upstream's stream, with
 * the reconciler checking behind it, or the reconciler alone, reading fast. The stream is
 * the fast path and REST the truth: the stream's state events reach clients only while
 * it is live and trusted. It stops being trusted when the witnesses — the reconciler's
 * REST reads, with opencode's log to make them look at once — see what it did not carry
 * within `LATE_MS`; then the reconciler feeds clients while the stream is only watched,
 * until it has carried what REST showed for a while. In `auto` the reconciler also feeds
 * clients while the stream is down. Every change is logged once, counted, and told by
 * `health`.
 */
export class EventSources {
  readonly mode: Exclude<SourceMode, "passthrough">;
  readonly global: GlobalSource | undefined;
  readonly reconciler: Reconciler;
  private activeSource: ActiveSource;
  private readonly sink: Sink;
  private readonly log: FastifyBaseLogger;
  private readonly metrics: Metrics;
  private readonly judge: StreamJudge;
  private readonly record: StreamRecord;
  private readonly logWitness: LogWitness | undefined;
  private streamLive = false;
  private downReason: string | undefined;

  constructor(options: EventSourcesOptions) {
    this.mode = options.mode;
    this.sink = options.sink;
    this.log = options.log;
    this.metrics = options.metrics ?? noMetrics;
    const { upstream, sink, log, metrics } = options;
    this.reconciler = new Reconciler({
      upstream,
      sink,
      log,
      metrics,
      pollIntervalMs: options.pollIntervalMs,
      graceMs: GRACE_MS,
      onCorrections: (_directory, events, kind) => this.corrected(events, kind),
    });
    this.global =
      this.mode === "poll"
        ? undefined
        : new GlobalSource({
            upstream,
            log,
            metrics,
            ...options.stream,
            onEvent: (envelope) => this.fromStream(envelope),
            onChunkRead: () => this.sink.flush(),
          });
    this.judge = new StreamJudge(options.judge);
    this.judge.on("verdict", () => this.decide(this.judge.verdict === "lying" ? "lying" : "honest"));
    this.record = new StreamRecord({
      lateMs: LATE_MS,
      onVerdict: (carried, missed) => {
        this.judge.carried(carried);
        this.judge.missed(missed);
      },
    });
    this.logWitness = !options.followsLog
      ? undefined
      : new LogWitness({
          graceMs: GRACE_MS,
          types: RECONCILED_TYPES,
          // The log says the stream owes events: REST decides whether it lied, now.
          onShortfall: () => {
            if (!this.reconciler.leading) this.reconciler.nudge();
          },
        });
    this.activeSource = this.mode === "poll" ? "poll" : "global";
    this.reconciler.lead(this.mode === "poll");
    this.global?.on("state", (state: GlobalSourceState) => this.onStreamState(state));
  }

  get active(): ActiveSource {
    return this.activeSource;
  }

  /** Whether the hub must serve `/global/event` itself (the shim is not on upstream's stream). */
  get servesGlobalEvent(): boolean {
    return this.activeSource === "poll";
  }

  /** Whether the shim is working around upstream's stream, and why. */
  get health(): SourceHealth {
    if (this.mode === "poll") return { status: "ok" };
    if (this.judge.verdict === "lying")
      return { status: "degraded", reason: `${this.judge.reason}; serving /event from REST reads` };
    if (this.mode === "auto" && !this.streamLive)
      return {
        status: "degraded",
        reason: `upstream's /global/event is down${this.downReason ? ` (${this.downReason})` : ""}; serving /event from REST reads`,
      };
    return { status: "ok" };
  }

  /**
   * An event of upstream's stream. Trusted, it goes to clients; not trusted, only what the
   * reconciler cannot rebuild does, and the rest is noted as evidence for the judge.
   */
  fromStream(envelope: Envelope): boolean {
    const { type } = envelope.payload;
    this.logWitness?.streamed(type);
    this.record.noted(envelope.payload);
    if (this.reconciler.leading && RECONCILED_TYPES.has(type)) return false;
    if (STATUS_TYPES.has(type) && this.record.behindOn(sessionOf(envelope.payload) ?? "")) {
      // Behind what a correction told of the session: this status is older than the one clients have.
      this.metrics.duplicateDropped(true);
      return false;
    }
    return this.sink.publish(envelope);
  }

  /** A line of opencode's log: a publish the stream owes, and a reason to read REST now when the reconciler leads. */
  fromLog(hint: LogHint): void {
    if (hint.busType && this.streamLive) this.logWitness?.published(hint.busType);
    if (this.reconciler.leading && !(hint.busType && TOO_FREQUENT.has(hint.busType)))
      this.reconciler.nudge(hint.sessionID);
  }

  /**
   * What a read of the reconciler published: each correction is a change REST showed, and
   * the stream either carried it (before, or late) or missed it. What a catch-up after an
   * outage publishes is no evidence: the stream was away.
   */
  corrected(events: EventPayload[], kind: ReadKind): void {
    if (!this.streamLive || kind === "catch-up") return;
    this.record.check(events);
    // Until the stream is found late or lying, what else it misses must not wait for the slow pace.
    if (kind === "check") this.reconciler.hurry(LATE_MS);
  }

  /**
   * Starts the sources. `global` insists on upstream's stream; `auto` settles for
   * polling when the stream is not there within `waitMs`, and keeps trying it.
   */
  async start(waitMs: number): Promise<void> {
    if (!this.global) return;
    this.global.start();
    if (this.mode === "global") {
      await this.global.ready(waitMs);
      return;
    }
    try {
      await this.global.ready(waitMs);
    } catch (error) {
      this.downReason = describeError(error);
      this.log.warn(
        { reason: this.downReason },
        "upstream /global/event is not streaming: rebuilding /event by polling until it does",
      );
      this.decide("down");
    }
  }

  /**
   * Before a client's stream starts: have the reconciler follow its instance. When the
   * reconciler feeds clients, wait until it knows the instance's present state, so that
   * everything after the client's `server.connected` reaches it as news.
   */
  async prepare(directory: string): Promise<void> {
    const tracked = this.reconciler.track(directory);
    if (this.activeSource === "poll") {
      await tracked;
      return;
    }
    tracked.catch(() => {}); // behind a live stream this is only a safety net; it retries on its own
  }

  async stop(): Promise<void> {
    this.judge.stop();
    this.record.clear();
    this.logWitness?.stop();
    await this.global?.stop();
    await this.reconciler.stop();
  }

  private onStreamState(state: GlobalSourceState): void {
    if (state === "live") {
      this.streamLive = true;
      this.downReason = undefined;
      this.logWitness?.reset();
      this.decide("live");
    } else if (state === "down" && this.streamLive) {
      this.streamLive = false;
      this.logWitness?.reset();
      this.record.clear();
      this.decide("down");
    }
  }

  /**
   * Puts clients on whatever the mode, the stream's state and the judge's verdict call for.
   * Never called in `poll` mode: there is no stream there, so no state change and no verdict.
   */
  private decide(reason: SwitchReason): void {
    const lying = this.judge.verdict === "lying";
    const leading = lying || (this.mode === "auto" && !this.streamLive);
    const active: ActiveSource = leading ? "poll" : "global";
    const wasLeading = this.reconciler.leading;
    if (active !== this.activeSource) {
      this.activeSource = active;
      this.metrics.sourceSwitched(active, reason, leading);
      this.say(reason);
    }
    this.reconciler.lead(leading);
    if (leading && !wasLeading) {
      this.reconciler.nudge(); // what the stream did not say, clients get now
    } else if (!leading && (wasLeading || reason === "live")) {
      // Back on the stream: what it did not carry while it was away or watched, clients get now.
      void this.reconciler.catchUp();
    }
  }

  private say(reason: SwitchReason): void {
    switch (reason) {
      case "lying":
        this.log.warn(
          { reason: this.judge.reason },
          "upstream's event stream is lying: serving /event from REST reads until it proves honest",
        );
        return;
      case "honest":
        this.log.info(
          { heldMs: this.judge.holdingMs },
          "upstream's event stream carried what REST showed: back on it",
        );
        return;
      case "down":
        this.log.info({ source: "poll" }, "event source: polling upstream");
        return;
      case "live":
        this.log.info({ source: "global" }, "event source: upstream /global/event");
        return;
    }
  }
}
