import { describe, expect, it } from 'vitest';
import { AsyncEvent } from '../../../protocol/pdu/async-message.js';
import { RESERVED_TAG } from '../../../protocol/pdu/constants.js';
import { Opcode } from '../../../protocol/pdu/opcodes.js';
import { RejectReason } from '../../../protocol/pdu/reject-reason.js';
import { TaskManagementFunction, TaskManagementResponse } from '../../../protocol/pdu/task-management.js';
import { encodeSense, senseData } from '../../../protocol/scsi/sense.js';
import { InitiatorSessionError } from '../../../protocol/session/initiator-errors.js';
import { encodeText, decodeText } from '../../../protocol/text/codec.js';
import {
  armed,
  cancelled,
  commands,
  completions,
  events,
  failures,
  Harness,
  loginResult,
  onlySent,
  readRequest,
  sent,
} from './initiator-harness.js';

function code(error: Error | undefined): string | undefined {
  return error instanceof InitiatorSessionError ? error.code : undefined;
}

describe('InitiatorSession: task management', () => {
  it('aborts a queued task locally: no PDU, the task fails as aborted, the TMF completes', () => {
    const h = new Harness({}, loginResult({ maxCmdSN: 9 })); // window closed
    h.session.submitCommand(1, readRequest(8));
    const actions = h.session.taskManagement(2, { function: TaskManagementFunction.AbortTask, referencedTask: 1 });
    expect(sent(actions)).toEqual([]);
    expect(code(failures(actions).get(1))).toBe('ERR_SESSION_TASK_ABORTED');
    expect(completions(actions).get(2)).toEqual({ kind: 'task-management', response: 0 });
    h.maxCmdSN = 20;
    expect(commands(h.session.receive(h.nopIn(RESERVED_TAG)))).toEqual([]);
  });

  it('aborts a sent task with ABORT TASK naming its ITT and CmdSN, immediate, without taking a CmdSN', () => {
    const h = new Harness();
    const cmd = commands(h.session.submitCommand(1, readRequest(8, 0x0001000000000000n)))[0]!;
    const actions = h.session.taskManagement(2, { function: TaskManagementFunction.AbortTask, referencedTask: 1 });
    const tmf = onlySent(actions, 'task-management-request');
    expect(tmf).toMatchObject({
      immediate: true,
      function: TaskManagementFunction.AbortTask,
      referencedTaskTag: cmd.itt,
      refCmdSN: cmd.cmdSN,
      cmdSN: 11,
      lun: 0x0001000000000000n,
    });
    expect(h.session.cmdSN).toBe(11);
    const done = h.session.receive(h.tmfResponse(tmf.itt, TaskManagementResponse.FunctionComplete));
    expect(code(failures(done).get(1))).toBe('ERR_SESSION_TASK_ABORTED');
    expect(done).toContainEqual({ type: 'task-done', itt: cmd.itt });
    expect(completions(done).get(2)).toEqual({ kind: 'task-management', response: 0 });
  });

  it('sends ABORT TASK when the caller gives up on a sent command, and a status that crossed it still completes it', () => {
    const h = new Harness();
    const cmd = commands(h.session.submitCommand(1, readRequest(8)))[0]!;
    const tmf = onlySent(h.session.abortTask(1), 'task-management-request');
    expect(tmf.referencedTaskTag).toBe(cmd.itt);
    const crossed = h.session.receive(h.response(cmd.itt));
    expect(completions(crossed).get(1)?.kind).toBe('command');
    const answer = h.session.receive(h.tmfResponse(tmf.itt, TaskManagementResponse.TaskDoesNotExist));
    expect(failures(answer).size).toBe(0);
  });

  it('ends only the sent tasks of the reset LUN on LOGICAL UNIT RESET', () => {
    const h = new Harness();
    const a = commands(h.session.submitCommand(1, readRequest(8, 0n)))[0]!;
    commands(h.session.submitCommand(2, readRequest(8, 0x0001000000000000n)));
    const tmf = onlySent(
      h.session.taskManagement(3, { function: TaskManagementFunction.LogicalUnitReset, lun: 0n }),
      'task-management-request',
    );
    expect(tmf.referencedTaskTag).toBe(RESERVED_TAG);
    const done = h.session.receive(h.tmfResponse(tmf.itt, TaskManagementResponse.FunctionComplete));
    expect([...failures(done).keys()]).toEqual([1]);
    expect(done).toContainEqual({ type: 'task-done', itt: a.itt });
    expect(h.session.liveCommands).toBe(1);
  });

  it('fails the TMF, and keeps the task, when the target refuses', () => {
    const h = new Harness();
    commands(h.session.submitCommand(1, readRequest(8)));
    const tmf = onlySent(
      h.session.taskManagement(2, { function: TaskManagementFunction.AbortTask, referencedTask: 1 }),
      'task-management-request',
    );
    const done = h.session.receive(h.tmfResponse(tmf.itt, TaskManagementResponse.FunctionRejected));
    const error = failures(done).get(2) as InitiatorSessionError;
    expect(error.code).toBe('ERR_SESSION_TMF_FAILED');
    expect(error.tmfResponse).toBe(TaskManagementResponse.FunctionRejected);
    expect(failures(done).has(1)).toBe(false);
    expect(h.session.isLive(1)).toBe(true);
  });
});

