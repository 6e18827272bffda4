/** Smoke test of bench/run.ts: the runner runs a selection with a tiny budget and summarizes it. */
import { describe, expect, it } from 'vitest';
import { formatSummary, runAllBenches } from '../../bench/run.js';

describe('bench/run', () => {
  it('runs the selected benchmarks and prints a summary row for each figure', async () => {
    const outcomes = await runAllBenches({ seconds: 0.2, rounds: 1, only: ['rxjs-cost'] });
    expect(outcomes.map((o) => [o.name, o.status])).toEqual([['rxjs-cost', 'ran']]);
    const rows = outcomes[0]?.rows ?? [];
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(Number.isFinite(row.ratio)).toBe(true);
      expect(row.ratio).toBeGreaterThan(0);
    }
    expect(formatSummary(outcomes)).toContain('rxjs-cost');
  });
});
