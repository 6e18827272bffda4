/**
 * The session suite against our own target over iSER on soft-RoCE over real UDP on loopback (127.0.0.1 →
 * 127.0.0.2), in real time; the devices' counters are printed afterwards.
 */
import { describe, expect, it } from 'vitest';
import {
  startOursIserSoftRoceUdpFixture,
  type SoftRoceUdpSessionFixture,
} from '../support/session-suite/fixtures/ours-iser-softroce-udp.js';
import { describeRoceCounters } from '../support/session-suite/fixtures/roce-counters.js';
import { sessionSuite } from '../support/session-suite/suite.js';

let fixture: SoftRoceUdpSessionFixture | undefined;

sessionSuite('session suite: our initiator → our target over iSER (soft-RoCE on UDP loopback)', async () => {
  fixture = await startOursIserSoftRoceUdpFixture();
  console.info(`soft-RoCE UDP ports: initiator ${fixture.ports.initiator}, target ${fixture.ports.target}`);
  return fixture;
});

describe('UDP loopback under the session suite', () => {
  it('carried every packet as RoCEv2 datagrams, each ICRC intact', () => {
    if (fixture === undefined) throw new Error('the session suite did not start its fixture');
    const { initiator, target } = fixture.counters();
    console.info(describeRoceCounters(fixture.link.stats, initiator, target));
    expect(fixture.link.stats.sent).toBeGreaterThan(1000);
    expect(initiator.sent.byOpcode.RC_SEND_ONLY?.packets ?? 0).toBeGreaterThan(0);
    expect(target.sent.byOpcode.RC_RDMA_WRITE_MIDDLE?.packets ?? 0).toBeGreaterThan(0);
    expect(target.sent.byOpcode.RC_RDMA_READ_REQUEST?.packets ?? 0).toBeGreaterThan(0);
    expect(initiator.icrcDrops + target.icrcDrops + initiator.malformedDrops + target.malformedDrops).toBe(0);
  });
});