describe('InitiatorSession: NOP', () => {
  it('pings with an immediate NOP-Out and completes with the echoed data', () => {
    const h = new Harness();
    const nop = onlySent(h.session.ping(1, Buffer.from('hello')), 'nop-out');
    expect(nop).toMatchObject({ immediate: true, ttt: RESERVED_TAG, cmdSN: 10, lun: 0n });
    expect(h.session.cmdSN).toBe(10);
    const done = h.session.receive(h.nopIn(nop.itt, RESERVED_TAG, [Buffer.from('hello')]));
    expect(completions(done).get(1)).toEqual({ kind: 'ping', data: Buffer.from('hello') });
  });

  it('sends a keepalive every interval and fails the connection when one goes unanswered', () => {
    const h = new Harness({ nopIntervalMs: 1000, nopTimeoutMs: 300 });
    expect(armed(h.session.start()).get('nop-interval')).toBe(1000);
    const first = h.session.timerFired('nop-interval');
    const ping = onlySent(first, 'nop-out');
    expect(armed(first).get('nop-timeout')).toBe(300);
    const answered = h.session.receive(h.nopIn(ping.itt));
    expect(cancelled(answered).has('nop-timeout')).toBe(true);
    expect(armed(answered).get('nop-interval')).toBe(1000);

    onlySent(h.session.timerFired('nop-interval'), 'nop-out');
    const timeout = h.session.timerFired('nop-timeout');
    expect(h.session.state).toBe('recovering');
    const lost = events(timeout).find((e) => e.kind === 'connection-lost');
    expect(lost?.kind === 'connection-lost' && code(lost.error)).toBe('ERR_SESSION_NOP_TIMEOUT');
  });

  it("answers a target's NOP-In ping with its TTT, LUN and data, without advancing ExpStatSN", () => {
    const h = new Harness();
    const actions = h.session.receive(h.nopIn(RESERVED_TAG, 0x1234, [Buffer.from('ping')], 0x0002000000000000n));
    const answer = onlySent(actions, 'nop-out');
    expect(answer).toMatchObject({
      itt: RESERVED_TAG,
      ttt: 0x1234,
      lun: 0x0002000000000000n,
      immediate: true,
      expStatSN: 101,
    });
    expect(Buffer.concat(answer.data).toString()).toBe('ping');
    expect(h.session.expStatSN).toBe(101);
  });
});

