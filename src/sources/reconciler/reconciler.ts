import type { FastifyBaseLogger } from "fastify";
import type { EventPayload } from "../../hub/update.js";
import { type Metrics, noMetrics } from "../../metrics.js";
import type { MirrorView } from "../../opencode/mirror.js";
import type { Sink } from "../../opencode/sink.js";
import { GRACE_MS } from "../../trust.js";
import type { Upstream } from "../../upstream/upstream.js";
import type { Carried } from "./carried.js";
import type { Audience } from "./following.js";
import { InstanceReconciler, type ReadKind, type ReconcilerContext } from "./instance-reconciler.js";
import { LogPulse } from "./log-pulse.js";
import { ReadBudget } from "./read-budget.js";
import type { Pace, Signal } from "./read-pace.js";

/** Checking behind a trusted stream: between reads of a busy session's messages, at least. */
const CHECK_BUSY_INTERVAL_MS = 1250;
/**
 * Feeding clients, a busy session whose reads show no change is read this often at least,
 * so that a change reaches clients within 2 s; checking behind a trusted stream, a little
 * less often (the stream tells changes; reads look for what it failed to tell).
 */
const FEED_CAP_MS = 1_500;
const CHECK_CAP_MS = 2_000;
/**
 * While opencode's log tells when something changes (see `LogPulse`), reads are its safety
 * net: the cheap reads come this often, and a busy session nothing is said of is read this often.
 */
const LOG_LED_CHEAP_MS = 3_000;
const LOG_LED_CAP_MS = 10_000;
/** Instances read at once, unless more have clients of their own (`maxInstances`). */
const MAX_INSTANCES = 64;

export interface ReconcilerOptions {
  upstream: Upstream;
  /** Where its corrections go. */
  sink: Sink;
  /** What clients were told, to compare upstream's state with. */
  mirror: MirrorView;
  /** Who follows which instance: one not followed is let go (see `lastFollowed`). */
  audience: Audience;
  log: FastifyBaseLogger;
  metrics?: Metrics;
  /** Feeding clients: between reads of a busy session's messages while they change. */
  pollIntervalMs: number;
  /** `--read-budget`: requests a second to upstream at most, all instances together (0: no budget). */
  readBudget?: number;
  /** Feeding clients: between two cheap reads of an instance (the sessions that moved, or the statuses). */
  idleIntervalMs?: number;
  /** Checking behind a trusted stream: the same. */
  checkIntervalMs?: number;
  /** Checking behind a trusted stream: how long a difference waits for the stream to say it. */
  graceMs?: number;
  /** An instance not followed for this long is let go. */
  releaseAfterMs?: number;
  /**
   * Instances read at most: past it, the one followed longest ago is let go (never one with
   * `/event` clients of its own, nor one followed now: they are bounded by `--max-clients`).
   */
  maxInstances?: number;
  /** Told of each instance let go, once nothing of it is kept. */
  onRelease?: (directory: string) => void;
  /** Told what each read published. */
  onCorrections?: (directory: string, events: EventPayload[], kind: ReadKind) => void;
  /** Told what a read showed that upstream's stream had told clients already. */
  onCarried?: (directory: string, carried: Carried) => void;
}

/**
 * The reconciler: reads upstream's REST state of every instance a client follows,
 * compares it with what clients were told, and publishes the events upstream would have
 * sent for any difference. It either feeds clients — read fast — or checks behind a
 * trusted stream, saying only what the stream failed to say (and, hurried, fast until the
 * stream is judged). Its reads follow change (`ReadPace`): a quiet instance costs one
 * request a tick, a busy session a read when something says it changed, an instance
 * nobody follows nothing.
 */
export class Reconciler {
  private feeding = true;
  /** Until when (ms, `performance.now()`) to read at the fast pace though checking: the stream is suspect. */
  private hurriedUntil = 0;
  private readonly instances = new Map<string, InstanceReconciler>();
  private readonly context: ReconcilerContext;
  private readonly maxInstances: number;
  private readonly metrics: Metrics;
  /** The requests a second its reads may make, all instances together. */
  readonly budget: ReadBudget;
  /** opencode's log, as far as it tells when something changed (told by `logLine`). */
  readonly logPulse: LogPulse;

