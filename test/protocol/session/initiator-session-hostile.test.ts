import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Pdu } from '../../../protocol/pdu/index.js';
import { SenseKey } from '../../../protocol/scsi/sense-codes.js';
import type { InitiatorSessionAction } from '../../../protocol/session/initiator-types.js';
import { arbPdu } from '../../support/arbitraries/pdu.js';
import {
  commands,
  completions,
  events,
  failures,
  Harness,
  loginResult,
  readRequest,
  writeRequest,
} from './initiator-harness.js';

describe('InitiatorSession: hostile target PDUs', () => {
  it('never throws, and ends every request at most once, whatever the target sends', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbPdu({ maxDataLength: 80 }), fc.nat(), fc.boolean()), { maxLength: 40 }),
        (script) => {
          const h = new Harness({ nopIntervalMs: 1000 });
          const ended = new Set<number>();
          const itts: number[] = [];
          const record = (actions: readonly InitiatorSessionAction[]): void => {
            for (const a of actions) {
              if (a.type === 'complete' || a.type === 'fail') {
                if (a.id >= 0) {
                  expect(ended.has(a.id)).toBe(false);
                  ended.add(a.id);
                }
              }
              if (a.type === 'send' || a.type === 'send-command') {
                if ('itt' in a.pdu) itts.push(a.pdu.itt);
              }
            }
          };
          record(h.session.start());
          record(h.session.submitCommand(1, readRequest(64)));
          record(h.session.submitCommand(2, writeRequest(Buffer.alloc(32))));
          record(h.session.ping(3));
          record(h.session.text(4, [{ key: 'SendTargets', value: 'All' }]));
          record(h.session.taskManagement(5, { function: 5, lun: 0n }));
          for (const [pdu, pick, aim] of script) {
            // Half the time, aim the PDU at something live, so it reaches the request handlers.
            const target = itts[pick % Math.max(1, itts.length)];
            const aimed: Pdu = aim && target !== undefined && 'itt' in pdu ? ({ ...pdu, itt: target }) : pdu;
            record(h.session.receive(aimed));
            if (pick % 7 === 0) record(h.session.timerFired('nop-interval'));
          }
          expect(['full-feature', 'recovering', 'logging-out', 'logged-out', 'failed']).toContain(h.session.state);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('InitiatorSession: reissued commands and UNIT ATTENTION', () => {
  it('sends a reissued command again when it meets UNIT ATTENTION, at most twice, and reports it', () => {
    const h = new Harness();
    commands(h.session.submitCommand(1, readRequest(8)));
    h.session.connectionLost(new Error('gone'));
    const reissued = commands(
      h.session.reconnected(loginResult({ tsih: 8, statSN: 500, expCmdSN: 40, maxCmdSN: 60, cmdSN: 40 })),
    )[0]!;
    h.statSN = 501;
    const first = h.session.receive(h.checkCondition(reissued.itt, SenseKey.UnitAttention, 0x29, 0x07));
    expect(failures(first).size).toBe(0);
    expect(events(first)).toContainEqual({ kind: 'reissue-unit-attention', lun: 0n, asc: 0x29, ascq: 0x07 });
    const again = commands(first)[0]!;
    expect(again.itt).toBe(reissued.itt);
    expect(again.cmdSN).toBe(reissued.cmdSN + 1);
    const second = commands(h.session.receive(h.checkCondition(again.itt, SenseKey.UnitAttention, 0x29, 0x07)))[0]!;
    const third = h.session.receive(h.checkCondition(second.itt, SenseKey.UnitAttention, 0x29, 0x07));
    expect(failures(third).has(1)).toBe(true);
  });

  it('does not retry UNIT ATTENTION for a command that was never reissued', () => {
    const h = new Harness();
    const cmd = commands(h.session.submitCommand(1, readRequest(8)))[0]!;
    const done = h.session.receive(h.checkCondition(cmd.itt, SenseKey.UnitAttention, 0x29, 0x00));
    expect(failures(done).has(1)).toBe(true);
    expect(completions(done).size).toBe(0);
  });
});
