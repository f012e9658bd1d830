/**
 * Where an event came from: upstream's own `stream`, the `reconciler` making up for what
 * no stream said, or the `proxy` witnessing a call that disposed an instance.
 */
export type EventOrigin = "stream" | "reconciler" | "proxy";

/** Who feeds clients their events now: upstream's stream, or the reconciler's REST reads. */
export type Feeder = "stream" | "reconciler";

/**
 * What the sink made of an event: `new` (numbered and queued for clients), or dropped — a
 * `duplicate` (its id, or the same news, told already), `stale` (older than, or the same
 * as, what a correction told), or `held` back (while the reconciler feeds clients, a delta
 * of a part clients were never told of).
 */
export type Admission = "new" | "duplicate" | "stale" | "held";

/**
 * Why clients moved from one feeder to the other: upstream's stream went down or came
 * back (`down`, `live`), or the stream's judge found it lying or honest again.
 */
export type SwitchReason = "down" | "live" | "lying" | "honest";

/**
 * Everything the shim counts, told at the moment it happens (as Mercure's hub calls its
 * `Metrics`): the sink, the hub, the sources and the reconciler call these, and never keep
 * counters of their own for the metrics to read back. `noMetrics` does nothing.
 */
export interface Metrics {
  /** The sink's verdict on one event, from one origin. */
  eventAdmitted(origin: EventOrigin, type: string, admission: Admission): void;
  framesWritten(count: number): void;
  clientConnected(): void;
  /** `dropped`: cut off for not reading. */
  clientDisconnected(dropped: boolean): void;
  /** Upstream's `/global/event` came back after it had been live. */
  streamReconnected(): void;
  /**
   * Clients are now fed by `feeder`, for `reason`. Outside `--source poll` (where the
   * reconciler always feeds clients and nothing changes), the reconciler feeding clients
   * means the shim works around upstream's stream: it is degraded.
   */
  feederChanged(feeder: Feeder, reason: SwitchReason): void;
  /** One REST request of the reconciler to upstream. */
  upstreamRead(): void;
  /** One REST request of the reconciler that had to wait for the read budget (`--read-budget`). */
  upstreamReadDeferred(): void;
  /** The reconciler reads `count` instances now (one more followed, or one let go). */
  instancesRead(count: number): void;
  /** Seconds from an event's bytes arriving from upstream to its frames written to every client. */
  addedLatency(seconds: number): void;
}

const nothing = () => {};

export const noMetrics: Metrics = {
  eventAdmitted: nothing,
  framesWritten: nothing,
  clientConnected: nothing,
  clientDisconnected: nothing,
  streamReconnected: nothing,
  feederChanged: nothing,
  upstreamRead: nothing,
  upstreamReadDeferred: nothing,
  instancesRead: nothing,
  addedLatency: nothing,
};
