import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RESERVED_TAG } from '../../../protocol/pdu/constants.js';
import { serialGe, serialLe } from '../../../protocol/pdu/serial.js';
import { ScsiStatusError } from '../../../protocol/scsi/errors.js';
import { InitiatorSessionError } from '../../../protocol/session/initiator-errors.js';
import { InitiatorSession } from '../../../protocol/session/initiator-session.js';
import type { InitiatorSessionAction } from '../../../protocol/session/initiator-types.js';
import {
  armed,
  cancelled,
  commands,
  completions,
  events,
  failures,
  Harness,
  loginResult,
  readRequest,
  writeRequest,
} from './initiator-harness.js';

describe('InitiatorSession: commands and numbering', () => {
  it('sends a command with the login CmdSN, a fresh ITT and ExpStatSN, and completes it with its data', () => {
    const h = new Harness();
    const actions = h.session.submitCommand(1, readRequest(16));
    const [cmd] = commands(actions);
    expect(cmd).toMatchObject({ cmdSN: 10, expStatSN: 101, read: true, write: false, final: true, immediate: false });
    expect(cmd!.itt).not.toBe(0);
    expect(cmd!.itt).not.toBe(RESERVED_TAG);
    expect(cmd!.expectedDataTransferLength).toBe(16);
    const send = actions.find((a) => a.type === 'send-command');
    const readBuffer = send?.type === 'send-command' ? send.buffers.readBuffer : undefined;
    expect(readBuffer?.length).toBe(16);
    readBuffer!.fill(7); // as the transport would place Data-In

    const done = h.session.receive(h.response(cmd!.itt));
    const outcome = completions(done).get(1);
    expect(outcome?.kind).toBe('command');
    if (outcome?.kind === 'command') expect(outcome.result.data).toEqual(Buffer.alloc(16, 7));
    expect(done).toContainEqual({ type: 'task-done', itt: cmd!.itt });
    expect(h.session.expStatSN).toBe(102);
    expect(h.session.cmdSN).toBe(11);
  });

  it('hands out zero-filled read buffers unless the transport zeroes unplaced bytes, even after a buffer held data', () => {
    const readBufferOf = (actions: readonly InitiatorSessionAction[]): Buffer | undefined => {
      const send = actions.find((a) => a.type === 'send-command');
      return send?.type === 'send-command' ? send.buffers.readBuffer : undefined;
    };
    const h = new Harness();
    for (const [id, length] of [
      [1, 4096],
      [2, 512],
      [3, 70_000],
    ] as const) {
      const actions = h.session.submitCommand(id, readRequest(length));
      const buffer = readBufferOf(actions);
      expect(buffer?.every((b) => b === 0)).toBe(true);
      buffer!.fill(0xee); // the transport placed data; the next buffer may share its slab
      h.session.receive(h.response(commands(actions)[0]!.itt));
    }
    const unsafe = new InitiatorSession({ login: loginResult(), transport: 'tcp', uninitialisedReadBuffers: true });
    expect(readBufferOf(unsafe.submitCommand(1, readRequest(1 << 20)))?.length).toBe(1 << 20);
  });

  it('queues commands while the window is closed and sends them in order when it opens', () => {
    const h = new Harness({}, loginResult({ expCmdSN: 10, maxCmdSN: 9 }));
    expect(commands(h.session.submitCommand(1, readRequest(8)))).toHaveLength(0);
    expect(commands(h.session.submitCommand(2, readRequest(8)))).toHaveLength(0);
    expect(h.session.queuedCommands).toBe(2);
    h.maxCmdSN = 10;
    const first = commands(h.session.receive(h.nopIn(RESERVED_TAG)));
    expect(first.map((c) => c.cmdSN)).toEqual([10]);
    h.maxCmdSN = 20;
    const rest = commands(h.session.receive(h.nopIn(RESERVED_TAG)));
    expect(rest.map((c) => c.cmdSN)).toEqual([11]);
    expect(h.session.queuedCommands).toBe(0);
  });

  it('ignores a MaxCmdSN that moves backwards, and an invalid window altogether', () => {
    const h = new Harness();
    const cmd = commands(h.session.submitCommand(1, readRequest(8)))[0]!;
    h.maxCmdSN = 12; // below the 17 the login gave
    h.session.receive(h.response(cmd.itt));
    expect(h.session.maxCmdSN).toBe(17);
    h.expCmdSN = 30;
    h.maxCmdSN = 20; // MaxCmdSN < ExpCmdSN - 1: invalid
    const actions = h.session.receive(h.nopIn(RESERVED_TAG));
    expect(events(actions)).toContainEqual({ kind: 'window-ignored', expCmdSN: 30, maxCmdSN: 20 });
    expect(h.session.expCmdSN).toBe(10);
    expect(h.session.maxCmdSN).toBe(17);
  });

  it('never sends past MaxCmdSN, keeps CmdSNs consecutive in submission order, and never shrinks the window', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ type: fc.constant('submit' as const) }),
            fc.record({
              type: fc.constant('window' as const),
              exp: fc.integer({ min: -3, max: 6 }),
              max: fc.integer({ min: -4, max: 8 }),
            }),
            fc.record({ type: fc.constant('answer' as const) }),
          ),
          { maxLength: 40 },
        ),
        fc.integer({ min: 0, max: 0xffffffff }),
        (steps, base) => {
          const h = new Harness({}, loginResult({ cmdSN: base, expCmdSN: base, maxCmdSN: (base + 2) >>> 0 }));
          const sentSNs: number[] = [];
          const liveItts: number[] = [];
          let id = 0;
          let maxSeen = h.session.maxCmdSN;
          for (const step of steps) {
            let actions;
            if (step.type === 'submit') actions = h.session.submitCommand(id++, readRequest(4));
            else if (step.type === 'window') {
              h.expCmdSN = (base + Math.max(0, step.exp)) >>> 0;
              h.maxCmdSN = (base + step.max) >>> 0;
              actions = h.session.receive(h.nopIn(RESERVED_TAG));
            } else {
              const itt = liveItts.shift();
              if (itt === undefined) continue;
              actions = h.session.receive(h.response(itt));
            }
            for (const cmd of commands(actions)) {
              expect(serialLe(cmd.cmdSN, h.session.maxCmdSN)).toBe(true);
              sentSNs.push(cmd.cmdSN);
              liveItts.push(cmd.itt);
            }
            expect(serialGe(h.session.maxCmdSN, maxSeen)).toBe(true);
            maxSeen = h.session.maxCmdSN;
          }
          sentSNs.forEach((sn, i) => {
            expect(sn).toBe((base + i) >>> 0);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps ITTs unique among live tasks and never uses 0 or 0xffffffff', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 60 }), (script) => {
        const h = new Harness({}, loginResult({ maxCmdSN: 10_000 }));
        const live = new Set<number>();
        let id = 0;
        for (const submit of script) {
          if (submit || live.size === 0) {
            const cmd = commands(h.session.submitCommand(id++, readRequest(1)))[0]!;
            expect(live.has(cmd.itt)).toBe(false);
            expect(cmd.itt).not.toBe(0);
            expect(cmd.itt).not.toBe(RESERVED_TAG);
            live.add(cmd.itt);
          } else {
            const itt = [...live][0]!;
            live.delete(itt);
            h.session.receive(h.response(itt));
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('refuses a request id already in use', () => {
    const h = new Harness();
    h.session.submitCommand(1, readRequest(1));
    const error = failures(h.session.submitCommand(1, readRequest(1))).get(1);
    expect(error).toBeInstanceOf(InitiatorSessionError);
    expect((error as InitiatorSessionError).code).toBe('ERR_SESSION_BAD_REQUEST');
  });
});

describe('InitiatorSession: StatSN acknowledgement', () => {
  it('acknowledges each status in the next PDU it sends', () => {
    const h = new Harness();
    const a = commands(h.session.submitCommand(1, readRequest(1)))[0]!;
    h.session.receive(h.response(a.itt)); // StatSN 101
    const b = commands(h.session.submitCommand(2, readRequest(1)))[0]!;
    expect(b.expStatSN).toBe(102);
  });

  it('waits a bounded time for a StatSN gap, closes it quietly, and fails the connection when it stays open', () => {
    const h = new Harness({ statSNGapTimeoutMs: 750 });
    const a = commands(h.session.submitCommand(1, readRequest(1)))[0]!;
    const b = commands(h.session.submitCommand(2, readRequest(1)))[0]!;
    const early = h.response(b.itt, { statSN: 102 });
    const late = h.response(a.itt, { statSN: 101 });
    const gap = h.session.receive(early);
    expect(armed(gap).get('statsn-gap')).toBe(750);
    expect(events(gap)).toContainEqual({ kind: 'statsn-gap', expStatSN: 101, statSN: 102 });
    const filled = h.session.receive(late);
    expect(cancelled(filled).has('statsn-gap')).toBe(true);
    expect(h.session.expStatSN).toBe(103);

    const c = commands(h.session.submitCommand(3, readRequest(1)))[0]!;
    h.session.receive(h.response(c.itt, { statSN: 105 })); // 103 and 104 never come
    const fired = h.session.timerFired('statsn-gap');
    expect(h.session.state).toBe('recovering');
    const lost = fired.find((a) => a.type === 'state');
    expect(lost?.type === 'state' && (lost.error as InitiatorSessionError).code).toBe('ERR_SESSION_STATSN_GAP');
  });

  it('does not advance ExpStatSN for an unsolicited NOP-In', () => {
    const h = new Harness();
    h.session.receive(h.nopIn(RESERVED_TAG));
    expect(h.session.expStatSN).toBe(101);
  });
});

describe('InitiatorSession: SCSI responses', () => {
  it('trims read data by an underflow residual and reports overflow', () => {
    const h = new Harness();
    const a = commands(h.session.submitCommand(1, readRequest(512)))[0]!;
    const under = completions(
      h.session.receive(h.response(a.itt, { residualUnderflow: true, residualCount: 500 })),
    ).get(1);
    expect(under?.kind === 'command' && under.result.data.length).toBe(12);
    expect(under?.kind === 'command' && under.result.residual).toEqual({
      underflow: true,
      overflow: false,
      count: 500,
    });

    const b = commands(h.session.submitCommand(2, readRequest(64)))[0]!;
    const over = completions(h.session.receive(h.response(b.itt, { residualOverflow: true, residualCount: 64 }))).get(
      2,
    );
    expect(over?.kind === 'command' && over.result.data.length).toBe(64);
    expect(over?.kind === 'command' && over.result.residual.overflow).toBe(true);
  });

  it('turns CHECK CONDITION into a ScsiStatusError with the decoded sense', () => {
    const h = new Harness();
    const a = commands(h.session.submitCommand(1, readRequest(8)))[0]!;
    const error = failures(h.session.receive(h.checkCondition(a.itt, 0x3, 0x11, 0x00))).get(1);
    expect(error).toBeInstanceOf(ScsiStatusError);
    const status = error as ScsiStatusError;
    expect(status.status).toBe(0x02);
    expect({ key: status.sense?.key, asc: status.sense?.asc, ascq: status.sense?.ascq }).toEqual({
      key: 3,
      asc: 0x11,
      ascq: 0,
    });
    expect(status.message).toMatch(/CheckCondition.*MediumError/);
  });

  it('reports a target failure service response as its own error', () => {
    const h = new Harness();
    const a = commands(h.session.submitCommand(1, readRequest(8)))[0]!;
    const error = failures(h.session.receive(h.response(a.itt, { response: 1 }))).get(1) as InitiatorSessionError;
    expect(error.code).toBe('ERR_SESSION_TARGET_FAILURE');
    expect(error.serviceResponse).toBe(1);
  });

  it('sends immediate data up to min(FirstBurstLength, MaxRecvDataSegmentLength) and the rest as asked', () => {
    const h = new Harness(
      {},
      loginResult({
        params: {
          immediateData: true,
          initialR2T: false,
          firstBurstLength: 20_000,
          maxRecvDataSegmentLength: { initiator: 8192, target: 4096 },
        },
      }),
    );
    const data = Buffer.alloc(50_000, 1);
    const send = h.session.submitCommand(1, writeRequest(data)).find((a) => a.type === 'send-command');
    expect(send?.type).toBe('send-command');
    if (send?.type !== 'send-command') return;
    expect(send.buffers.immediateLength).toBe(4096);
    expect(send.buffers.unsolicitedDataOutLength).toBe(20_000 - 4096);
    expect(send.pdu.final).toBe(false);
    expect(Buffer.concat(send.pdu.data).length).toBe(4096);
    expect(send.pdu.expectedDataTransferLength).toBe(50_000);
  });

  it('sends no unsolicited data with ImmediateData=No and InitialR2T=Yes', () => {
    const h = new Harness({}, loginResult({ params: { immediateData: false, initialR2T: true } }));
    const send = h.session.submitCommand(1, writeRequest(Buffer.alloc(1000))).find((a) => a.type === 'send-command');
    if (send?.type !== 'send-command') throw new Error('no command sent');
    expect(send.buffers).toMatchObject({ immediateLength: 0, unsolicitedDataOutLength: 0 });
    expect(send.pdu.final).toBe(true);
    expect(send.pdu.data).toEqual([]);
  });

  it('treats a Login Response in full feature phase as a connection failure', () => {
    const h = new Harness();
    h.session.receive({
      kind: 'login-response',
      transit: true,
      continue: false,
      currentStage: 1,
      nextStage: 3,
      versionMax: 0,
      versionActive: 0,
      isid: { type: 0, a: 0, b: 0, c: 0, d: 0 },
      tsih: 1,
      itt: 0,
      statSN: 101,
      expCmdSN: 10,
      maxCmdSN: 17,
      statusClass: 0,
      statusDetail: 0,
      data: [],
    });
    expect(h.session.state).toBe('recovering');
  });
});