describe('InitiatorSession: Reject', () => {
  it('fails the rejected command with the reason', () => {
    const h = new Harness();
    const cmd = commands(h.session.submitCommand(1, readRequest(8)))[0]!;
    const done = h.session.receive(h.reject(Opcode.ScsiCommand, cmd.itt, RejectReason.InvalidPduField));
    const error = failures(done).get(1) as InitiatorSessionError;
    expect(error.code).toBe('ERR_SESSION_REJECTED');
    expect(error.rejectReason).toBe(RejectReason.InvalidPduField);
    expect(error.message).toMatch(/InvalidPduField/);
    expect(done).toContainEqual({ type: 'task-done', itt: cmd.itt });
  });

  it('fails a rejected text exchange and ignores a reject for nothing we know', () => {
    const h = new Harness();
    const text = onlySent(h.session.text(1, [{ key: 'SendTargets', value: 'All' }]), 'text-request');
    expect(
      code(
        failures(h.session.receive(h.reject(Opcode.TextRequest, text.itt, RejectReason.CommandNotSupported))).get(1),
      ),
    ).toBe('ERR_SESSION_REJECTED');
    expect(failures(h.session.receive(h.reject(Opcode.ScsiCommand, 999, RejectReason.ProtocolError))).size).toBe(0);
  });
});

describe('InitiatorSession: text exchanges', () => {
  it('runs SendTargets through C-bit continuation and F=0 responses until F=1', () => {
    const h = new Harness();
    const first = onlySent(
      h.session.text(1, [{ key: 'SendTargets', value: 'All' }], { allowDuplicateKeys: true }),
      'text-request',
    );
    expect(first).toMatchObject({ final: true, continue: false, ttt: RESERVED_TAG });
    expect(decodeText(first.data)).toEqual([{ key: 'SendTargets', value: 'All' }]);
    const text = encodeText([
      { key: 'TargetName', value: 'iqn.2024-01.test:a' },
      { key: 'TargetAddress', value: '10.0.0.1:3260,1' },
    ]);
    const part1 = h.session.receive(
      h.textResponse(first.itt, { final: false, continue: true, ttt: 5, data: [text.subarray(0, 10)] }),
    );
    expect(onlySent(part1, 'text-request')).toMatchObject({ ttt: 5, data: [] });
    const part2 = h.session.receive(
      h.textResponse(first.itt, { final: false, continue: false, ttt: 5, data: [text.subarray(10)] }),
    );
    expect(onlySent(part2, 'text-request').ttt).toBe(5);
    const more = encodeText([{ key: 'TargetName', value: 'iqn.2024-01.test:b' }]);
    const done = h.session.receive(h.textResponse(first.itt, { data: [more] }));
    expect(completions(done).get(1)).toEqual({
      kind: 'text',
      pairs: [
        { key: 'TargetName', value: 'iqn.2024-01.test:a' },
        { key: 'TargetAddress', value: '10.0.0.1:3260,1' },
        { key: 'TargetName', value: 'iqn.2024-01.test:b' },
      ],
    });
  });

  it('fails an exchange whose response breaks the rules', () => {
    const h = new Harness();
    const first = onlySent(h.session.text(1, [{ key: 'SendTargets', value: 'All' }]), 'text-request');
    const done = h.session.receive(h.textResponse(first.itt, { final: false, ttt: RESERVED_TAG }));
    expect(code(failures(done).get(1))).toBe('ERR_SESSION_PROTOCOL');
  });
});

