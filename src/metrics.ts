/**
 * Where an event came from: upstream's own stream (`global`), the reconciler making up for
 * what no stream said, or the proxy witnessing a call that disposed an instance.
 */
export type EventOrigin = "global" | "reconciler" | "proxy";

/** What is feeding clients: upstream's stream, or the reconciler's REST reads. */
export type ActiveSource = "global" | "poll";

/**
 * Why the shim moved from one source to the other: upstream's stream went down or came
 * back (`down`, `live`), or the witnesses found it lying or saw it honest again.
 */
export type SwitchReason = "down" | "live" | "lying" | "honest";

/**
 * Everything the shim counts, told at the moment it happens (as Mercure's hub calls its
 * `Metrics`): the hub, the sources and the reconciler call these, and never keep counters
 * of their own for the metrics to read back. `noMetrics` does nothing.
 */
export interface Metrics {
  /** An event was numbered and queued for clients. */
  eventPublished(origin: EventOrigin, type: string): void;
  /** An event was dropped as one already published: the same id, or (`byContent`) a correction's repeat. */
  duplicateDropped(byContent: boolean): void;
  framesWritten(count: number): void;
  clientConnected(): void;
  /** `dropped`: cut off for not reading. */
  clientDisconnected(dropped: boolean): void;
  /** Upstream's `/global/event` came back after it had been live. */
  streamReconnected(): void;
  /** Clients are now fed by `active`, for `reason`; `degraded`: the shim had to work around the stream. */
  sourceSwitched(active: ActiveSource, reason: SwitchReason, degraded: boolean): void;
  /** One REST request of the reconciler to upstream. */
  upstreamRead(): void;
  /** Seconds from an event's bytes arriving from upstream to its frames written to every client. */
  addedLatency(seconds: number): void;
}

const nothing = () => {};

export const noMetrics: Metrics = {
  eventPublished: nothing,
  duplicateDropped: nothing,
  framesWritten: nothing,
  clientConnected: nothing,
  clientDisconnected: nothing,
  streamReconnected: nothing,
  sourceSwitched: nothing,
  upstreamRead: nothing,
  addedLatency: nothing,
};
