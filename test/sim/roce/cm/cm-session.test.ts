/**
 * The sans-IO CM session alone: what it sends and when, for the cases the provider tests do not reach easily.
 */
import { describe, expect, it } from 'vitest';
import type { CmMessage } from '../../../../sim/roce/cm-mad.js';
import { CmRejectReason } from '../../../../sim/roce/cm-rej.js';
import type { CmRep } from '../../../../sim/roce/cm-rep.js';
import { CmSession, type CmAction, type CmSessionContext } from '../../../../sim/roce/cm/cm-session.js';
import { cmAckTimeout, cmConvertToMs, DEFAULT_CM_TIMINGS } from '../../../../sim/roce/cm/cm-timing.js';
import { buildRep, buildReq } from '../../../../sim/roce/provider/cm-messages.js';

function context(maxRetries = 2): CmSessionContext {
  let tid = 0n;
  return { timings: { ...DEFAULT_CM_TIMINGS, maxRetries }, localCaGuid: 0x1234n, nextTid: () => ++tid };
}

const REQ = buildReq({
  localCommId: 0x1111,
  localIp: '10.0.0.1',
  remoteIp: '10.0.0.2',
  localPort: 40000,
  remotePort: 3260,
  qpn: 17,
  startingPsn: 5,
  responderResources: 4,
  initiatorDepth: 4,
  retryCount: 6,
  rnrRetryCount: 6,
  mtu: 1024,
  timings: DEFAULT_CM_TIMINGS,
  privateData: Buffer.alloc(4, 0xc0),
});

const REP: CmRep = buildRep({
  localCommId: 0x2222,
  remoteCommId: 0x1111,
  localIp: '10.0.0.2',
  qpn: 18,
  startingPsn: 9,
  responderResources: 4,
  initiatorDepth: 4,
  rnrRetryCount: 6,
  privateData: Buffer.alloc(0),
});

const sent = (actions: readonly CmAction[]): string[] =>
  actions.flatMap((a) => (a.type === 'send' ? [a.message.kind] : []));
const types = (actions: readonly CmAction[]): string[] =>
  actions.map((a) => (a.type === 'send' ? `send ${a.message.kind}` : a.type));

describe('REQ timing fields', () => {
  it('ask for rdma_cm’s local ACK timeout over rxe (cm_ack_timeout(15, 16) = 17), not our QP’s 14', () => {
    expect(REQ.primaryPath.localAckTimeout).toBe(17);
    expect(cmAckTimeout(15, 16)).toBe(17);
    expect(cmAckTimeout(15, 14)).toBe(16);
    expect(cmAckTimeout(20, 10)).toBe(20);
    expect(cmAckTimeout(15, 13)).toBe(16);
    expect(cmAckTimeout(15, 12)).toBe(15);
    expect(cmAckTimeout(0, 31)).toBe(31);
  });
});