describe('InitiatorSession: logout and async messages', () => {
  it('logs out when the target asks, after the commands already queued', () => {
    const h = new Harness({}, loginResult({ maxCmdSN: 9 })); // closed window: the command waits
    h.session.submitCommand(1, readRequest(8));
    const asked = h.session.receive(h.asyncMessage({ asyncEvent: AsyncEvent.LogoutRequest, parameter3: 5 }));
    expect(events(asked)).toContainEqual({ kind: 'logout-requested', withinSeconds: 5 });
    expect(h.session.state).toBe('logging-out');
    expect(sent(asked)).toEqual([]);
    h.maxCmdSN = 20;
    const opened = h.session.receive(h.nopIn(RESERVED_TAG));
    const kinds = sent(opened).map((p) => p.kind);
    expect(kinds).toEqual(['scsi-command', 'logout-request']);
    const logout = onlySent(opened, 'logout-request');
    expect(logout).toMatchObject({ reason: 0, cmdSN: 11, immediate: false });
    const cmd = commands(opened)[0]!;
    const done = h.session.receive(h.logoutResponse(logout.itt));
    expect(h.session.state).toBe('logged-out');
    expect(code(failures(done).get(1))).toBe('ERR_SESSION_LOGGED_OUT');
    expect(done).toContainEqual({ type: 'task-done', itt: cmd.itt });
    expect(done).toContainEqual({ type: 'close-connection', reason: undefined });
  });

  it('completes a logout with Time2Wait/Time2Retain and refuses requests afterwards', () => {
    const h = new Harness();
    const logout = onlySent(h.session.logout(1), 'logout-request');
    expect(code(failures(h.session.submitCommand(2, readRequest(1))).get(2))).toBe('ERR_SESSION_LOGGED_OUT');
    const done = h.session.receive(h.logoutResponse(logout.itt));
    expect(completions(done).get(1)).toEqual({ kind: 'logout', result: { time2Wait: 2, time2Retain: 20 } });
    expect(code(failures(h.session.submitCommand(3, readRequest(1))).get(3))).toBe('ERR_SESSION_CLOSED');
  });

  it('closes anyway and fails the logout when the target does not answer in time', () => {
    const h = new Harness({ logoutTimeoutMs: 400 });
    expect(armed(h.session.logout(1)).get('logout-timeout')).toBe(400);
    const fired = h.session.timerFired('logout-timeout');
    expect(code(failures(fired).get(1))).toBe('ERR_SESSION_LOGOUT_TIMEOUT');
    expect(h.session.state).toBe('logged-out');
  });

  it('surfaces the sense of a SCSI async event', () => {
    const h = new Harness();
    const sense = encodeSense(senseData({ key: 6, asc: 0x3f, ascq: 0x0e }));
    const length = Buffer.alloc(2);
    length.writeUInt16BE(sense.length);
    const actions = h.session.receive(
      h.asyncMessage({ asyncEvent: AsyncEvent.ScsiAsyncEvent, lun: 0n, data: [length, sense] }),
    );
    const event = events(actions).find((e) => e.kind === 'scsi-async-event');
    expect(event?.kind === 'scsi-async-event' && [event.sense?.key, event.sense?.asc, event.sense?.ascq]).toEqual([
      6, 0x3f, 0x0e,
    ]);
  });

  it('fails the tasks of a LUN whose tasks the target terminates', () => {
    const h = new Harness();
    commands(h.session.submitCommand(1, readRequest(8, 0n)));
    commands(h.session.submitCommand(2, readRequest(8, 0x0001000000000000n)));
    const actions = h.session.receive(h.asyncMessage({ asyncEvent: AsyncEvent.TaskTermination, lun: 0n }));
    expect([...failures(actions).keys()]).toEqual([1]);
    expect(events(actions)).toContainEqual({ kind: 'tasks-terminated', lun: 0n, count: 1 });
  });

  it('renegotiates with a Text Request when the target asks', () => {
    const h = new Harness();
    const actions = h.session.receive(h.asyncMessage({ asyncEvent: AsyncEvent.NegotiationRequest }));
    const request = onlySent(actions, 'text-request');
    expect(request.data).toEqual([]);
    const done = h.session.receive(h.textResponse(request.itt, { data: [] }));
    expect(events(done).some((e) => e.kind === 'renegotiated')).toBe(true);
  });
});
