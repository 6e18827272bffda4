/**
 * iSER connection setup on the fabric: rdma_cm private data and QP sizes, login over Sends (8268-byte receives),
 * the full-feature receive ring sized from the RDSL keys, the RDMAExtensions check, and typed connect/listen errors.
 */
import { NEVER, Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { isIserError } from '../../../protocol/errors.js';
import { DEFAULT_CAPS } from '../../../sim/fabric/index.js';
import {
  IserConnector,
  IserListener,
  qpCapabilities,
  REJECT_LISTENER_CLOSING,
} from '../../../transports/iser/index.js';
import type { ConnectRequest, RdmaListener, VerbsProvider } from '../../../transports/verbs.js';
import { defaultNegotiatedParams } from '../../support/datamover-pair.js';
import { fixedSequence, loginRequest, loginResponse, textRequest, textResponse } from '../datamover-support.js';
import { fabricWorld, TARGET } from './env.js';
import { iserHarness, iserParamsWith, type IserHarness } from './harness.js';
import { RawIserPeer } from './raw-peer.js';
import { VerbsTap } from './tap.js';

let harness: IserHarness | undefined;
const open = async (options: Parameters<typeof iserHarness>[0] = {}): Promise<IserHarness> => {
  harness = await iserHarness(options);
  return harness;
};
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('rdma_cm connect and accept', () => {
  it('initiator sends iser_cm_hdr 0x80 (it lets the target invalidate); target answers 0x80; QPs as the formula says', async () => {
    const h = await open();
    const connect = h.tap.connectOptions[0];
    const accept = h.tap.acceptOptions[0];
    expect(connect?.privateData).toEqual(Buffer.from([0x80, 0, 0, 0]));
    expect(accept?.privateData).toEqual(Buffer.from([0x80, 0, 0, 0]));
    expect(connect?.qp).toEqual(qpCapabilities('initiator', 128, DEFAULT_CAPS));
    expect(accept?.qp).toEqual(qpCapabilities('target', 128, DEFAULT_CAPS));
    expect(connect?.qp.maxSendSge).toBe(2);
    expect(connect?.qp.maxRecvSge).toBe(1);
    // rxe takes 7 as "forever" for transport retries: never ask for it. RNR: forever is the point.
    expect(connect?.retryCount).toBeLessThan(7);
    expect(connect?.rnrRetryCount).toBe(7);
  });

  it('without send-with-invalidate in the provider both sides say 0xC0', async () => {
    const h = await open({ fabric: { caps: { sendWithInvalidate: false } } });
    expect(h.tap.connectOptions[0]?.privateData).toEqual(Buffer.from([0xc0, 0, 0, 0]));
    expect(h.tap.acceptOptions[0]?.privateData).toEqual(Buffer.from([0xc0, 0, 0, 0]));
  });

  it('the target honours an initiator’s 0x40: it answers 0xC0 and never sends with invalidate', async () => {
    const world = fabricWorld();
    const tap = new VerbsTap();
    const listener = await IserListener.listen(tap.provider(world.targetProvider, 'target'), TARGET, {
      scheduler: world.clock,
    });
    const accepted = new Promise((resolve) => listener.connections.subscribe(resolve));
    const raw = await world.run(RawIserPeer.connect(world.initiatorProvider, TARGET, 0xc0));
    await world.run(accepted);
    expect(tap.acceptOptions[0]?.privateData).toEqual(Buffer.from([0xc0, 0, 0, 0]));
    expect(raw.rdma.peerPrivateData.subarray(0, 4)).toEqual(Buffer.from([0xc0, 0, 0, 0]));
    await world.run(listener.close());
  });

  it('typed errors: nobody listening, a busy portal', async () => {
    const world = fabricWorld();
    const connector = new IserConnector(world.initiatorProvider, { scheduler: world.clock });
    const failure = await world.run(connector.connect(TARGET).catch((err: unknown) => err));
    expect(isIserError(failure, 'ERR_ISER_CONNECT_FAILED')).toBe(true);
    expect((failure as Error).message).toMatch(/10\.0\.0\.2:3260/);
    const listener = await IserListener.listen(world.targetProvider, TARGET);
    const busy = await IserListener.listen(world.targetProvider, TARGET).catch((err: unknown) => err);
    expect(isIserError(busy, 'ERR_ISER_LISTEN_FAILED')).toBe(true);
    await listener.close();
  });

  it('a listener that is closing rejects new requests with a reason the initiator sees', async () => {
    // A provider whose listener hands us a request while its own close is still under way.
    const requests = new Subject<ConnectRequest>();
    let releaseClose: () => void = () => undefined;
    const rejected: (Buffer | undefined)[] = [];
    const rdmaListener: RdmaListener = {
      address: { host: '10.9.9.9', port: 3260 },
      connectRequests: requests,
      close: () => new Promise<void>((resolve) => (releaseClose = resolve)),
    };
    const provider: VerbsProvider = {
      name: 'fake',
      caps: DEFAULT_CAPS,
      listen: () => Promise.resolve(rdmaListener),
      connect: () => NEVER as never,
    };
    const listener = await IserListener.listen(provider, { host: '10.9.9.9', port: 3260 });
    const closing = listener.close();
    await Promise.resolve();
    requests.next({
      remote: { host: '10.9.9.1', port: 5000 },
      local: { host: '10.9.9.9', port: 3260 },
      privateData: Buffer.from([0x80, 0, 0, 0]),
      initiatorDepth: 1,
      responderResources: 1,
      accept: () => Promise.reject(new Error('must not accept while closing')),
      reject: (privateData) => {
        rejected.push(privateData);
        return Promise.resolve();
      },
    });
    await new Promise((resolve) => setImmediate(resolve));
    releaseClose();
    await closing;
    expect(rejected.map((b) => b?.toString('latin1'))).toEqual([REJECT_LISTENER_CLOSING]);
  });

  it('the connector reports a rejection with the target’s printable reason', async () => {
    const world = fabricWorld();
    const rdmaListener = await world.targetProvider.listen(TARGET);
    rdmaListener.connectRequests.subscribe((request) => {
      void request.reject(Buffer.from(REJECT_LISTENER_CLOSING, 'latin1'));
    });
    const connector = new IserConnector(world.initiatorProvider, { scheduler: world.clock });
    const failure = await world.run(connector.connect(TARGET).catch((err: unknown) => err));
    expect(isIserError(failure, 'ERR_ISER_CONNECT_REJECTED')).toBe(true);
    expect((failure as Error).message).toContain(REJECT_LISTENER_CLOSING);
    await rdmaListener.close();
  });
});

describe('login over Sends', () => {
  it('the target posts one 8268-byte receive per expected Login Request, the initiator one before each request', async () => {
    const h = await open();
    const { env } = h;
    const run = <T>(work: Promise<T>): Promise<T> => h.run(work);
    expect(h.tap.log).toEqual(['target:recv:8268']);
    env.initiator.sendControl(loginRequest(1, 'AuthMethod=None\0', false));
    await run(h.fromInitiator.nextOf('login-request'));
    env.target.sendControl(loginResponse(1, 'AuthMethod=None\0', false));
    await run(h.fromTarget.nextOf('login-response'));
    env.initiator.sendControl(loginRequest(1, 'MaxBurstLength=262144\0', true));
    await run(h.fromInitiator.nextOf('login-request'));
    env.target.sendControl(loginResponse(1, '', true));
    await run(h.fromTarget.nextOf('login-response'));
    const sendsAndReceives = h.tap.log.filter((entry) => !entry.includes('RDMA'));
    expect(sendsAndReceives).toEqual([
      'target:recv:8268',
      'initiator:recv:8268',
      `initiator:SEND:${76 + 'AuthMethod=None\0'.length}`,
      'target:recv:8268',
      `target:SEND:${76 + 'AuthMethod=None\0'.length}`,
      'initiator:recv:8268',
      `initiator:SEND:${76 + 'MaxBurstLength=262144\0'.length}`,
      // The final response ends the login: no more login receives.
      'target:SEND:76',
    ]);
  });

  it('enable posts the full-feature rings sized from the RDSL keys, in the right direction', async () => {
    const h = await open({
      connector: { queueDepth: 32, maxReceiveDataSegmentLength: 16_384 },
      listener: { queueDepth: 32 },
    });
    const params = iserParamsWith({ maxRecvDataSegmentLength: { initiator: 16_384, target: 4096 } });
    await h.logIn(params);
    const initiatorRing = h.tap.receives.filter((r) => r.side === 'initiator' && r.capacity !== 8268);
    const targetRing = h.tap.receives.filter((r) => r.side === 'target' && r.capacity !== 8268);
    // The initiator receives what the target sends: InitiatorRecvDataSegmentLength bounds it.
    expect(new Set(initiatorRing.map((r) => r.capacity))).toEqual(new Set([76 + 16_384]));
    // The target receives what the initiator sends (plus up to MaxAHSLength of AHS): TargetRecvDataSegmentLength.
    expect(new Set(targetRing.map((r) => r.capacity))).toEqual(new Set([76 + 256 + 4096]));
    expect(initiatorRing).toHaveLength(32 + 6 + 4 + 2);
    expect(targetRing).toHaveLength(32 + 6 + 4 + 2);
    expect(h.env.initiator.stats).toMatchObject({ receiveBufferLength: 76 + 16_384, receiveRingDepth: 44 });
    expect(h.env.target.stats).toMatchObject({ receiveBufferLength: 76 + 256 + 4096, receiveRingDepth: 44 });
  });

  it('RDMAExtensions=No is a typed error on a normal session (and ends the connection)', async () => {
    const h = await open();
    const params = { ...iserParamsWith({}), rdmaExtensions: false };
    let error: unknown;
    try {
      h.env.initiator.enable(params, fixedSequence);
    } catch (err) {
      error = err;
    }
    expect(isIserError(error, 'ERR_ISER_NOT_NEGOTIATED')).toBe(true);
    expect((error as Error).message).toMatch(/RDMAExtensions=No: this portal does not speak iSER/);
    expect(await h.run(h.fromTarget.ended())).toMatchObject({ kind: 'error', error });
    expect(() => {
      h.env.target.enable(params, fixedSequence);
    }).toThrow(/RDMAExtensions=Yes/);
  });

  it('a discovery session runs over iSER without RDMAExtensions (text sized by MaxRecvDataSegmentLength)', async () => {
    const h = await open({ connector: { maxReceiveDataSegmentLength: 32_768 } });
    const params = defaultNegotiatedParams({
      sessionType: 'Discovery',
      maxRecvDataSegmentLength: { initiator: 32_768, target: 8192 },
    });
    await h.logIn(params);
    h.env.initiator.sendControl(textRequest(5, 'SendTargets=All\0'));
    await h.run(h.fromInitiator.nextOf('text-request'));
    const answer = `TargetName=iqn.2024-01.test:${'t'.repeat(20_000)}\0`;
    h.env.target.sendControl(textResponse(5, answer));
    const response = await h.run(h.fromTarget.nextOf('text-response'));
    expect(Buffer.concat(response.data).toString('latin1')).toBe(answer);
  });
});
