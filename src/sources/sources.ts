import type { FastifyBaseLogger } from "fastify";
import { describeError } from "../errors.js";
import type { Envelope, EventPayload } from "../hub/update.js";
import type { Feeder, Metrics, SwitchReason } from "../metrics.js";
import { REBUILT_TYPES } from "../opencode/events.js";
import type { MirrorView } from "../opencode/mirror.js";
import type { OpencodeSink } from "../opencode/sink.js";
import { GRACE_MS, LATE_MS } from "../trust.js";
import type { Upstream } from "../upstream/upstream.js";
import { GlobalSource, type GlobalSourceOptions, type GlobalSourceState } from "./global.js";
import type { LogHint } from "./log/log-line.js";
import { LogWitness } from "./log/log-witness.js";
import type { Audience } from "./reconciler/following.js";
import type { ReadKind } from "./reconciler/instance-reconciler.js";
import { signalsOf } from "./reconciler/log-signals.js";
import type { Signal } from "./reconciler/read-pace.js";
import { Reconciler } from "./reconciler/reconciler.js";
import { StreamJudge, type StreamJudgeOptions } from "./stream-judge.js";

/**
 * Where `/event` comes from (`--source`): `global` upstream's stream, `poll` the reconciler
 * alone, `auto` the stream while it is live and trusted and the reconciler otherwise,
 * `passthrough` upstream's own `/event`, relayed.
 */
export const SOURCE_MODES = ["auto", "global", "poll", "passthrough"] as const;
export type SourceMode = (typeof SOURCE_MODES)[number];

export interface EventSourcesOptions {
  mode: Exclude<SourceMode, "passthrough">;
  upstream: Upstream;
  sink: OpencodeSink;
  /** What clients were told, to compare upstream's state with. */
  mirror: MirrorView;
  /** Who follows which instance: the reconciler reads only those someone follows (see `lastFollowed`). */
  audience: Audience;
  log: FastifyBaseLogger;
  metrics: Metrics;
  /** `--poll-interval`: between the reconciler's reads of a busy instance while it feeds clients. */
  pollIntervalMs: number;
  /** `--read-budget`: the reconciler's requests a second to upstream at most (0: no budget). */
  readBudget?: number;
  /** Whether opencode's log is followed (`fromLog` will be told its lines): then it is a witness too. */
  followsLog?: boolean;
  /** Tuning of upstream's stream, for tests of its failures. */
  stream?: Pick<GlobalSourceOptions, "stallTimeoutMs" | "maxFrameBytes">;
  /** Tuning of the stream's judge, for tests that cannot wait for the defaults. */
  judge?: StreamJudgeOptions;
}

/** What a turn beginning or ending changes, as the reconciler reads it. */
const TURN_SIGNALS: readonly Signal[] = ["statuses", "list"];

/** The `directory` of upstream's events about the process as a whole (`project.updated`). */
const GLOBAL_DIRECTORY = "global";

/** A read deferred by the budget this recently is named in the health. */
const BUDGET_NOTICE_MS = 10_000;

/** How the shim serves clients now, and why. */
export interface SourceHealth {
  status: "ok" | "degraded";
  reason?: string;
}

/**
 * Decides, and keeps deciding, who feeds clients: upstream's stream, with the reconciler
 * checking behind it, or the reconciler alone, reading fast. The stream is the fast path
 * and REST the truth: the stream's judge weighs each of the reconciler's corrections
 * against what the stream carried, and the stream feeds clients only while it is live and
 * trusted. While the reconciler feeds them, what the stream still carries goes out too, as
 * far as it tells more than the reconciler did (the sink merges the two). In `auto` the reconciler also feeds clients while the
 * stream is down. Every change is logged once, counted, and told by `health`.
 */
export class EventSources {
  readonly mode: Exclude<SourceMode, "passthrough">;
  readonly global: GlobalSource | undefined;
  readonly reconciler: Reconciler;
  private readonly sink: OpencodeSink;
  private readonly log: FastifyBaseLogger;
  private readonly metrics: Metrics;
  private readonly judge: StreamJudge;
  private readonly logWitness: LogWitness | undefined;
  private readonly audience: Audience;
  private streamLive = false;
  private downReason: string | undefined;
  private readonly releaseListeners: Array<(directory: string) => void> = [];

