import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { serialDiff, serialGe } from '../../../protocol/pdu/index.js';
import { ScsiStatus } from '../../../protocol/scsi/status.js';
import { command, eventsOf, executed, makeSession, sentOf } from './target-harness.js';

describe('target session: the command window (RFC 7143 §3.2.2.1)', () => {
  it('announces MaxCmdSN = ExpCmdSN + depth - 1 and silently drops a CmdSN above it', () => {
    const { session } = makeSession({ queueDepth: 4 });
    expect([session.expCmdSN, session.maxCmdSN]).toEqual([1, 4]);
    const actions = session.receive(1, command({ cmdSN: 5, itt: 1 }));
    expect(executed(actions)).toEqual([]);
    expect(actions.filter((a) => a.type === 'send')).toEqual([]);
    expect(eventsOf(actions)).toEqual([
      { kind: 'command-dropped', cid: 1, cmdSN: 5, reason: 'outside-window', expCmdSN: 1, maxCmdSN: 4 },
    ]);
    // The window did not move: the next in-order command still works (what iSCSICmdSnTooHigh checks).
    expect(executed(session.receive(1, command({ cmdSN: 1, itt: 2 })))).toHaveLength(1);
  });

  it('silently drops a CmdSN below ExpCmdSN (already used)', () => {
    const { session } = makeSession();
    const first = executed(session.receive(1, command({ cmdSN: 1, itt: 1 })));
    session.commandExecuted(first[0]!.taskId, { status: ScsiStatus.Good });
    const again = session.receive(1, command({ cmdSN: 1, itt: 2 }));
    expect(executed(again)).toEqual([]);
    expect(sentOf(again, 'scsi-response')).toEqual([]);
    expect(session.expCmdSN).toBe(2);
  });

  it('holds early commands and executes them in CmdSN order once the gap fills', () => {
    const { session } = makeSession({ queueDepth: 8 });
    expect(executed(session.receive(1, command({ cmdSN: 3, itt: 3 })))).toEqual([]);
    expect(executed(session.receive(1, command({ cmdSN: 2, itt: 2 })))).toEqual([]);
    const released = executed(session.receive(1, command({ cmdSN: 1, itt: 1 })));
    expect(released.map((r) => r.task.itt)).toEqual([1, 2, 3]);
    expect(session.expCmdSN).toBe(4);
  });

  it('drops a duplicate of a held command', () => {
    const { session } = makeSession({ queueDepth: 8 });
    session.receive(1, command({ cmdSN: 2, itt: 2 }));
    const dup = session.receive(1, command({ cmdSN: 2, itt: 9 }));
    expect(eventsOf(dup).map((e) => (e.kind === 'command-dropped' ? e.reason : e.kind))).toEqual(['duplicate']);
    expect(executed(session.receive(1, command({ cmdSN: 1, itt: 1 }))).map((r) => r.task.itt)).toEqual([1, 2]);
  });

  it('lets immediate commands bypass a gap without consuming a CmdSN', () => {
    const { session } = makeSession({ queueDepth: 8 });
    session.receive(1, command({ cmdSN: 2, itt: 2 }));
    const now = executed(session.receive(1, command({ cmdSN: 1, itt: 5, immediate: true })));
    expect(now.map((r) => r.task.itt)).toEqual([5]);
    expect(session.expCmdSN).toBe(1);
  });

  it('opens MaxCmdSN only as tasks finish, so running plus held commands never exceed the depth', () => {
    const { session } = makeSession({ queueDepth: 2 });
    const a = executed(session.receive(1, command({ cmdSN: 1, itt: 1 })))[0]!;
    executed(session.receive(1, command({ cmdSN: 2, itt: 2 })));
    expect(session.maxCmdSN).toBe(2);
    expect(executed(session.receive(1, command({ cmdSN: 3, itt: 3 })))).toEqual([]); // above MaxCmdSN
    const done = session.commandExecuted(a.taskId, { status: ScsiStatus.Good });
    const response = sentOf(done, 'scsi-response')[0]!;
    expect([response.expCmdSN, response.maxCmdSN]).toEqual([3, 3]);
  });

  test.prop(
    [
      fc.array(
        fc.oneof(
          fc.record({
            op: fc.constant('send' as const),
            ahead: fc.integer({ min: -3, max: 8 }),
            immediate: fc.boolean(),
          }),
          fc.record({ op: fc.constant('finish' as const), pick: fc.nat() }),
        ),
        { maxLength: 60 },
      ),
      fc.integer({ min: 1, max: 6 }),
      fc.constantFrom(1, 0xfffffff0),
    ],
    { numRuns: 150 },
  )('MaxCmdSN never goes back, ExpCmdSN only moves forward, and held + running ≤ depth', (ops, depth, start) => {
    const { session } = makeSession({ queueDepth: depth, expCmdSN: start, maxCmdSN: (start + depth - 1) >>> 0 });
    const running: number[] = [];
    const immediate = new Map<number, boolean>();
    let itt = 1;
    let lastMax = session.maxCmdSN;
    let lastExp = session.expCmdSN;
    for (const op of ops) {
      let actions;
      if (op.op === 'send') {
        const cmdSN = (session.expCmdSN + op.ahead) >>> 0;
        actions = session.receive(1, command({ cmdSN, itt: itt++, immediate: op.immediate }));
      } else {
        if (running.length === 0) continue;
        const [id] = running.splice(op.pick % running.length, 1);
        actions = session.commandExecuted(id!, { status: ScsiStatus.Good });
      }
      for (const request of executed(actions)) {
        running.push(request.taskId);
        immediate.set(request.taskId, op.op === 'send' && op.immediate);
      }
      for (const pdu of sentOf(actions, 'scsi-response')) {
        expect(serialGe(pdu.maxCmdSN, lastMax)).toBe(true);
        lastMax = pdu.maxCmdSN;
      }
      expect(serialGe(session.maxCmdSN, lastMax)).toBe(true);
      expect(serialGe(session.expCmdSN, lastExp)).toBe(true);
      lastMax = session.maxCmdSN;
      lastExp = session.expCmdSN;
      // What the initiator may still send plus what runs fits in the depth (immediates are bounded apart).
      const ordered = running.filter((id) => immediate.get(id) !== true).length;
      expect(serialDiff(session.maxCmdSN, session.expCmdSN) + 1 + ordered).toBeLessThanOrEqual(depth);
    }
  });
});
