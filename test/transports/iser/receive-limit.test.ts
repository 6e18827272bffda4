/**
 * The bounded receive side (transports/iser/sizing.ts, connection.ts): a connection never posts receive buffers
 * larger than its configured maxReceiveDataSegmentLength (at most 256 KiB), refuses an over-cap configuration up
 * front, refuses a login that settled its own RDSL key above the limit, and sizes nothing by the peer's declaration.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { isIserError } from '../../../protocol/errors.js';
import { IserConnector } from '../../../transports/iser/connector.js';
import { IserListener } from '../../../transports/iser/listener.js';
import { SEND_SLOT_LENGTH, SEND_SLOTS_PER_SLAB } from '../../../transports/iser/outbound-send.js';
import {
  ISER_HEADERS_LENGTH,
  LOGIN_RECEIVE_LENGTH,
  RECEIVE_DATA_SEGMENT_LENGTH_CAP,
} from '../../../transports/iser/sizing.js';
import { fixedSequence, loginRequest, loginResponse, nopOut } from '../datamover-support.js';
import { fabricWorld, TARGET } from './env.js';
import { iserHarness, iserParamsWith, type IserHarness } from './harness.js';

const open: IserHarness[] = [];
const harness = async (options: Parameters<typeof iserHarness>[0] = {}): Promise<IserHarness> => {
  const h = await iserHarness(options);
  open.push(h);
  return h;
};

afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

/** What `work` threw, if anything. */
function thrownBy(work: () => void): unknown {
  try {
    work();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('iSER receive limit', () => {
  it('receive memory is bounded by slots × (headers + cap), whatever limit is configured and settled', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 512, max: RECEIVE_DATA_SEGMENT_LENGTH_CAP }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (limit, fraction) => {
          const settled = Math.max(512, Math.floor(limit * fraction));
          const h = await harness({ connector: { maxReceiveDataSegmentLength: limit } });
          await h.logIn(iserParamsWith({ maxRecvDataSegmentLength: { initiator: settled, target: 8192 } }));
          const slots = h.tap.connectOptions[0]?.qp.maxRecvWr ?? 0;
          const stats = h.env.initiator.stats;
          expect(stats.receiveBufferLength).toBe(ISER_HEADERS_LENGTH + settled);
          const posted = h.tap.receives.filter((r) => r.side === 'initiator').map((r) => r.capacity);
          // One login receive, then the ring: never a buffer above headers + the configured limit.
          expect(Math.max(...posted)).toBeLessThanOrEqual(Math.max(LOGIN_RECEIVE_LENGTH, ISER_HEADERS_LENGTH + limit));
          const ringBytes = posted.slice(1).reduce((sum, n) => sum + n, 0);
          expect(ringBytes).toBe(stats.receiveRingDepth * stats.receiveBufferLength);
          expect(ringBytes).toBeLessThanOrEqual(slots * (ISER_HEADERS_LENGTH + RECEIVE_DATA_SEGMENT_LENGTH_CAP));
          await h.close();
          open.splice(open.indexOf(h), 1);
        },
      ),
      { numRuns: 6 },
    );
  });

  it('an over-cap configuration is refused by the connector and the listener with ERR_ISER_CONFIG', async () => {
    const world = fabricWorld();
    const tooBig = 16 * 1024 * 1024;
    const fromConnector = thrownBy(
      () => new IserConnector(world.initiatorProvider, { maxReceiveDataSegmentLength: tooBig }),
    );
    expect(isIserError(fromConnector, 'ERR_ISER_CONFIG')).toBe(true);
    expect((fromConnector as Error).message).toMatch(/16777216 .*262144/);
    const fromListener = await world
      .run(IserListener.listen(world.targetProvider, TARGET, { maxReceiveDataSegmentLength: tooBig }))
      .catch((err: unknown) => err);
    expect(isIserError(fromListener, 'ERR_ISER_CONFIG')).toBe(true);
    // Refused before binding: the portal is still free.
    const listener = await world.run(
      IserListener.listen(world.targetProvider, TARGET, {
        maxReceiveDataSegmentLength: RECEIVE_DATA_SEGMENT_LENGTH_CAP,
      }),
    );
    await world.run(listener.close());
  });

  it('a login that settled our own RDSL key above the limit fails enable() with ERR_ISER_RECEIVE_LIMIT, no ring posted', async () => {
    const h = await harness();
    const params = iserParamsWith({ maxRecvDataSegmentLength: { initiator: 16 * 1024 * 1024 - 1, target: 8192 } });
    h.env.initiator.sendControl(loginRequest(0x4000, 'InitiatorName=iqn.2024-01.test:i\0', true));
    await h.run(h.fromInitiator.nextOf('login-request'));
    h.env.target.sendControl(loginResponse(0x4000, '', true));
    h.env.target.enable(params, fixedSequence);
    await h.run(h.fromTarget.nextOf('login-response'));
    const error = thrownBy(() => {
      h.env.initiator.enable(params, fixedSequence);
    });
    expect(isIserError(error, 'ERR_ISER_RECEIVE_LIMIT')).toBe(true);
    expect((error as Error).message).toMatch(/InitiatorRecvDataSegmentLength=16777215, above the 8192 bytes/);
    expect(h.tap.receives.filter((r) => r.side === 'initiator').map((r) => r.capacity)).toEqual([LOGIN_RECEIVE_LENGTH]);
    expect(await h.run(h.fromTarget.ended())).toMatchObject({ kind: 'error', error });
  });

  it("the peer's huge declaration sizes nothing of ours: receives follow our key, Sends their data", async () => {
    const h = await harness();
    // The target declares it receives 16 MiB - 1 per PDU; the initiator keeps its 8 KiB.
    const params = iserParamsWith({ maxRecvDataSegmentLength: { initiator: 8192, target: 16 * 1024 * 1024 - 1 } });
    h.env.initiator.sendControl(loginRequest(0x4000, 'InitiatorName=iqn.2024-01.test:i\0', true));
    await h.run(h.fromInitiator.nextOf('login-request'));
    h.env.target.sendControl(loginResponse(0x4000, '', true));
    // The target itself may not receive that much: its enable refuses.
    const refused = thrownBy(() => {
      h.env.target.enable(params, fixedSequence);
    });
    expect(isIserError(refused, 'ERR_ISER_RECEIVE_LIMIT')).toBe(true);
    await h.run(h.fromTarget.nextOf('login-response'));
    const before = h.tap.registrations.filter((r) => r.side === 'initiator').length;
    h.env.initiator.enable(params, fixedSequence);
    h.env.initiator.sendControl(nopOut(1, [Buffer.alloc(100, 7)]));
    await h.env.settle();
    const registered = h.tap.registrations.filter((r) => r.side === 'initiator').slice(before);
    const slab = SEND_SLOT_LENGTH * SEND_SLOTS_PER_SLAB;
    for (const r of registered) expect(r.length).toBeLessThanOrEqual(Math.max(slab, ISER_HEADERS_LENGTH + 8192));
    const ring = h.env.initiator.stats.receiveRingDepth;
    const total = registered.reduce((sum, r) => sum + r.length, 0);
    expect(total).toBeLessThanOrEqual(ring * (ISER_HEADERS_LENGTH + 8192) + 2 * slab);
    const nop = h.tap.sendsOf('initiator').at(-1);
    expect(nop?.bytes.length).toBe(ISER_HEADERS_LENGTH + 100);
  });
});
