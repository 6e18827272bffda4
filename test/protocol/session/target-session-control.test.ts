import { describe, expect, it } from 'vitest';
import {
  AsyncEvent,
  LogoutReason,
  LogoutResponse,
  RejectReason,
  RESERVED_TAG,
  type Pdu,
  type SnackRequestPdu,
} from '../../../protocol/pdu/index.js';
import { ScsiStatus } from '../../../protocol/scsi/status.js';
import { decodeText, parseSendTargetsResponse } from '../../../protocol/text/index.js';
import { defaultNegotiatedParams } from '../../support/datamover-pair.js';
import {
  actionsOf,
  CID,
  command,
  executed,
  FIRST_STATSN,
  logout,
  makeSession,
  nopOut,
  sentOf,
  textRequest,
} from './target-harness.js';

describe('target session: NOP', () => {
  it('answers a ping with its data, its ITT and LUN, advancing StatSN', () => {
    const { session } = makeSession();
    const data = Buffer.from('nopping\0');
    const reply = sentOf(session.receive(CID, nopOut({ itt: 0x42, lun: 3n << 48n, data: [data] })), 'nop-in');
    expect(reply).toHaveLength(1);
    expect(reply[0]).toMatchObject({ itt: 0x42, ttt: RESERVED_TAG, lun: 3n << 48n, statSN: FIRST_STATSN });
    expect(Buffer.concat(reply[0]!.data)).toEqual(data);
    const second = sentOf(session.receive(CID, nopOut({ itt: 0x43 })), 'nop-in');
    expect(second[0]?.statSN).toBe(FIRST_STATSN + 1);
  });

  it('stays silent for a NOP-Out with ITT 0xffffffff (an acknowledgement only)', () => {
    const { session } = makeSession();
    expect(sentOf(session.receive(CID, nopOut({ itt: RESERVED_TAG })), 'nop-in')).toEqual([]);
  });

  it('trims echoed ping data to what the initiator accepts', () => {
    const params = defaultNegotiatedParams({ maxRecvDataSegmentLength: { initiator: 512, target: 8192 } });
    const { session } = makeSession({ params });
    const reply = sentOf(session.receive(CID, nopOut({ itt: 1, data: [Buffer.alloc(4096)] })), 'nop-in');
    expect(reply[0]?.data.reduce((n, b) => n + b.length, 0)).toBe(512);
  });

  it('pings an idle connection (StatSN not advanced), and drops it when the ping goes unanswered', () => {
    const { session, start } = makeSession({ nopInIntervalMs: 1000, nopInTimeoutMs: 500 });
    expect(actionsOf(start, 'arm-timer')).toEqual([{ type: 'arm-timer', cid: CID, timer: 'nop-interval', ms: 1000 }]);
    const tick = session.timerFired(CID, 'nop-interval');
    const ping = sentOf(tick, 'nop-in')[0];
    expect(ping).toMatchObject({ itt: RESERVED_TAG, statSN: FIRST_STATSN });
    expect(ping?.ttt).not.toBe(RESERVED_TAG);
    expect(actionsOf(tick, 'arm-timer').map((a) => a.timer)).toEqual(['nop-timeout', 'nop-interval']);
    const timeout = session.timerFired(CID, 'nop-timeout');
    expect(actionsOf(timeout, 'close-connection').map((a) => a.reason.code)).toEqual([
      'ERR_TARGET_SESSION_NOP_TIMEOUT',
    ]);
    expect(session.ended).toBe(true);
  });

  it('accepts the answer to its ping and does not ping a busy connection', () => {
    const { session } = makeSession({ nopInIntervalMs: 1000 });
    const ping = sentOf(session.timerFired(CID, 'nop-interval'), 'nop-in')[0]!;
    const answer = session.receive(CID, nopOut({ itt: RESERVED_TAG, ttt: ping.ttt }));
    expect(actionsOf(answer, 'cancel-timer')).toEqual([{ type: 'cancel-timer', cid: CID, timer: 'nop-timeout' }]);
    expect(session.timerFired(CID, 'nop-timeout')).toEqual([]);
    session.receive(CID, nopOut({ itt: 9 }));
    expect(sentOf(session.timerFired(CID, 'nop-interval'), 'nop-in')).toEqual([]);
  });
});

