/** Smoke test of bench/tcp-target.ts: one tiny round produces well-formed figures (no speed threshold). */
import { describe, expect, it } from 'vitest';
import { formatTcpTargetReport, runTcpTargetBench } from '../../bench/tcp-target.js';
import { missing } from '../support/tools.js';

const skip = missing('tgtd', 'apt-get install tgt') ?? missing('iscsi-perf', 'apt-get install libiscsi-bin') ?? false;

describe.skipIf(skip)('bench/tcp-target', () => {
  it('measures tgt and our target (file and memory) on one shape', async () => {
    const result = await runTcpTargetBench({ seconds: 2, rounds: 1, shapes: ['4k-rand-qd1'], lunBytes: 16 << 20 });
    expect(result.rows).toHaveLength(1);
    for (const row of result.rows) {
      const figures = [row.tgt.iops.median, row.oursFile.iops.median, row.oursMemory?.iops.median, row.ratio];
      figures.push(row.tgt.cpuUs.median, row.oursFile.cpuUs.median, row.memoryRatio);
      for (const figure of figures) {
        expect(Number.isFinite(figure)).toBe(true);
        expect(figure).toBeGreaterThan(0);
      }
    }
    expect(formatTcpTargetReport(result)).toContain('vs tgt');
  }, 90_000);
});
