/** Smoke test of bench/rxjs-cost.ts: a tiny budget produces well-formed figures (no speed threshold). */
import { describe, expect, it } from 'vitest';
import { formatRxjsCostReport, runRxjsCostBench } from '../../bench/rxjs-cost.js';

describe('bench/rxjs-cost', () => {
  it('measures every command path at both depths', async () => {
    const result = await runRxjsCostBench({ seconds: 0.2, rounds: 1 });
    expect(result.rows).toHaveLength(8);
    for (const row of result.rows) {
      for (const figure of [row.commandsPerSecond.median, row.cpuUs.median, row.ratio]) {
        expect(Number.isFinite(figure)).toBe(true);
        expect(figure).toBeGreaterThan(0);
      }
      expect(Number.isFinite(row.extraUs)).toBe(true);
    }
    expect(formatRxjsCostReport(result)).toContain('sans-IO machine');
  });
});
