/**
 * The conformance suite against our own target over TCP on 127.0.0.1: every property passes (faults are for the
 * simulated transports and skip), with offers drawn from the text layer's own generator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOursTcp, type Fixture } from './fixtures/ours-tcp.js';
import { expectWellFormed, failures, runSuite } from './support.js';

describe('conformance: our target over TCP', () => {
  let fixture: Fixture | undefined;
  beforeAll(async () => {
    fixture = await startOursTcp();
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('passes every property within its budget', async () => {
    const report = await runSuite(fixture!, 12);
    expectWellFormed(report);
    expect(report.failed, failures(report)).toBe(0);
    expect(report.results.filter((r) => r.status === 'skipped').map((r) => r.id)).toEqual([
      'negotiation/iser-keys',
      'faults/recovers-without-losing-writes',
    ]);
  });
});