describe('active CM session', () => {
  it('REQ, then REP → RTU and established; a repeated REP gets the RTU again', () => {
    const { session, actions } = CmSession.connect(context(), REQ);
    expect(types(actions)).toEqual(['send REQ', 'arm-timer']);
    expect(actions[1]).toEqual({ type: 'arm-timer', delayMs: 2 * cmConvertToMs(16) + cmConvertToMs(20) });
    expect(types(session.receive(REP, 1n))).toEqual(['cancel-timer', 'send RTU', 'established']);
    expect(session.state).toBe('established');
    expect(sent(session.receive(REP, 1n))).toEqual(['RTU']);
  });

  it('retries run out: the REQ goes 1 + maxRetries times, then failed (timeout)', () => {
    const { session } = CmSession.connect(context(2), REQ);
    expect(sent(session.timerExpired())).toEqual(['REQ']);
    expect(sent(session.timerExpired())).toEqual(['REQ']);
    const last = session.timerExpired();
    expect(last).toContainEqual({ type: 'failed', failure: { kind: 'timeout' } });
    expect(session.state).toBe('closed');
  });

  it('a REJ with reason 8 is "unreachable", any other is "rejected"', () => {
    const rej = (reason: number): CmMessage => ({
      kind: 'REJ',
      localCommId: 0,
      remoteCommId: 0x1111,
      messageRejected: 0,
      reason,
      ari: Buffer.alloc(0),
      privateData: Buffer.alloc(148),
    });
    const a = CmSession.connect(context(), REQ).session;
    expect(a.receive(rej(CmRejectReason.InvalidServiceId), 1n).find((x) => x.type === 'failed')).toMatchObject({
      failure: { kind: 'unreachable' },
    });
    const b = CmSession.connect(context(), REQ).session;
    expect(b.receive(rej(CmRejectReason.ConsumerDefined), 1n).find((x) => x.type === 'failed')).toMatchObject({
      failure: { kind: 'rejected' },
    });
  });

  it('abandon sends a timeout REJ naming our CA GUID in its ARI', () => {
    const { session } = CmSession.connect(context(), REQ);
    const rej = session.abandon().find((a) => a.type === 'send');
    expect(rej?.type === 'send' && rej.message.kind === 'REJ' && rej.message.reason).toBe(CmRejectReason.Timeout);
    expect(rej?.type === 'send' && rej.message.kind === 'REJ' && rej.message.ari.readBigUInt64BE(0)).toBe(0x1234n);
  });
});

describe('passive CM session', () => {
  it('REP retries run out: failed (timeout) and disconnected', () => {
    const session = CmSession.incoming(context(1), 0x2222, REQ, 7n);
    expect(types(session.accept(REP))).toEqual(['send REP', 'arm-timer']);
    expect(sent(session.timerExpired())).toEqual(['REP']);
    expect(types(session.timerExpired())).toEqual(['cancel-timer', 'closed', 'failed', 'disconnected']);
  });

  it('REP, REQ and MRA reuse the REQ’s transaction ID', () => {
    const session = CmSession.incoming(context(), 0x2222, REQ, 7n);
    const mra = session.receive(REQ, 7n).find((a) => a.type === 'send');
    expect(mra).toMatchObject({ tid: 7n, message: { kind: 'MRA' } });
    expect(session.accept(REP).find((a) => a.type === 'send')).toMatchObject({ tid: 7n, message: { kind: 'REP' } });
  });
});

