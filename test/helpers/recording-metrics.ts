import type { EventOrigin } from "../../src/hub/update.js";
import type { ActiveSource, Metrics, SwitchReason } from "../../src/metrics.js";

/** Metrics that remember what they were told, for tests to read. */
export class RecordingMetrics implements Metrics {
  /** Events published, by `origin type`. */
  readonly published = new Map<string, number>();
  duplicates = 0;
  duplicatesByContent = 0;
  frames = 0;
  reconnects = 0;
  requests = 0;
  readonly switches: Array<{ active: ActiveSource; reason: SwitchReason; degraded: boolean }> = [];
  readonly latencies: number[] = [];

  /** What one origin published, `type: count`. */
  from(origin: EventOrigin): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, count] of this.published) {
      if (key.startsWith(`${origin} `)) out[key.slice(origin.length + 1)] = count;
    }
    return out;
  }

  eventPublished(origin: EventOrigin, type: string): void {
    const key = `${origin} ${type}`;
    this.published.set(key, (this.published.get(key) ?? 0) + 1);
  }

  duplicateDropped(byContent: boolean): void {
    this.duplicates++;
    if (byContent) this.duplicatesByContent++;
  }

  framesWritten(count: number): void {
    this.frames += count;
  }

  clientConnected(): void {}

  clientDisconnected(): void {}

  streamReconnected(): void {
    this.reconnects++;
  }

  sourceSwitched(active: ActiveSource, reason: SwitchReason, degraded: boolean): void {
    this.switches.push({ active, reason, degraded });
  }

  upstreamRead(): void {
    this.requests++;
  }

  addedLatency(seconds: number): void {
    this.latencies.push(seconds);
  }
}
