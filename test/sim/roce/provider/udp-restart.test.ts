/**
 * A device that restarts with the same seed and address, over real UDP on loopback, while its peer still holds the
 * old connection established (the old device went away without a DREQ). Its comm IDs differ (drawn per open, as
 * ib_cm's per-boot operand), its first QPN does not: the peer answers REJ "stale connection" and sends the old
 * connection a DREQ, so the connect fails at once instead of waiting out its deadline, and the next one connects.
 */
import { createSocket } from 'node:dgram';
import { asyncScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { RdmaConnection } from '../../../../transports/verbs.js';
import { CmRejectReason } from '../../../../sim/roce/cm-rej.js';
import { UdpLink } from '../../../../sim/roce/link/udp-link.js';
import { CmRejectedError, SoftRoceProvider } from '../../../../sim/roce/provider/provider.js';
import { Collector } from '../../../support/verbs-contract.js';
import { ISER_HDR, QP } from './session.js';
import { loopbackPair, within } from './udp-env.js';

/** Resolves once `connection` is ready to send (the passive side: once the RTU arrived). */
async function untilRts(connection: RdmaConnection): Promise<void> {
  while (connection.state !== 'RTS') await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('soft-RoCE over UDP: a peer restarted with the same seed', () => {
  it('gets REJ "stale connection" at once (not a 15 s connect timeout), and its next connect succeeds', async () => {
    const [addressA, addressB] = loopbackPair();
    // Where a sends to b: normally b's port; a black hole while the old device goes away.
    const peerPorts = new Map<string, number>();
    const link = new UdpLink({ peerPorts });
    const b = await SoftRoceProvider.open({ link, address: addressB, scheduler: asyncScheduler });
    const open = (): Promise<SoftRoceProvider> =>
      SoftRoceProvider.open({ link, address: addressA, scheduler: asyncScheduler, seed: 'restarted' });
    let a = await open();
    const hole = createSocket('udp4');
    try {
      const listener = await b.listen({ host: addressB, port: 3260 });
      const accepted: RdmaConnection[] = [];
      listener.connectRequests.subscribe((req) => {
        void req.accept({ qp: QP, privateData: ISER_HDR }).then((c) => accepted.push(c));
      });
      const connect = () =>
        a.connect({ host: addressB, port: 3260 }, { qp: QP, privateData: ISER_HDR, timeoutMs: 15_000 });
      await within(connect(), 10_000, 'the first connect');
      const old = accepted[0];
      expect(old).toBeDefined();
      await within(untilRts(old!), 10_000, 'the passive side established');
      const oldEvents = new Collector(old!.events);

      // The old device goes away without a word: its DREQ goes to a socket that reads nothing.
      await new Promise<void>((resolve) => hole.bind(0, addressA, resolve));
      peerPorts.set(addressB, hole.address().port);
      await a.close();
      peerPorts.delete(addressB);
      expect(old!.state).toBe('RTS');

      a = await open();
      const error: unknown = await within(connect(), 14_000, 'the connect after the restart').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CmRejectedError);
      expect(error).toMatchObject({ code: 'ERR_VERBS_REJECTED', rejectReason: CmRejectReason.StaleConnection });
      // b sent the old connection a DREQ; the restarted device answered it with a DREP.
      await within(oldEvents.end(), 10_000, 'the old connection ending');
      expect(oldEvents.values).toContainEqual({ type: 'disconnected' });

      const client = await within(connect(), 10_000, 'the next connect');
      expect(client.state).toBe('RTS');
      expect(accepted.length).toBe(2);
    } finally {
      hole.close();
      await a.close();
      await b.close();
    }
  });
});