describe('target session: text', () => {
  const discovered = [
    { name: 'iqn.2024-01.test:a', addresses: [{ host: '127.0.0.1', port: 3260, portalGroupTag: 1 }] },
    { name: 'iqn.2024-01.test:b', addresses: [{ host: '127.0.0.1', port: 3260, portalGroupTag: 1 }] },
  ];

  it('answers SendTargets=All from the configuration in one final response', () => {
    const seen: unknown[] = [];
    const { session } = makeSession({
      sessionType: 'Discovery',
      targetName: undefined,
      sendTargets: (request) => {
        seen.push(request);
        return discovered;
      },
    });
    const actions = session.receive(CID, textRequest({ pairs: [{ key: 'SendTargets', value: 'All' }] }));
    const response = sentOf(actions, 'text-response')[0]!;
    expect(response).toMatchObject({ final: true, continue: false, ttt: RESERVED_TAG, itt: 0x2000 });
    const pairs = decodeText(response.data, { allowDuplicateKeys: true });
    expect(parseSendTargetsResponse(pairs).map((t) => t.name)).toEqual(['iqn.2024-01.test:a', 'iqn.2024-01.test:b']);
    expect(seen).toEqual([
      {
        initiatorName: 'iqn.2024-01.test:initiator',
        sessionType: 'Discovery',
        sessionTarget: undefined,
        value: 'All',
        local: { host: '127.0.0.1', port: 3260 },
      },
    ]);
  });

  it('hands out a long answer a data segment at a time, each asked for with our TTT', () => {
    const params = defaultNegotiatedParams({ maxRecvDataSegmentLength: { initiator: 512, target: 8192 } });
    const many = Array.from({ length: 40 }, (_, i) => ({ name: `iqn.2024-01.test:target-${i}`, addresses: [] }));
    const { session } = makeSession({ params, sendTargets: () => many });
    let response = sentOf(
      session.receive(CID, textRequest({ pairs: [{ key: 'SendTargets', value: 'All' }] })),
      'text-response',
    )[0]!;
    const pieces = [response];
    while (!response.final) {
      expect(response.ttt).not.toBe(RESERVED_TAG);
      expect(response.data.reduce((n, b) => n + b.length, 0)).toBeLessThanOrEqual(512);
      const next = session.receive(CID, textRequest({ ttt: response.ttt, itt: 0x2000 }));
      response = sentOf(next, 'text-response')[0]!;
      pieces.push(response);
    }
    expect(pieces.length).toBeGreaterThan(2);
    const pairs = decodeText(
      pieces.flatMap((p) => p.data),
      { allowDuplicateKeys: true },
    );
    expect(parseSendTargetsResponse(pairs)).toHaveLength(40);
  });

  it('reassembles a request continued over several PDUs', () => {
    const { session } = makeSession({ sendTargets: () => discovered.slice(0, 1) });
    const whole = Buffer.from('SendTargets=All\0');
    const first = sentOf(
      session.receive(CID, textRequest({ final: false, continue: true, data: [whole.subarray(0, 5)] })),
      'text-response',
    )[0]!;
    expect(first).toMatchObject({ final: false, data: [] });
    const last = sentOf(
      session.receive(CID, textRequest({ ttt: first.ttt, data: [whole.subarray(5)] })),
      'text-response',
    )[0]!;
    expect(last.final).toBe(true);
    expect(parseSendTargetsResponse(decodeText(last.data, { allowDuplicateKeys: true }))).toHaveLength(1);
  });

  it('answers other keys through the negotiator (NotUnderstood, Reject for login-only keys)', () => {
    const { session } = makeSession();
    const response = sentOf(
      session.receive(
        CID,
        textRequest({
          pairs: [
            { key: 'X-com.example.thing', value: '1' },
            { key: 'MaxBurstLength', value: '4096' },
          ],
        }),
      ),
      'text-response',
    )[0]!;
    const byKey = decodeText(response.data).sort((a, b) => a.key.localeCompare(b.key));
    expect(byKey).toEqual([
      { key: 'MaxBurstLength', value: 'Reject' },
      { key: 'X-com.example.thing', value: 'NotUnderstood' },
    ]);
  });

  it('rejects a Text Request with a TTT of no exchange, and malformed text', () => {
    const { session } = makeSession();
    const stray = session.receive(CID, textRequest({ ttt: 0x77 }));
    const bad = session.receive(CID, textRequest({ data: [Buffer.from('nonsense')] }));
    expect(sentOf([...stray, ...bad], 'reject').map((r) => r.reason)).toEqual([
      RejectReason.InvalidPduField,
      RejectReason.ProtocolError,
    ]);
  });
});

