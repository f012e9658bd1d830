export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of ascending `sorted`. */
function rank(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] as number;
}

/** Exact p50, p99 and max of `values`. */
export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: rank(sorted, 0.5),
    p99: rank(sorted, 0.99),
    max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
  };
}

export function median(values: number[]): number {
  return rank(Float64Array.from(values).sort(), 0.5);
}

/** Bucket width: each bucket spans 1 % of its value, so a percentile read off it is within 1 %. */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** 1 µs to 1,000 s. */
const BUCKETS = Math.ceil(Math.log(1e9) / LOG_GROWTH) + 2;

/**
 * Percentiles of more values than are worth keeping (fan-out records tens of millions):
 * logarithmic buckets of microseconds. The maximum is kept exactly.
 */
export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = Number.NEGATIVE_INFINITY;

  record(valueUs: number): void {
    const index = valueUs < 1 ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(valueUs) / LOG_GROWTH));
    this.counts[index] = (this.counts[index] as number) + 1;
    this.count++;
    if (valueUs > this.max) this.max = valueUs;
  }

  /** The value (µs) below which a fraction `q` of the recorded values lie; the bucket's upper edge. */
  percentile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const wanted = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.counts[index] as number;
      if (seen >= wanted) return Math.min(this.max, index === 0 ? 1 : GROWTH ** index);
    }
    return this.max;
  }

  summary(): Summary {
    return { count: this.count, p50: this.percentile(0.5), p99: this.percentile(0.99), max: this.max };
  }
}
