import { scrape } from "../../fixtures/shim-metrics.js";

/**
 * The shim's own view of an event's added latency: its Prometheus histogram
 * `opencode_shim_event_added_latency_seconds` (bytes in from upstream → frames written to
 * every client), read from `/shim/metrics` before and after a measured window. It leaves
 * out what no proxy controls — the wait for the CPU before the shim reads — so beside the
 * clients' figures it says how much of the added latency is the shim's own work.
 */

const NAME = "opencode_shim_event_added_latency_seconds_bucket";

/** Cumulative counts by upper bound (seconds), `+Inf` last. */
export type Buckets = Array<{ le: number; count: number }>;

export function parseBuckets(metricsText: string): Buckets {
  const buckets: Buckets = [];
  for (const line of metricsText.split("\n")) {
    if (!line.startsWith(NAME)) continue;
    const match = /le="([^"]+)"\}\s+(\S+)/.exec(line);
    if (!match) continue;
    buckets.push({
      le: match[1] === "+Inf" ? Number.POSITIVE_INFINITY : Number(match[1]),
      count: Number(match[2]),
    });
  }
  return buckets.sort((a, b) => a.le - b.le);
}

export async function readBuckets(shimUrl: string): Promise<Buckets> {
  return parseBuckets(await scrape(shimUrl));
}

/** What was observed between two readings. */
export function difference(after: Buckets, before: Buckets): Buckets {
  return after.map(({ le, count }) => ({ le, count: count - (before.find((b) => b.le === le)?.count ?? 0) }));
}

/** The upper bound (ms) of the bucket holding quantile `q`; undefined with no observations. */
export function quantileBoundMs(buckets: Buckets, q: number): number | undefined {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  const rank = Math.ceil(q * total);
  const bucket = buckets.find((b) => b.count >= rank);
  return bucket ? bucket.le * 1000 : undefined;
}

/** "≤ 0.25 / ≤ 1" for p50 / p99, from bucket bounds. */
export function describeBounds(buckets: Buckets): string {
  const bound = (q: number) => {
    const value = quantileBoundMs(buckets, q);
    if (value === undefined) return "–";
    return value === Number.POSITIVE_INFINITY ? "> 500" : `≤ ${value}`;
  };
  return `${bound(0.5)} / ${bound(0.99)}`;
}

/** The share of observations over `ms`, which must be one of the bucket bounds: exact, not estimated. */
export function shareOverMs(buckets: Buckets, ms: number): number {
  const total = observations(buckets);
  const within = buckets.find((bucket) => bucket.le * 1000 === ms);
  if (!within) throw new Error(`the shim's histogram has no bucket bound at ${ms} ms`);
  return total === 0 ? Number.NaN : (total - within.count) / total;
}

export function observations(buckets: Buckets): number {
  return buckets.at(-1)?.count ?? 0;
}
