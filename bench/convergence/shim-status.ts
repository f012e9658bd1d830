import { nowUs, sleep } from "../common/clock.js";

/**
 * What the shim says of itself while a benchmark runs: `GET /shim/health`, sampled in the
 * background. (`GET /shim/metrics` is read with fixtures/shim-metrics.ts.)
 */

export interface HealthSample {
  atUs: number;
  /** `ok`, `degraded`, `unavailable`, or `unreachable` when the shim did not answer. */
  status: string;
  reason?: string;
}

export async function readHealth(shimUrl: string): Promise<HealthSample> {
  try {
    const response = await fetch(`${shimUrl}/shim/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await response.json()) as { status?: string; reason?: string };
    return { atUs: nowUs(), status: body.status ?? `HTTP ${response.status}`, reason: body.reason };
  } catch (error) {
    return {
      atUs: nowUs(),
      status: "unreachable",
      reason: error instanceof Error ? error.message : String(error),
    };
  }
}

/** `/shim/health` every `everyMs`, kept with when each answer came. */
export class HealthWatch {
  readonly samples: HealthSample[] = [];
  private running = true;
  private readonly loop: Promise<void>;
  private readonly waiters: Array<{ sinceUs: number; resolve: (sample: HealthSample) => void }> = [];

  constructor(
    private readonly shimUrl: string,
    everyMs = 200,
  ) {
    this.loop = (async () => {
      while (this.running) {
        const askedUs = nowUs();
        const sample = await readHealth(this.shimUrl);
        this.samples.push(sample);
        for (const waiter of [...this.waiters]) {
          if (askedUs < waiter.sinceUs) continue;
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(sample);
        }
        await sleep(everyMs);
      }
    })();
  }

  /** The samples taken between two times (µs). */
  between(fromUs: number, toUs: number): HealthSample[] {
    return this.samples.filter((sample) => sample.atUs >= fromUs && sample.atUs <= toUs);
  }

  /** Resolves with the first sample asked for after this call (one in flight may say what was). */
  next(): Promise<HealthSample> {
    const sinceUs = nowUs();
    return new Promise((resolve) => this.waiters.push({ sinceUs, resolve }));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
