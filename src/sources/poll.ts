import type { FastifyBaseLogger } from "fastify";
import type { Hub } from "../hub/hub.js";
import type { InstanceState } from "../hub/mirror.js";
import type { EventPayload } from "../hub/update.js";
import type { Upstream } from "../upstream/upstream.js";
import { InstancePoller } from "./instance-poller.js";

/** `fast`: the reconciler is the source; `slow`: a live stream is, and it only checks behind it. */
export type Pace = "fast" | "slow";

export interface ReconcilerOptions {
  upstream: Upstream;
  hub: Hub;
  log: FastifyBaseLogger;
  /** Between reads of an instance with a busy session, at fast pace. */
  pollIntervalMs: number;
  /** Between reads of an instance with nothing busy, at fast pace. */
  idleIntervalMs?: number;
  /** Between reads at slow pace. */
  slowIntervalMs?: number;
  /** How many of a busy session's newest messages each read covers. */
  messageWindow?: number;
  /** An instance nobody follows any more is let go after this long. */
  releaseAfterMs?: number;
}

/**
 * The poll source: reads upstream's REST state for each followed instance, compares it
 * with the hub's mirror and publishes the events upstream would have sent for any
 * difference. Its cost follows the work: busy instances are read every
 * `pollIntervalMs`, quiet ones slowly, unfollowed ones not at all.
 */
export class Reconciler {
  private pace: Pace = "fast";
  private readonly pollers = new Map<string, InstancePoller>();
  private retiredRequests = 0;

  constructor(readonly options: ReconcilerOptions) {}

  get currentPace(): Pace {
    return this.pace;
  }

  /** Events published to make up for what no stream said (the hub counts events by origin). */
  get corrections(): number {
    let total = 0;
    for (const [key, count] of this.options.hub.stats.eventsIn)
      if (key.startsWith("reconciler ")) total += count;
    return total;
  }

  /** Requests made to upstream so far. */
  get requests(): number {
    let total = this.retiredRequests;
    for (const poller of this.pollers.values()) total += poller.reader.count;
    return total;
  }

  intervalFor(busy: boolean): number {
    const { pollIntervalMs } = this.options;
    const idle = this.options.idleIntervalMs ?? Math.max(1000, pollIntervalMs * 4);
    if (this.pace === "slow") return this.options.slowIntervalMs ?? Math.max(5000, idle);
    return busy ? pollIntervalMs : idle;
  }

  setPace(pace: Pace): void {
    if (pace === this.pace) return;
    this.pace = pace;
    for (const poller of this.pollers.values()) poller.reschedule();
  }

  /** Follows an instance from now on; resolves once its present state is known. */
  track(directory: string): Promise<void> {
    let poller = this.pollers.get(directory);
    if (!poller) {
      poller = new InstancePoller(this, directory);
      this.pollers.set(directory, poller);
    }
    return poller.ready();
  }

  /** Something changed upstream (a log line said so): read the instances concerned now. */
  nudge(sessionID?: string): void {
    for (const poller of this.pollers.values()) {
      if (!sessionID || poller.state.sessions.has(sessionID) || !this.knowsSession(sessionID)) poller.nudge();
    }
  }

  /** Reads every followed instance now, sessions listed whole (after a stream outage). */
  async reconcileAll(): Promise<void> {
    await Promise.all([...this.pollers.values()].map((poller) => poller.run(true)));
  }

  async stop(): Promise<void> {
    const pollers = [...this.pollers.values()];
    this.pollers.clear();
    await Promise.all(pollers.map((poller) => poller.stop()));
  }

  /** @internal */
  release(poller: InstancePoller): void {
    if (this.pollers.get(poller.reader.directory) !== poller) return;
    this.pollers.delete(poller.reader.directory);
    this.retiredRequests += poller.reader.count;
  }

  /** @internal */
  publish(directory: string, state: InstanceState, events: EventPayload[]): void {
    for (const payload of events) {
      this.options.hub.publish({ directory, project: state.project, payload, origin: "reconciler" });
    }
  }

  private knowsSession(sessionID: string): boolean {
    for (const poller of this.pollers.values()) if (poller.state.sessions.has(sessionID)) return true;
    return false;
  }
}
