/**
 * The session suite against our own target over iSER on soft-RoCE on an in-memory link that loses, duplicates and
 * reorders datagrams (seeded), in virtual time; then the link's and the RC engines' counters, which show the
 * faults were real and were recovered from.
 */
import { describe, expect, it } from 'vitest';
import {
  startOursIserSoftRoceFixture,
  type SoftRoceSessionFixture,
} from '../support/session-suite/fixtures/ours-iser-softroce.js';
import { sessionSuite } from '../support/session-suite/suite.js';
import { describeRoceCounters } from '../support/session-suite/fixtures/roce-counters.js';

let fixture: SoftRoceSessionFixture | undefined;

sessionSuite('session suite: our initiator → our target over iSER (soft-RoCE, lossy in-memory link)', async () => {
  fixture = await startOursIserSoftRoceFixture();
  return fixture;
});

describe('the lossy link under the session suite', () => {
  it('lost, duplicated, reordered and corrupted datagrams, and the RC engines retransmitted, re-ACKed and NAKed', () => {
    if (fixture === undefined) throw new Error('the session suite did not start its fixture');
    const { stats } = fixture.link;
    const { initiator, target } = fixture.counters();
    console.info(describeRoceCounters(stats, initiator, target));
    expect(stats.lost, 'datagrams lost').toBeGreaterThan(0);
    expect(stats.duplicated, 'datagrams duplicated').toBeGreaterThan(0);
    expect(stats.reordered, 'datagrams reordered').toBeGreaterThan(0);
    expect(stats.corrupted, 'datagrams corrupted').toBeGreaterThan(0);
    expect(initiator.icrcDrops + target.icrcDrops, 'corrupted datagrams dropped on their ICRC').toBe(stats.corrupted);
    const both = (key: 'retransmittedPackets' | 'duplicateRequests' | 'seqNaksSent'): number =>
      initiator[key] + target[key];
    expect(both('retransmittedPackets'), 'request packets retransmitted').toBeGreaterThan(0);
    expect(both('duplicateRequests'), 'duplicate requests received').toBeGreaterThan(0);
    expect(both('seqNaksSent'), 'out-of-sequence requests NAKed').toBeGreaterThan(0);
    expect(initiator.retryExceeded + target.retryExceeded, 'work requests failed for retries').toBe(0);
  });
});
