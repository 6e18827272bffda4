/**
 * The suite catches deliberately broken targets with the right property and a short counterexample, records the
 * exchange and a pcapng of the failing run, and replays the counterexample from its seed and path.
 */
import { describe, expect, it } from 'vitest';
import { runConformance } from '../../conformance/runner.js';
import { startDropsLargeWritesTarget, startLossyTarget, startShrinkingWindowTarget } from './fixtures/broken.js';
import { SEED } from './support.js';

/** A pcapng file starts with a Section Header Block. */
const PCAPNG_MAGIC = Buffer.from([0x0a, 0x0d, 0x0d, 0x0a]);

describe('conformance: broken targets are caught', () => {
  it('a MaxCmdSN that goes backwards fails sequencing/maxcmdsn-never-backwards, minimally, with a pcapng', async () => {
    const fixture = await startShrinkingWindowTarget();
    try {
      const report = await runConformance({
        target: fixture.target,
        budgetSeconds: 6,
        seed: SEED,
        only: ['sequencing/maxcmdsn-never-backwards', 'sequencing/initiator-cmdsn-window'],
      });
      const shrink = report.results.find((r) => r.id === 'sequencing/maxcmdsn-never-backwards');
      const window = report.results.find((r) => r.id === 'sequencing/initiator-cmdsn-window');
      expect(shrink?.status).toBe('failed');
      expect(shrink?.failure?.message).toMatch(/MaxCmdSN moved backwards/);
      expect(shrink?.failure?.rfc).toContain('RFC 7143 §4.2.2.1');
      // Two TEST UNIT READYs clear the unit attention; the 4th status needs at most two more PDUs.
      expect(shrink?.failure?.counterexampleSize).toBeLessThanOrEqual(2);
      expect(shrink?.failure?.exchange.some((line) => line.includes('MaxCmdSN'))).toBe(true);
      expect(shrink?.failure?.pcapng?.subarray(0, 4)).toEqual(PCAPNG_MAGIC);
      // Our initiator ignores the smaller window, as RFC 7143 §4.2.2.1 tells it to: its own property holds.
      expect(window?.status).toBe('passed');
      expect(report.summary).toBe('1 passed, 1 failed, 0 skipped');
    } finally {
      await fixture.close();
    }
  });

  it('a target that cannot live with the values it agreed fails negotiation/agreed-values naming them', async () => {
    const fixture = await startDropsLargeWritesTarget();
    try {
      const report = await runConformance({
        target: fixture.target,
        budgetSeconds: 6,
        seed: SEED,
        only: ['negotiation/agreed-values'],
      });
      const [result] = report.results;
      expect(result?.status).toBe('failed');
      expect(result?.failure?.message).toMatch(
        /^a \d+-byte WRITE under the agreed values \(MaxRecvDataSegmentLength \d+\/\d+, MaxBurstLength \d+, FirstBurstLength \d+, ImmediateData (Yes|No), InitialR2T (Yes|No)\) failed: /,
      );
      expect(result?.failure?.rfc).toBe('RFC 7143 §6.2, §13.12');
    } finally {
      await fixture.close();
    }
  });

  it('lost writes fail data/read-your-writes with a short counterexample that replays from its seed and path', async () => {
    const fixture = await startLossyTarget();
    try {
      const report = await runConformance({
        target: fixture.target,
        budgetSeconds: 8,
        seed: SEED,
        only: ['data/read-your-writes'],
      });
      const [result] = report.results;
      expect(result?.status).toBe('failed');
      expect(result?.failure?.message).toMatch(/should hold w\d+\.\d+ but holds zero/);
      expect(result?.failure?.counterexampleSize).toBeLessThanOrEqual(2);
      expect(result?.failure?.counterexample).toMatch(/write\(\d+,(1[7-9]|[2-9]\d|1\d\d)\)/);
      expect(result?.failure?.pcapng?.subarray(0, 4)).toEqual(PCAPNG_MAGIC);
      expect(fixture.backend.lost).toBeGreaterThan(0);
      const failure = result?.failure;
      const replayed = await runConformance({
        target: fixture.target,
        budgetSeconds: 8,
        seed: failure?.seed ?? SEED,
        replay: {
          property: 'data/read-your-writes',
          path: failure?.path ?? '',
          ...(failure?.replayPath === undefined ? {} : { replayPath: failure.replayPath }),
        },
      });
      expect(replayed.results[0]?.status).toBe('failed');
      expect(replayed.results[0]?.runs).toBe(1);
      expect(replayed.results[0]?.failure?.message).toBe(failure?.message);
    } finally {
      await fixture.close();
    }
  });
});
