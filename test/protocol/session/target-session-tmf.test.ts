import { describe, expect, it } from 'vitest';
import { RejectReason, TaskManagementFunction as F, TaskManagementResponse as R } from '../../../protocol/pdu/index.js';
import { ScsiStatus } from '../../../protocol/scsi/status.js';
import { actionsOf, command, executed, makeSession, sentOf, tmf } from './target-harness.js';

describe('target session: task management (RFC 7143 §11.5)', () => {
  it('ABORT TASK of a running task: no SCSI response, the TMF answer waits until the task stopped', () => {
    const { session } = makeSession();
    const task = executed(session.receive(1, command({ cmdSN: 1, itt: 0x11 })))[0]!;
    const abort = session.receive(1, tmf({ function: F.AbortTask, referencedTaskTag: 0x11, refCmdSN: 1, cmdSN: 2 }));
    expect(sentOf(abort, 'task-management-response')).toEqual([]);
    expect(actionsOf(abort, 'task-done').map((a) => a.itt)).toEqual([0x11]);
    expect(session.canMoveData(task.taskId)).toBe(false);
    const stopped = session.commandExecuted(task.taskId, { status: ScsiStatus.Good });
    expect(sentOf(stopped, 'scsi-response')).toEqual([]);
    expect(sentOf(stopped, 'task-management-response').map((r) => r.response)).toEqual([R.FunctionComplete]);
  });

  it('ABORT TASK of a finished task (RefCmdSN already past): task does not exist', () => {
    const { session } = makeSession();
    const task = executed(session.receive(1, command({ cmdSN: 1, itt: 0x11 })))[0]!;
    session.commandExecuted(task.taskId, { status: ScsiStatus.Good });
    const abort = session.receive(1, tmf({ function: F.AbortTask, referencedTaskTag: 0x11, refCmdSN: 1, cmdSN: 2 }));
    expect(sentOf(abort, 'task-management-response').map((r) => r.response)).toEqual([R.TaskDoesNotExist]);
  });

  it('ABORT TASK of a command not yet received (RefCmdSN in the window): function complete, and it is dropped later', () => {
    const { session } = makeSession({ queueDepth: 8 });
    const abort = session.receive(1, tmf({ function: F.AbortTask, referencedTaskTag: 0x12, refCmdSN: 1, cmdSN: 2 }));
    expect(sentOf(abort, 'task-management-response').map((r) => r.response)).toEqual([R.FunctionComplete]);
    expect(session.expCmdSN).toBe(2);
    const late = session.receive(1, command({ cmdSN: 1, itt: 0x12 }));
    expect(executed(late)).toEqual([]);
  });

  it('ABORT TASK of a command held for a gap drops it and answers function complete', () => {
    const { session } = makeSession({ queueDepth: 8 });
    session.receive(1, command({ cmdSN: 2, itt: 0x22 }));
    const abort = session.receive(1, tmf({ function: F.AbortTask, referencedTaskTag: 0x22, refCmdSN: 2, cmdSN: 3 }));
    expect(sentOf(abort, 'task-management-response').map((r) => r.response)).toEqual([R.FunctionComplete]);
    const fill = session.receive(1, command({ cmdSN: 1, itt: 0x21 }));
    expect(executed(fill).map((r) => r.task.itt)).toEqual([0x21]);
    expect(session.expCmdSN).toBe(3);
  });

  it("LUN RESET aborts the LUN's tasks, resets the device, then answers", () => {
    const { session } = makeSession();
    const a = executed(session.receive(1, command({ cmdSN: 1, itt: 1, lun: 0n })))[0]!;
    const b = executed(session.receive(1, command({ cmdSN: 2, itt: 2, lun: 1n << 48n })))[0]!;
    const reset = session.receive(1, tmf({ function: F.LogicalUnitReset, lun: 0n, cmdSN: 3 }));
    expect(actionsOf(reset, 'reset')).toEqual([]);
    const stopped = session.commandExecuted(a.taskId, { status: ScsiStatus.Good });
    expect(actionsOf(stopped, 'reset')).toEqual([{ type: 'reset', kind: 'lun-reset', lun: 0 }]);
    expect(sentOf(stopped, 'task-management-response').map((r) => r.response)).toEqual([R.FunctionComplete]);
    // The other LUN's task is untouched.
    expect(sentOf(session.commandExecuted(b.taskId, { status: ScsiStatus.Good }), 'scsi-response')).toHaveLength(1);
  });

  it('answers "LUN does not exist" for a LUN-scoped function on a missing LUN', () => {
    const { session } = makeSession({ hasLun: (lun) => lun === 0 });
    const actions = session.receive(1, tmf({ function: F.AbortTaskSet, lun: 5n << 48n }));
    expect(sentOf(actions, 'task-management-response').map((r) => r.response)).toEqual([R.LunDoesNotExist]);
  });

  it('TARGET COLD RESET answers first, then drops every connection', () => {
    const { session } = makeSession();
    const actions = session.receive(1, tmf({ function: F.TargetColdReset }));
    const kinds = actions.filter((a) => a.type !== 'event' && a.type !== 'cancel-timer').map((a) => a.type);
    expect(kinds).toEqual(['reset', 'send', 'close-connection', 'session-ended']);
    expect(sentOf(actions, 'task-management-response').map((r) => r.response)).toEqual([R.FunctionComplete]);
  });

  it('TARGET WARM RESET and CLEAR TASK SET reach the other sessions through the driver', () => {
    const { session } = makeSession();
    expect(actionsOf(session.receive(1, tmf({ function: F.TargetWarmReset })), 'reset')).toEqual([
      { type: 'reset', kind: 'target-warm-reset', lun: undefined },
    ]);
    expect(actionsOf(session.receive(1, tmf({ function: F.ClearTaskSet, itt: 2 })), 'clear-task-set')).toEqual([
      { type: 'clear-task-set', lun: 0 },
    ]);
  });

  it('QUERY TASK says whether the task exists', () => {
    const { session } = makeSession();
    session.receive(1, command({ cmdSN: 1, itt: 0x31 }));
    const there = session.receive(1, tmf({ function: F.QueryTask, referencedTaskTag: 0x31 }));
    const gone = session.receive(1, tmf({ function: F.QueryTask, referencedTaskTag: 0x32 }));
    expect(sentOf([...there, ...gone], 'task-management-response').map((r) => r.response)).toEqual([
      R.FunctionSucceeded,
      R.FunctionComplete,
    ]);
  });

  it('TASK REASSIGN needs ERL 2; unknown functions are not supported', () => {
    const { session } = makeSession();
    const reassign = session.receive(1, tmf({ function: F.TaskReassign }));
    const unknown = session.receive(1, tmf({ function: 0x55 }));
    expect(sentOf([...reassign, ...unknown], 'task-management-response').map((r) => r.response)).toEqual([
      R.TaskAllegianceReassignmentNotSupported,
      R.FunctionNotSupported,
    ]);
  });

  it('bounds task management requests waiting for their tasks', () => {
    const { session } = makeSession({ maxPendingTaskManagement: 1, queueDepth: 8 });
    session.receive(1, command({ cmdSN: 1, itt: 1 }));
    session.receive(1, command({ cmdSN: 2, itt: 2 }));
    session.receive(1, tmf({ function: F.AbortTask, referencedTaskTag: 1, itt: 0x100, cmdSN: 3 }));
    const second = session.receive(1, tmf({ function: F.AbortTask, referencedTaskTag: 2, itt: 0x101, cmdSN: 3 }));
    expect(sentOf(second, 'task-management-response').map((r) => r.response)).toEqual([R.FunctionRejected]);
  });

  it('rejects task management in a discovery session', () => {
    const { session } = makeSession({ sessionType: 'Discovery', targetName: undefined });
    const actions = session.receive(1, tmf({ function: F.AbortTaskSet }));
    expect(sentOf(actions, 'reject').map((r) => r.reason)).toEqual([RejectReason.ProtocolError]);
  });

  it('a reset from another session aborts matching tasks silently', () => {
    const { session } = makeSession();
    const task = executed(session.receive(1, command({ cmdSN: 1, itt: 7 })))[0]!;
    const actions = session.abortTasks(0);
    expect(actionsOf(actions, 'task-done').map((a) => a.itt)).toEqual([7]);
    expect(sent(session.commandExecuted(task.taskId, { status: ScsiStatus.Good }))).toEqual([]);
  });
});

function sent(actions: ReturnType<typeof makeSession>['start']): unknown[] {
  return actions.filter((a) => a.type === 'send');
}
