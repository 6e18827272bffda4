/**
 * The conformance suite against our own target over iSER on sim/fabric, in virtual time: every property passes,
 * the faults group included (seeded fault plans). The Data-In/R2T ordering property skips: iSER has no such PDUs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOursFabric } from './fixtures/ours-iser.js';
import type { Fixture } from './fixtures/ours-tcp.js';
import { expectWellFormed, failures, runSuite } from './support.js';

describe('conformance: our target over iSER on sim/fabric', () => {
  let fixture: Fixture | undefined;
  beforeAll(async () => {
    fixture = await startOursFabric();
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('passes every property within its budget', async () => {
    const report = await runSuite(fixture!, 14);
    expectWellFormed(report);
    expect(report.failed, failures(report)).toBe(0);
    expect(report.results.filter((r) => r.status === 'skipped').map((r) => r.id)).toEqual([
      'sequencing/datasn-r2tsn-order',
    ]);
    const faults = report.results.find((r) => r.id === 'faults/recovers-without-losing-writes');
    expect(faults?.notes.join(' ')).toMatch(/reconnected ×\d+/);
  });
});
