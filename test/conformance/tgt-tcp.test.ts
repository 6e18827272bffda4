/**
 * The conformance suite against Debian tgt over TCP on 127.0.0.1: it completes within its budget and reports each
 * of tgt's deviations as a failed property with its RFC section, shrunk counterexample and exchange — it neither
 * hangs nor crashes. The report is printed (the README's conformance section quotes one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing } from '../support/tools.js';
import type { Fixture } from './fixtures/ours-tcp.js';
import { startTgtTcp } from './fixtures/tgt-tcp.js';
import { expectWellFormed, runSuite } from './support.js';

const skip = missing('tgtd', 'apt-get install tgt') ?? missing('tgtadm', 'apt-get install tgt');

describe.skipIf(skip !== undefined)('conformance: tgt over TCP', () => {
  let fixture: Fixture | undefined;
  beforeAll(async () => {
    fixture = await startTgtTcp();
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('reports every property, with the deviations found, without hanging', async () => {
    const report = await runSuite(fixture!, 16);
    expectWellFormed(report);
    for (const result of report.results.filter((r) => r.status === 'failed')) {
      expect(result.failure?.exchange.length, result.id).toBeGreaterThan(0);
      expect(result.failure?.counterexample, result.id).not.toBe('(none)');
    }
  });
});