describe('target session: logout', () => {
  it('closes the session: response (Time2Wait, no Time2Retain at ERL 0), then the connection', () => {
    const { session } = makeSession();
    const actions = session.receive(CID, logout({ reason: LogoutReason.CloseSession }));
    const response = sentOf(actions, 'logout-response')[0];
    expect(response).toMatchObject({
      response: LogoutResponse.ClosedSuccessfully,
      itt: 0x3000,
      time2Wait: 2,
      time2Retain: 0,
    });
    const order = actions.filter(
      (a) => a.type === 'send' || a.type === 'close-connection' || a.type === 'session-ended',
    );
    expect(order.map((a) => a.type)).toEqual(['send', 'close-connection', 'session-ended']);
    expect(actionsOf(actions, 'session-ended')[0]?.reason.code).toBe('ERR_TARGET_SESSION_LOGGED_OUT');
  });

  it('waits for running commands to answer before the logout response', () => {
    const { session } = makeSession();
    const task = executed(session.receive(CID, command({ cmdSN: 1, itt: 1 })))[0]!;
    expect(sentOf(session.receive(CID, logout({ cmdSN: 2, immediate: false })), 'logout-response')).toEqual([]);
    const after = session.commandExecuted(task.taskId, { status: ScsiStatus.Good });
    expect(sentOf(after, 'scsi-response').length + sentOf(after, 'logout-response').length).toBe(2);
    expect(after.findIndex((a) => a.type === 'send' && a.pdu.kind === 'scsi-response')).toBeLessThan(
      after.findIndex((a) => a.type === 'send' && a.pdu.kind === 'logout-response'),
    );
  });

  it('answers "CID not found" and "recovery not supported"', () => {
    const { session } = makeSession();
    const cid = session.receive(CID, logout({ reason: LogoutReason.CloseConnection, cid: 99 }));
    const recovery = session.receive(CID, logout({ reason: LogoutReason.RemoveConnectionForRecovery, itt: 0x3001 }));
    expect(sentOf([...cid, ...recovery], 'logout-response').map((r) => r.response)).toEqual([
      LogoutResponse.CidNotFound,
      LogoutResponse.ConnectionRecoveryNotSupported,
    ]);
    expect(session.ended).toBe(false);
  });

  it('asks for a logout with an Async Message and drops the connection at the deadline', () => {
    const { session } = makeSession();
    const ask = session.requestLogout(3);
    const message = sentOf(ask, 'async-message')[0];
    expect(message).toMatchObject({ asyncEvent: AsyncEvent.LogoutRequest, parameter3: 3, statSN: FIRST_STATSN });
    expect(actionsOf(ask, 'arm-timer')).toEqual([{ type: 'arm-timer', cid: CID, timer: 'logout-deadline', ms: 3000 }]);
    const late = session.timerFired(CID, 'logout-deadline');
    expect(actionsOf(late, 'close-connection').map((a) => a.reason.code)).toEqual([
      'ERR_TARGET_SESSION_LOGOUT_TIMEOUT',
    ]);
  });
});

