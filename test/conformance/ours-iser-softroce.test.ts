/**
 * The conformance suite against our own target over iSER on soft-RoCE (RoCEv2 packets on an in-memory link), in
 * virtual time: every property passes (faults are sim/fabric's fault plans and skip here).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOursSoftRoce } from './fixtures/ours-iser.js';
import type { Fixture } from './fixtures/ours-tcp.js';
import { expectWellFormed, failures, runSuite } from './support.js';

describe('conformance: our target over iSER on soft-RoCE', () => {
  let fixture: Fixture | undefined;
  beforeAll(async () => {
    fixture = await startOursSoftRoce();
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('passes every property within its budget', async () => {
    const report = await runSuite(fixture!, 12);
    expectWellFormed(report);
    expect(report.failed, failures(report)).toBe(0);
    expect(report.results.filter((r) => r.status === 'skipped').map((r) => r.id)).toEqual([
      'sequencing/datasn-r2tsn-order',
      'faults/recovers-without-losing-writes',
    ]);
  });
});