  constructor(options: EventSourcesOptions) {
    this.mode = options.mode;
    this.sink = options.sink;
    this.log = options.log;
    this.metrics = options.metrics;
    this.audience = options.audience;
    const { upstream, sink, log, metrics } = options;
    this.reconciler = new Reconciler({
      upstream,
      sink,
      mirror: options.mirror,
      audience: options.audience,
      log,
      metrics,
      pollIntervalMs: options.pollIntervalMs,
      readBudget: options.readBudget,
      onRelease: (directory) => {
        for (const listener of this.releaseListeners) listener(directory);
      },
      onCorrections: (_directory, events, kind) => this.corrected(events, kind),
      // Merged while the reconciler feeds clients, what the stream carries leaves it nothing to correct: REST confirming it is the evidence.
      onCarried: (_directory, { changes, turns }) => {
        if (this.streamLive && this.reconciler.feedsClients) this.judge.carried(changes, turns);
      },
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
    this.judge = new StreamJudge({
      ...options.judge,
      onVerdict: (verdict) => this.decide(verdict === "lying" ? "lying" : "honest"),
    });
    this.logWitness = !options.followsLog
      ? undefined
      : new LogWitness({
          graceMs: GRACE_MS,
          types: REBUILT_TYPES,
          // The log says the stream owes events: REST decides whether it lied, now.
          onShortfall: () => {
            if (!this.reconciler.feedsClients) this.reconciler.nudge();
          },
        });
    this.reconciler.feedClients(this.mode === "poll");
    this.global?.on("state", (state: GlobalSourceState) => this.onStreamState(state));
    const judge = this.judge;
    const reconciler = this.reconciler;
    sink.judgedBy({
      get feeder(): Feeder {
        return reconciler.feedsClients ? "reconciler" : "stream";
      },
      behindOn: (sessionID) => judge.behindOn(sessionID),
      unknownTold: (directory) => reconciler.nudgeInstance(directory),
    });
  }

  /** Who feeds clients now. */
  get feeder(): Feeder {
    return this.reconciler.feedsClients ? "reconciler" : "stream";
  }

  /** Whether the shim is working around upstream's stream, or holding its reads back, and why. */
  get health(): SourceHealth {
    const stream = this.streamHealth;
    const budget = this.reconciler.budget;
    const { deferredAt } = budget;
    if (deferredAt === undefined || performance.now() - deferredAt >= BUDGET_NOTICE_MS) return stream;
    const held = `reads of opencode held to --read-budget (${budget.perSecond} a second${budget.rate < budget.perSecond ? `, ${Math.round(budget.rate)} while it answers slowly` : ""}): ${budget.deferred} deferred so far, changes may reach clients later`;
    return { status: "degraded", reason: stream.reason ? `${stream.reason}; ${held}` : held };
  }

  /** Whether the shim is working around upstream's stream, and why. */
  private get streamHealth(): SourceHealth {
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

  /** An event of upstream's stream: evidence for the judge, and news for clients if the sink admits it. */
  fromStream(envelope: Envelope): boolean {
    this.logWitness?.streamed(envelope.payload.type);
    // A client of the shim's /global/event sees every instance the stream tells of: should the stream stop telling the truth, the reconciler already follows them.
    if (this.audience.globalSubscriberCount > 0 && envelope.directory !== GLOBAL_DIRECTORY)
      this.reconciler.follow(envelope.directory);
    this.judge.noted(envelope.payload);
    return this.sink.publish(envelope) === "new";
  }

  /** A line of opencode's log: a publish the stream owes, and a reason to read REST now when the reconciler feeds clients. */
  fromLog(hint: LogHint): void {
    if (hint.busType) {
      this.reconciler.logPulse.published();
      if (this.streamLive) this.logWitness?.published(hint.busType);
    }
    const signals = signalsOf(hint);
    if (!signals) return;
    if (this.reconciler.feedsClients) this.reconciler.nudge(hint.sessionID, signals);
    // Behind a trusted stream, a turn beginning or ending is looked at now: the log names no
    // session, so what it owes cannot be matched one to one (see LogWitness), and a turn's
    // end is where a lossy stream's loss shows.
    else if (hint.busType && signals.includes("statuses")) this.reconciler.nudge(undefined, TURN_SIGNALS);
  }

  /**
   * What a read of the reconciler published: each correction is a change REST showed, and
   * the stream either carried it (before, or late) or missed it. What a catch-up after an
   * outage publishes is no evidence: the stream was away.
   */
  private corrected(events: EventPayload[], kind: ReadKind): void {
    if (!this.streamLive || kind === "catch-up") return;
    this.judge.check(events);
    // Until the stream is found late or lying, what else it misses must not wait for the slow pace.
    if (kind === "check") this.reconciler.hurry(LATE_MS);
  }

  /**
   * Starts the sources. `global` insists on upstream's stream; `auto` settles for
   * the reconciler when the stream is not there within `waitMs`, and keeps trying it.
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
        "upstream /global/event is not streaming: rebuilding /event from REST reads until it does",
      );
      this.decide("down");
    }
  }

  /**
   * Before a client's stream starts: have the reconciler follow its instance. When the
   * reconciler feeds clients, wait until it knows the instance's present state, so that
   * everything after the client's `server.connected` reaches it as news; with `knowState`,
   * wait for it in any case (a stream that follows sessions needs their subagents known).
   */
  async prepare(directory: string, knowState = false): Promise<void> {
    const tracked = this.reconciler.track(directory);
    if (this.reconciler.feedsClients || knowState) {
      await tracked;
      return;
    }
    tracked.catch(() => {}); // behind a live stream this is only a safety net; it retries on its own
  }

  /** Told of each instance the reconciler lets go (nobody followed it for a while). */
  onInstanceReleased(listener: (directory: string) => void): void {
    this.releaseListeners.push(listener);
  }

  async stop(): Promise<void> {
    this.judge.stop();
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
      this.judge.reset();
      this.decide("down");
    }
  }

  /**
   * Puts clients on the feeder the mode, the stream's state and the judge's verdict call
   * for. Never called in `poll` mode: there is no stream there, so no state change and no
   * verdict.
   */
  private decide(reason: SwitchReason): void {
    const lying = this.judge.verdict === "lying";
    const reconcilerFeeds = lying || (this.mode === "auto" && !this.streamLive);
    const before = this.feeder;
    this.reconciler.feedClients(reconcilerFeeds);
    if (this.feeder !== before) {
      this.metrics.feederChanged(this.feeder, reason);
      this.say(reason);
    }
    if (reconcilerFeeds && before === "stream") {
      this.reconciler.nudge(); // what the stream did not say, clients get now
    } else if (!reconcilerFeeds && (before === "reconciler" || reason === "live")) {
      // Back on the stream: what it did not carry while it was away or distrusted, clients get now.
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
        this.log.info({ feeder: "reconciler" }, "clients are fed from REST reads: upstream's stream is down");
        return;
      case "live":
        this.log.info({ feeder: "stream" }, "clients are fed from upstream /global/event");
        return;
    }
  }
}
