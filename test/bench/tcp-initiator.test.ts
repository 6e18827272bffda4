/** Smoke test of bench/tcp-initiator.ts: one tiny round produces well-formed figures (no speed threshold). */
import { describe, expect, it } from 'vitest';
import { formatTcpInitiatorReport, runTcpInitiatorBench } from '../../bench/tcp-initiator.js';
import { missing } from '../support/tools.js';

const skip = missing('tgtd', 'apt-get install tgt') ?? missing('iscsi-perf', 'apt-get install libiscsi-bin') ?? false;

describe.skipIf(skip)('bench/tcp-initiator', () => {
  it('measures both initiators on one shape', async () => {
    const result = await runTcpInitiatorBench({ seconds: 2, rounds: 1, shapes: ['4k-rand-qd1'], lunBytes: 16 << 20 });
    expect(result.rows).toHaveLength(1);
    for (const row of result.rows) {
      for (const figure of [row.ours.median, row.libiscsi.median, row.ratio]) {
        expect(Number.isFinite(figure)).toBe(true);
        expect(figure).toBeGreaterThan(0);
      }
    }
    expect(formatTcpInitiatorReport(result)).toContain('ours/libiscsi');
  });
});
