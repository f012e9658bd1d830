import { describe, expect, it } from "vitest";
import {
  describeBounds,
  difference,
  parseBuckets,
  quantileBoundMs,
  shareOverMs,
} from "../../bench/common/shim-histogram.js";
import { Histogram, median, summarize } from "../../bench/common/stats.js";

// The benchmarks' figures are only as good as this arithmetic.
describe("benchmark statistics", () => {
  it("takes exact nearest-rank percentiles", () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(summarize(values)).toEqual({ count: 1000, p50: 500, p99: 990, max: 1000 });
    expect(summarize([7])).toEqual({ count: 1, p50: 7, p99: 7, max: 7 });
    expect(Number.isNaN(summarize([]).p50)).toBe(true);
    expect(median([5, 1, 3])).toBe(3);
  });

  it("reads percentiles off its buckets within 1 %, and keeps the maximum exact", () => {
    const histogram = new Histogram();
    const values = Array.from({ length: 100_000 }, (_, i) => 10 + i * 0.37);
    for (const value of values) histogram.record(value);
    const exact = summarize(values);
    expect(histogram.count).toBe(values.length);
    expect(histogram.max).toBe(exact.max);
    for (const [q, truth] of [
      [0.5, exact.p50],
      [0.99, exact.p99],
    ] as const) {
      const read = histogram.percentile(q);
      expect(read).toBeGreaterThanOrEqual(truth * 0.99);
      expect(read).toBeLessThanOrEqual(truth * 1.01);
    }
  });

  it("counts values under a microsecond in its first bucket", () => {
    const histogram = new Histogram();
    histogram.record(0.2);
    histogram.record(0.4);
    expect(histogram.percentile(0.5)).toBeLessThanOrEqual(1);
    expect(histogram.summary().count).toBe(2);
  });

  it("reads the shim's own latency histogram from its metrics, over a window", () => {
    const scrape = (counts: number[]) =>
      [
        "# TYPE opencode_shim_event_added_latency_seconds histogram",
        ...[0.0001, 0.001, 0.01].map(
          (le, i) => `opencode_shim_event_added_latency_seconds_bucket{le="${le}"} ${counts[i]}`,
        ),
        `opencode_shim_event_added_latency_seconds_bucket{le="+Inf"} ${counts[3]}`,
        `opencode_shim_event_added_latency_seconds_sum 0.5`,
        `opencode_shim_event_added_latency_seconds_count ${counts[3]}`,
      ].join("\n");
    const before = parseBuckets(scrape([10, 10, 10, 10]));
    // In the window: 98 events ≤ 0.1 ms, 1 ≤ 1 ms, 1 ≤ 10 ms.
    const window = difference(parseBuckets(scrape([108, 109, 110, 110])), before);
    expect(window.map((bucket) => bucket.count)).toEqual([98, 99, 100, 100]);
    expect(quantileBoundMs(window, 0.5)).toBe(0.1);
    expect(quantileBoundMs(window, 0.99)).toBe(1);
    expect(quantileBoundMs(window, 1)).toBe(10);
    expect(describeBounds(window)).toBe("≤ 0.1 / ≤ 1");
    expect(describeBounds(difference(before, before))).toBe("– / –");
    expect(shareOverMs(window, 1)).toBeCloseTo(0.01);
    expect(shareOverMs(window, 0.1)).toBeCloseTo(0.02);
    expect(() => shareOverMs(window, 2)).toThrow(/no bucket bound at 2 ms/);
  });
});
