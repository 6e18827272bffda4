import { describe, expect, it } from 'vitest';
import { AsyncEvent } from '../../../protocol/pdu/async-message.js';
import { InitiatorSessionError } from '../../../protocol/session/initiator-errors.js';
import {
  armed,
  commands,
  completions,
  events,
  failures,
  Harness,
  loginResult,
  onlySent,
  readRequest,
  writeRequest,
} from './initiator-harness.js';

function code(error: Error | undefined): string | undefined {
  return error instanceof InitiatorSessionError ? error.code : undefined;
}

describe('InitiatorSession: ERL 0 session recovery', () => {
  it('keeps unacknowledged commands across a connection loss and reissues them, in order, with new CmdSNs', () => {
    const h = new Harness();
    const a = commands(h.session.submitCommand(1, writeRequest(Buffer.alloc(512, 1))))[0]!;
    const b = commands(h.session.submitCommand(2, writeRequest(Buffer.alloc(512, 2))))[0]!;
    const c = commands(h.session.submitCommand(3, writeRequest(Buffer.alloc(512, 3))))[0]!;
    expect(completions(h.session.receive(h.response(b.itt))).get(2)?.kind).toBe('command'); // acknowledged

    const lost = h.session.connectionLost(new Error('socket reset'));
    expect(h.session.state).toBe('recovering');
    expect(failures(lost).size).toBe(0); // nothing retryable fails
    expect(lost).toContainEqual({ type: 'close-connection', reason: new Error('socket reset') });
    expect(armed(lost).get('time2wait')).toBe(2000);
    expect(armed(lost).get('time2retain')).toBe(22_000);
    // A command submitted while recovering waits behind the reissued ones.
    expect(commands(h.session.submitCommand(4, writeRequest(Buffer.alloc(512, 4))))).toEqual([]);

    const reconnect = h.session.timerFired('time2wait');
    expect(reconnect).toContainEqual({ type: 'reconnect', attempt: 1, cmdSN: h.session.cmdSN });
    expect(events(reconnect)).toContainEqual({ kind: 'reconnecting', attempt: 1 });

    const relogin = loginResult({ tsih: 9, cmdSN: 40, expCmdSN: 40, maxCmdSN: 60, statSN: 500 });
    const reissued = h.session.reconnected(relogin);
    expect(h.session.state).toBe('full-feature');
    expect(h.session.tsih).toBe(9);
    const cmds = commands(reissued);
    expect(cmds.map((p) => p.itt)).toEqual([a.itt, c.itt, cmds[2]!.itt]);
    expect(cmds.map((p) => p.cmdSN)).toEqual([40, 41, 42]);
    expect(cmds.map((p) => p.expStatSN)).toEqual([501, 501, 501]);
    expect(events(reissued)).toContainEqual({ kind: 'reconnected', tsih: 9, reissued: 3 });
  });

  it('fails what waits with ERR_SESSION_RECOVERY_TIMEOUT when Time2Retain runs out', () => {
    const h = new Harness();
    commands(h.session.submitCommand(1, readRequest(8)));
    h.session.connectionLost(new Error('gone'));
    h.session.timerFired('time2wait');
    h.session.reconnectFailed(new Error('refused'), true);
    const expired = h.session.timerFired('time2retain');
    expect(code(failures(expired).get(1))).toBe('ERR_SESSION_RECOVERY_TIMEOUT');
    expect(h.session.state).toBe('failed');
    // A login that completes after giving up is closed, not used.
    expect(h.session.reconnected(loginResult())).toEqual([{ type: 'close-connection', reason: undefined }]);
  });

  it('retries after Time2Wait (at least the minimum delay) and gives up at once on a permanent failure', () => {
    const h = new Harness({ minReconnectDelayMs: 1500 }, loginResult({ params: { defaultTime2Wait: 0 } }));
    commands(h.session.submitCommand(1, readRequest(8)));
    h.session.connectionLost(new Error('gone'));
    expect(armed(h.session.reconnectFailed(new Error('refused'), true)).get('time2wait')).toBe(1500);
    const gaveUp = h.session.reconnectFailed(new Error('authentication failed'), false);
    expect(code(failures(gaveUp).get(1))).toBe('ERR_SESSION_RECOVERY_FAILED');
    expect(h.session.state).toBe('failed');
  });

  it('fails pings, TMFs and text exchanges on connection loss, and drops tasks being aborted', () => {
    const h = new Harness();
    commands(h.session.submitCommand(1, readRequest(8)));
    h.session.abortTask(1);
    h.session.ping(2);
    h.session.text(3, [{ key: 'SendTargets', value: 'All' }]);
    const lost = h.session.connectionLost(new Error('gone'));
    const failed = failures(lost);
    expect(code(failed.get(1))).toBe('ERR_SESSION_TASK_ABORTED');
    expect(code(failed.get(2))).toBe('ERR_SESSION_CONNECTION_LOST');
    expect(code(failed.get(3))).toBe('ERR_SESSION_CONNECTION_LOST');
    expect(h.session.liveCommands).toBe(0);
  });

  it('uses the Time2Wait and Time2Retain a connection-drop Async Message announces', () => {
    const h = new Harness();
    const actions = h.session.receive(
      h.asyncMessage({ asyncEvent: AsyncEvent.ConnectionDrop, parameter1: 0, parameter2: 5, parameter3: 30 }),
    );
    expect(h.session.state).toBe('recovering');
    expect(armed(actions).get('time2wait')).toBe(5000);
    expect(armed(actions).get('time2retain')).toBe(35_000);
  });

  it('does not recover a discovery session', () => {
    const h = new Harness({}, loginResult({ params: { sessionType: 'Discovery' } }));
    h.session.text(1, [{ key: 'SendTargets', value: 'All' }]);
    const lost = h.session.connectionLost(new Error('gone'));
    expect(h.session.state).toBe('failed');
    expect(code(failures(lost).get(1))).toBe('ERR_SESSION_CONNECTION_LOST');
  });

  it('ends recovery when the caller logs out, failing what waits', () => {
    const h = new Harness();
    commands(h.session.submitCommand(1, readRequest(8)));
    h.session.connectionLost(new Error('gone'));
    const done = h.session.logout(2);
    expect(completions(done).get(2)).toEqual({ kind: 'logout', result: { time2Wait: 2, time2Retain: 20 } });
    expect(code(failures(done).get(1))).toBe('ERR_SESSION_LOGGED_OUT');
    expect(h.session.state).toBe('logged-out');
  });

  it('aborts a command queued for reissue without any PDU', () => {
    const h = new Harness();
    commands(h.session.submitCommand(1, readRequest(8)));
    h.session.connectionLost(new Error('gone'));
    const dropped = h.session.abortTask(1);
    expect(code(failures(dropped).get(1))).toBe('ERR_SESSION_TASK_ABORTED');
    h.session.timerFired('time2wait');
    expect(commands(h.session.reconnected(loginResult()))).toEqual([]);
  });

  it('keeps the keepalive going after reinstatement', () => {
    const h = new Harness({ nopIntervalMs: 1000 });
    h.session.start();
    h.session.connectionLost(new Error('gone'));
    const after = h.session.reconnected(loginResult());
    expect(armed(after).get('nop-interval')).toBe(1000);
    onlySent(h.session.timerFired('nop-interval'), 'nop-out');
  });
});
