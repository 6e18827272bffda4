/** The latency histogram: percentiles within 1 % of the exact value, bounded memory, edge cases. */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../cli/latency-histogram.js';

function exactPercentile(sorted: readonly number[], percent: number): number {
  const rank = Math.max(1, Math.ceil((percent / 100) * sorted.length));
  return sorted[rank - 1] ?? 0;
}

describe('LatencyHistogram', () => {
  it('is all zeros when empty', () => {
    const h = new LatencyHistogram();
    expect([h.count, h.min, h.max, h.mean, h.percentile(50)]).toEqual([0, 0, 0, 0, 0]);
  });

  it('finds the median and tail of a known distribution', () => {
    const h = new LatencyHistogram();
    for (let v = 1; v <= 1000; v++) h.record(v * 10);
    expect(h.count).toBe(1000);
    expect(h.mean).toBeCloseTo(5005, 6);
    expect(h.percentile(50)).toBeGreaterThanOrEqual(5000);
    expect(h.percentile(50)).toBeLessThanOrEqual(5000 * 1.01);
    expect(h.percentile(99.9)).toBeGreaterThanOrEqual(9990);
    expect(h.percentile(100)).toBe(10_000);
  });

  test.prop(
    [
      fc.array(fc.double({ min: 0, max: 3.6e9, noNaN: true }), { minLength: 1, maxLength: 300 }),
      fc.constantFrom(50, 90, 99, 99.9),
    ],
    {
      numRuns: 200,
    },
  )('reports a percentile no lower than the exact one and within 1 % above it', (values, percent) => {
    const h = new LatencyHistogram();
    for (const v of values) h.record(v);
    const exact = exactPercentile(
      [...values].sort((a, b) => a - b),
      percent,
    );
    const reported = h.percentile(percent);
    expect(reported).toBeGreaterThanOrEqual(exact * 0.99999);
    expect(reported).toBeLessThanOrEqual(Math.max(1, exact * 1.0101));
  });

  it('treats negative and NaN values as zero and caps huge ones', () => {
    const h = new LatencyHistogram();
    h.record(-5);
    h.record(Number.NaN);
    h.record(1e300);
    expect(h.count).toBe(3);
    expect(h.min).toBe(0);
    // The first bucket holds everything under 1 µs: its upper edge is 1.
    expect(h.percentile(50)).toBeLessThanOrEqual(1);
    expect(h.percentile(100)).toBe(1e300);
  });
});