describe('repeated REQs and stale connections (ib_cm cm_dup_req_handler, cm_rej_handler)', () => {
  const staleRej = (localCommId: number): CmMessage => ({
    kind: 'REJ',
    localCommId,
    remoteCommId: 0x1111,
    messageRejected: 0,
    reason: CmRejectReason.StaleConnection,
    ari: Buffer.alloc(0),
    privateData: Buffer.alloc(0),
  });

  it('a REQ repeated while the consumer decides gets an MRA every time; after the REP, none', () => {
    const session = CmSession.incoming(context(), 0x2222, REQ, 7n);
    expect(sent(session.receive(REQ, 7n))).toEqual(['MRA']);
    expect(session.state).toBe('mra-sent');
    expect(sent(session.receive(REQ, 7n))).toEqual(['MRA']);
    session.accept(REP);
    expect(session.receive(REQ, 7n)).toEqual([]);
    session.communicationEstablished();
    expect(session.receive(REQ, 7n)).toEqual([]);
    expect(session.state).toBe('established');
  });

  it('REJ "stale connection" to a REQ: failed, then time-wait (not closed at once)', () => {
    const { session } = CmSession.connect(context(), REQ);
    const actions = session.receive(staleRej(0), 1n);
    expect(types(actions)).toEqual(['cancel-timer', 'arm-timer', 'failed']);
    expect(actions.find((a) => a.type === 'failed')).toMatchObject({
      failure: { kind: 'rejected', rej: { reason: CmRejectReason.StaleConnection } },
    });
    expect(session.state).toBe('timewait');
    expect(types(session.timerExpired())).toEqual(['closed']);
  });

  it('any other REJ closes at once', () => {
    const { session } = CmSession.connect(context(), REQ);
    const rej = { ...staleRej(0), reason: CmRejectReason.ConsumerDefined } as CmMessage;
    expect(types(session.receive(rej, 1n))).toEqual(['cancel-timer', 'closed', 'failed']);
  });

  it('a stale established connection sends a DREQ; its owner learns of the end at the DREP', () => {
    const session = CmSession.incoming(context(), 0x2222, REQ, 7n);
    session.accept(REP);
    session.communicationEstablished();
    expect(sent(session.staleConnection())).toEqual(['DREQ']);
    expect(session.state).toBe('dreq-sent');
    const drep: CmMessage = { kind: 'DREP', localCommId: 0x1111, remoteCommId: 0x2222, privateData: Buffer.alloc(0) };
    expect(types(session.receive(drep, 3n))).toEqual(['arm-timer', 'disconnected']);
    expect(session.state).toBe('timewait');
  });

  it('a stale connection whose DREQ is never answered ends when the retries run out', () => {
    const session = CmSession.incoming(context(0), 0x2222, REQ, 7n);
    session.accept(REP);
    session.communicationEstablished();
    session.staleConnection();
    expect(types(session.timerExpired())).toEqual(['arm-timer', 'disconnected']);
  });

  it('a stale connection not yet established sends nothing (ib_cm sends a DREQ only when established)', () => {
    const session = CmSession.incoming(context(), 0x2222, REQ, 7n);
    session.accept(REP);
    expect(session.staleConnection()).toEqual([]);
    expect(session.state).toBe('rep-sent');
  });
});

describe('teardown', () => {
  function established(): CmSession {
    const { session } = CmSession.connect(context(), REQ);
    session.receive(REP, 1n);
    return session;
  }

  it('DREQ with a new TID, DREP → time-wait for the ACK timeout → closed', () => {
    const session = established();
    const dreq = session.disconnect();
    expect(dreq.find((a) => a.type === 'send')).toMatchObject({ message: { kind: 'DREQ', remoteQpn: 18 } });
    expect(dreq.find((a) => a.type === 'send')).not.toMatchObject({ tid: 1n });
    const drep: CmMessage = { kind: 'DREP', localCommId: 0x2222, remoteCommId: 0x1111, privateData: Buffer.alloc(0) };
    expect(session.receive(drep, 2n)).toEqual([{ type: 'arm-timer', delayMs: cmConvertToMs(14) }]);
    expect(session.state).toBe('timewait');
    expect(types(session.timerExpired())).toEqual(['closed']);
  });

  it('DREQs are resent at ib_cm’s timeout_ms, not the ACK timeout (a target may take seconds to answer)', () => {
    const active = established();
    expect(active.disconnect()).toContainEqual({
      type: 'arm-timer',
      delayMs: 2 * cmConvertToMs(16) + cmConvertToMs(20),
    });
    const passive = CmSession.incoming(context(), 0x2222, REQ, 7n);
    passive.accept(REP);
    passive.communicationEstablished();
    expect(passive.disconnect()).toContainEqual({ type: 'arm-timer', delayMs: cmConvertToMs(20) });
  });

  it('a repeated DREQ in time-wait is answered again', () => {
    const session = established();
    const dreq: CmMessage = {
      kind: 'DREQ',
      localCommId: 0x2222,
      remoteCommId: 0x1111,
      remoteQpn: 17,
      privateData: Buffer.alloc(0),
    };
    expect(types(session.receive(dreq, 9n))).toEqual(['send DREP', 'disconnected', 'arm-timer']);
    expect(session.receive(dreq, 9n)).toMatchObject([{ type: 'send', tid: 9n, message: { kind: 'DREP' } }]);
  });
});
