import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { Pdu } from '../../../protocol/pdu/index.js';
import { serialAdd, serialDiff } from '../../../protocol/pdu/index.js';
import { ScsiStatus } from '../../../protocol/scsi/status.js';
import type { TargetSessionAction } from '../../../protocol/session/target-types.js';
import { defaultNegotiatedParams } from '../../support/datamover-pair.js';
import { arbPdu } from '../../support/arbitraries/pdu.js';
import { CID, makeSession } from './target-harness.js';

type Step =
  | { readonly op: 'pdu'; readonly pdu: Pdu; readonly near: boolean; readonly ahead: number }
  | { readonly op: 'finish'; readonly pick: number; readonly dataIn: number }
  | { readonly op: 'deliver'; readonly pick: number; readonly ok: boolean }
  | { readonly op: 'timer'; readonly timer: 'nop-interval' | 'nop-timeout' | 'logout-deadline' };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('pdu' as const),
      pdu: arbPdu(),
      near: fc.boolean(),
      ahead: fc.integer({ min: -2, max: 6 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('finish' as const),
      pick: fc.nat(),
      dataIn: fc.integer({ min: 0, max: 3000 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deliver' as const), pick: fc.nat(), ok: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('timer' as const),
      timer: fc.constantFrom('nop-interval' as const, 'nop-timeout' as const, 'logout-deadline' as const),
    }),
  },
);

describe('target session: hostile initiators', () => {
  test.prop([fc.array(arbStep, { maxLength: 80 })], { numRuns: 200 })(
    'random PDUs never crash the machine; StatSN, bounds and data segment limits hold',
    (steps) => {
      const mrdsl = 1024;
      const depth = 4;
      const maxImmediate = 3;
      const { session } = makeSession({
        queueDepth: depth,
        maxImmediateTasks: maxImmediate,
        nopInIntervalMs: 1000,
        params: defaultNegotiatedParams({ maxRecvDataSegmentLength: { initiator: mrdsl, target: 8192 } }),
      });
      const executing: number[] = [];
      const sending: number[] = [];
      let lastStatSN: number | undefined;
      const check = (actions: readonly TargetSessionAction[]): void => {
        for (const action of actions) {
          if (action.type === 'execute') executing.push(action.request.taskId);
          if (action.type === 'put-data') sending.push(action.taskId);
          if (action.type !== 'send') continue;
          const pdu = action.pdu;
          const data = 'data' in pdu ? pdu.data : [];
          if (pdu.kind === 'reject') expect(data[0]?.length).toBeGreaterThanOrEqual(48);
          else expect(data.reduce((n, b) => n + b.length, 0)).toBeLessThanOrEqual(mrdsl);
          const advances = !(pdu.kind === 'nop-in' && pdu.ttt !== 0xffffffff);
          if (advances) {
            if (lastStatSN !== undefined) expect(pdu.statSN).toBe(serialAdd(lastStatSN, 1));
            lastStatSN = pdu.statSN;
          }
        }
      };
      for (const step of steps) {
        let actions: TargetSessionAction[] = [];
        if (step.op === 'pdu') {
          let pdu = step.pdu;
          if (step.near && 'cmdSN' in pdu && pdu.kind !== 'login-request') {
            pdu = { ...pdu, cmdSN: serialAdd(session.expCmdSN, Math.max(0, step.ahead)) };
          }
          actions = session.receive(CID, pdu);
        } else if (step.op === 'finish' && executing.length > 0) {
          const [id] = executing.splice(step.pick % executing.length, 1);
          const dataIn = step.dataIn > 0 ? [Buffer.alloc(step.dataIn)] : [];
          actions = session.commandExecuted(id!, { status: ScsiStatus.Good, dataIn });
        } else if (step.op === 'deliver' && sending.length > 0) {
          const [id] = sending.splice(step.pick % sending.length, 1);
          actions = step.ok ? session.dataDelivered(id!) : session.dataFailed(id!, new Error('lost'));
        } else if (step.op === 'timer') {
          actions = session.timerFired(CID, step.timer);
        }
        check(actions);
        expect(session.taskCount).toBeLessThanOrEqual(depth + maxImmediate);
        expect(serialDiff(session.maxCmdSN, session.expCmdSN)).toBeLessThan(depth);
        if (session.ended) break;
      }
    },
  );
});