  constructor(options: ReconcilerOptions) {
    const metrics = options.metrics ?? noMetrics;
    this.metrics = metrics;
    this.maxInstances = options.maxInstances ?? MAX_INSTANCES;
    const idleIntervalMs = options.idleIntervalMs ?? Math.max(1000, options.pollIntervalMs * 4);
    // Behind a trusted stream, one cheap read a second, a busy session's messages from every 1.25 s on.
    const checkIntervalMs = options.checkIntervalMs ?? 1000;
    const checkBusyIntervalMs = Math.max(checkIntervalMs, CHECK_BUSY_INTERVAL_MS);
    this.budget = new ReadBudget(options.readBudget ?? 0, () => metrics.upstreamReadDeferred());
    this.logPulse = new LogPulse(() => {
      options.log.warn(
        "opencode's log did not announce a change REST shows: reads keep their own pace for a while",
      );
      for (const instance of this.instances.values()) instance.reschedule();
    });
    this.context = {
      upstream: options.upstream,
      budget: this.budget,
      sink: options.sink,
      mirror: options.mirror,
      audience: options.audience,
      log: options.log,
      kind: () => (this.feeding ? "feed" : "check"),
      pace: (): Pace => {
        const hurried = !this.feeding && performance.now() < this.hurriedUntil;
        const fast = this.feeding || hurried;
        const firstMs = fast ? options.pollIntervalMs : checkBusyIntervalMs;
        const leads = this.logPulse.leads && !hurried;
        const capMs = leads ? LOG_LED_CAP_MS : fast ? FEED_CAP_MS : CHECK_CAP_MS;
        const cheapMs = leads ? LOG_LED_CHEAP_MS : fast ? idleIntervalMs : checkIntervalMs;
        return { cheapMs, firstMs, capMs: Math.max(firstMs, capMs) };
      },
      logPulse: this.logPulse,
      graceMs: options.graceMs ?? GRACE_MS,
      releaseAfterMs: options.releaseAfterMs ?? 30_000,
      release: (instance) => {
        if (this.instances.get(instance.directory) !== instance) return;
        this.instances.delete(instance.directory);
        options.sink.forget(instance.directory);
        metrics.instancesRead(this.instances.size);
        options.onRelease?.(instance.directory);
      },
      requested: () => metrics.upstreamRead(),
      corrected: (directory, events, kind) => options.onCorrections?.(directory, events, kind),
      carried: (directory, carried) => options.onCarried?.(directory, carried),
    };
  }

  /** Whether clients are fed from the reconciler (rather than from upstream's stream, which it checks). */
  get feedsClients(): boolean {
    return this.feeding;
  }

  /** Feeds clients (reads fast, publishes at once), or checks behind a trusted stream. */
  feedClients(feeding: boolean): void {
    if (feeding === this.feeding) return;
    this.feeding = feeding;
    for (const instance of this.instances.values()) instance.reschedule();
  }

  /**
   * Reads at the fast pace for `ms`, still only checking: a stream that has just failed to
   * say something may be lying, and until that is known what it misses must not wait.
   */
  hurry(ms: number): void {
    const until = performance.now() + ms;
    if (until <= this.hurriedUntil) return;
    this.hurriedUntil = until;
    for (const instance of this.instances.values()) instance.reschedule();
  }

  /** The instances read now. */
  get instanceCount(): number {
    return this.instances.size;
  }

  /** Follows an instance from now on (someone names it); resolves once its present state is known. */
  track(directory: string): Promise<void> {
    let instance = this.instances.get(directory);
    if (instance) instance.touch();
    else {
      if (this.instances.size >= this.maxInstances) this.releaseLongestUnfollowed();
      instance = new InstanceReconciler(this.context, directory);
      this.instances.set(directory, instance);
      this.metrics.instancesRead(this.instances.size);
    }
    return instance.ready();
  }

  /** Follows an instance from now on, like `track`, without waiting (it is called for every event of the stream). */
  follow(directory: string): void {
    const instance = this.instances.get(directory);
    if (instance?.isKnown) instance.touch();
    else this.track(directory).catch(() => {}); // the first look is tried again with the next event
  }

  /**
   * Something changed upstream, as `signals` say (all of it when none are named): read the
   * instances concerned soon — those that know the session, or all when no instance knows
   * it (or none was named).
   */
  nudge(sessionID?: string, signals?: readonly Signal[]): void {
    const known = sessionID !== undefined && this.knowsSession(sessionID);
    for (const instance of this.instances.values()) {
      if (!known || this.context.mirror.instance(instance.directory).sessions.has(sessionID ?? ""))
        instance.nudge(signals, known ? sessionID : undefined);
    }
  }

  /** A read of everything of the instance soon, if it is followed. */
  nudgeInstance(directory: string): void {
    this.instances.get(directory)?.nudge();
  }

  /**
   * Reads every followed instance now, sessions listed whole, and publishes every
   * difference at once: after the stream was away, clients converge on what it missed.
   */
  async catchUp(): Promise<void> {
    await Promise.all([...this.instances.values()].map((instance) => instance.run("catch-up")));
  }

  async stop(): Promise<void> {
    const instances = [...this.instances.values()];
    this.instances.clear();
    this.budget.stop();
    this.logPulse.stop();
    await Promise.all(instances.map((instance) => instance.stop()));
  }

  /** Keeps within the bound: lets go of the instance followed longest ago, if any may go. */
  private releaseLongestUnfollowed(): void {
    const now = Date.now();
    let oldest: InstanceReconciler | undefined;
    for (const instance of this.instances.values()) {
      if (!instance.releasable(now)) continue;
      if (!oldest || instance.lastFollowed(now) < oldest.lastFollowed(now)) oldest = instance;
    }
    oldest?.release();
  }

  private knowsSession(sessionID: string): boolean {
    for (const instance of this.instances.values())
      if (this.context.mirror.instance(instance.directory).sessions.has(sessionID)) return true;
    return false;
  }
}
