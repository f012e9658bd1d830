import type { Admission, EventOrigin, Feeder, Metrics, SwitchReason } from "../../src/metrics.js";

/** Metrics that remember what they were told, for tests to read. */
export class RecordingMetrics implements Metrics {
  /** Events admitted as new, by `origin type`. */
  readonly published = new Map<string, number>();
  /** Events dropped, by why. */
  readonly dropped: Record<Exclude<Admission, "new">, number> = { duplicate: 0, stale: 0, held: 0 };
  frames = 0;
  reconnects = 0;
  requests = 0;
  deferredRequests = 0;
  /** Instances the reconciler read, as last told. */
  instances = 0;
  readonly switches: Array<{ feeder: Feeder; reason: SwitchReason }> = [];
  readonly latencies: number[] = [];

  /** What one origin had admitted, `type: count`. */
  from(origin: EventOrigin): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, count] of this.published) {
      if (key.startsWith(`${origin} `)) out[key.slice(origin.length + 1)] = count;
    }
    return out;
  }

  eventAdmitted(origin: EventOrigin, type: string, admission: Admission): void {
    if (admission !== "new") {
      this.dropped[admission]++;
      return;
    }
    const key = `${origin} ${type}`;
    this.published.set(key, (this.published.get(key) ?? 0) + 1);
  }

  framesWritten(count: number): void {
    this.frames += count;
  }

  clientConnected(): void {}

  clientDisconnected(): void {}

  streamReconnected(): void {
    this.reconnects++;
  }

  feederChanged(feeder: Feeder, reason: SwitchReason): void {
    this.switches.push({ feeder, reason });
  }

  upstreamRead(): void {
    this.requests++;
  }

  upstreamReadDeferred(): void {
    this.deferredRequests++;
  }

  instancesRead(count: number): void {
    this.instances = count;
  }

  addedLatency(seconds: number): void {
    this.latencies.push(seconds);
  }
}