describe('target session: what may not come', () => {
  it('rejects a SNACK at ErrorRecoveryLevel 0 (protocol error) and a Login Request (protocol error)', () => {
    const { session } = makeSession();
    const snack: SnackRequestPdu = {
      kind: 'snack-request',
      type: 1,
      lun: 0n,
      itt: RESERVED_TAG,
      ttt: RESERVED_TAG,
      expStatSN: 0,
      begRun: 0,
      runLength: 0,
    };
    const actions = session.receive(CID, snack);
    expect(sentOf(actions, 'reject').map((r) => r.reason)).toEqual([RejectReason.ProtocolError]);
    expect((sentOf(actions, 'reject')[0]?.data[0]?.[0] ?? 0) & 0x3f).toBe(0x10);
  });

  it('rejects a Data-Out the transport passes on (out of DataSN order) with Protocol Error, taking a StatSN', () => {
    const { session } = makeSession();
    const dataOut: Pdu = {
      kind: 'scsi-data-out',
      final: true,
      lun: 0n,
      itt: 7,
      ttt: 0x99,
      expStatSN: FIRST_STATSN,
      dataSN: 27,
      bufferOffset: 0,
      data: [Buffer.alloc(512)],
    };
    const reject = sentOf(session.receive(CID, dataOut), 'reject');
    expect(reject.map((r) => [r.reason, r.statSN])).toEqual([[RejectReason.ProtocolError, FIRST_STATSN]]);
    expect((reject[0]?.data[0]?.[0] ?? 0) & 0x3f).toBe(0x05);
    // The Reject advanced StatSN (RFC 7143 §11.17.3): the next status takes the one after it.
    const nop = session.receive(CID, {
      kind: 'nop-out',
      immediate: true,
      lun: 0n,
      itt: 9,
      ttt: RESERVED_TAG,
      cmdSN: 1,
      expStatSN: FIRST_STATSN,
      data: [],
    });
    expect(sentOf(nop, 'nop-in')[0]?.statSN).toBe(FIRST_STATSN + 1);
  });

  it('rejects a target opcode sent by the initiator (command not supported)', () => {
    const { session } = makeSession();
    const actions = session.receive(CID, {
      kind: 'nop-in',
      lun: 0n,
      itt: 1,
      ttt: RESERVED_TAG,
      statSN: 0,
      expCmdSN: 0,
      maxCmdSN: 0,
      data: [],
    });
    expect(sentOf(actions, 'reject').map((r) => r.reason)).toEqual([RejectReason.CommandNotSupported]);
  });

  it('drops a connection whose initiator never acknowledges statuses', () => {
    const { session } = makeSession({ maxUnacknowledgedStatus: 3 });
    let closed = false;
    for (let i = 0; i < 6 && !closed; i++) {
      closed = session
        .receive(CID, nopOut({ itt: i + 1, expStatSN: FIRST_STATSN }))
        .some((a) => a.type === 'close-connection');
    }
    expect(closed).toBe(true);
  });

  it('keeps a connection whose initiator acknowledges', () => {
    const { session } = makeSession({ maxUnacknowledgedStatus: 3 });
    for (let i = 0; i < 10; i++) {
      const actions = session.receive(CID, nopOut({ itt: i + 1, expStatSN: FIRST_STATSN + i }));
      expect(actions.some((a) => a.type === 'close-connection')).toBe(false);
    }
  });

  it('ends the session when its last connection closes, aborting its tasks', () => {
    const { session } = makeSession();
    session.receive(CID, command({ cmdSN: 1, itt: 1 }));
    const actions = session.connectionClosed(CID, new Error('reset'));
    expect(actionsOf(actions, 'session-ended')).toHaveLength(1);
    expect(session.taskCount).toBe(0);
    expect(session.receive(CID, nopOut({ itt: 1 }))).toEqual([]);
  });
});
