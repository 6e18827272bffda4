/**
 * The sequencing checks are pure functions over a recorded exchange: each holds on a well-behaved exchange and
 * names the broken rule on one doctored to break it (so every sequencing property can fail).
 */
import { describe, expect, it } from 'vitest';
import type { Pdu } from '../../protocol/pdu/pdu.js';
import type { Direction, RecordedPdu } from '../../conformance/record/exchange.js';
import {
  checkDataSequencing,
  checkInitiatorWindow,
  checkStatSN,
  checkTargetWindow,
  checkTaskTags,
} from '../../conformance/support/invariants.js';

const isid = { type: 2, a: 0, b: 1, c: 2, d: 3 } as const;
const seq = { statSN: 0, expCmdSN: 0, maxCmdSN: 0 };

function exchange(items: readonly (readonly [Direction, Pdu])[]): RecordedPdu[] {
  return items.map(([direction, pdu], i) => ({ seq: i, timeMs: i, connection: 1, direction, layer: 'core', pdu }));
}

const loginRequest: Pdu = {
  kind: 'login-request',
  transit: true,
  continue: false,
  currentStage: 1,
  nextStage: 3,
  versionMax: 0,
  versionMin: 0,
  isid,
  tsih: 0,
  itt: 0,
  cid: 0,
  cmdSN: 10,
  expStatSN: 0,
  data: [],
};
const loginResponse: Pdu = {
  kind: 'login-response',
  transit: true,
  continue: false,
  currentStage: 1,
  nextStage: 3,
  versionMax: 0,
  versionActive: 0,
  isid,
  tsih: 1,
  itt: 0,
  statSN: 100,
  expCmdSN: 10,
  maxCmdSN: 11,
  statusClass: 0,
  statusDetail: 0,
  data: [],
};
const command = (itt: number, cmdSN: number, expStatSN: number): Pdu => ({
  kind: 'scsi-command',
  immediate: false,
  final: true,
  read: true,
  write: false,
  attribute: 1,
  lun: 0n,
  itt,
  expectedDataTransferLength: 1024,
  cmdSN,
  expStatSN,
  cdb: Buffer.alloc(16),
  data: [],
});
const response = (itt: number, statSN: number, expCmdSN: number, maxCmdSN: number): Pdu => ({
  kind: 'scsi-response',
  bidirectionalReadResidualOverflow: false,
  bidirectionalReadResidualUnderflow: false,
  residualOverflow: false,
  residualUnderflow: false,
  response: 0,
  status: 0,
  itt,
  snackTag: 0,
  statSN,
  expCmdSN,
  maxCmdSN,
  expDataSN: 0,
  bidirectionalReadResidualCount: 0,
  residualCount: 0,
  data: [],
});
const dataIn = (itt: number, dataSN: number, offset: number, length: number, final: boolean): Pdu => ({
  kind: 'scsi-data-in',
  final,
  acknowledge: false,
  residualOverflow: false,
  residualUnderflow: false,
  statusPresent: false,
  status: 0,
  lun: 0n,
  itt,
  ttt: 0xffffffff,
  dataSN,
  bufferOffset: offset,
  residualCount: 0,
  ...seq,
  statSN: 101,
  expCmdSN: 11,
  maxCmdSN: 12,
  data: [Buffer.alloc(length)],
});

const good = exchange([
  ['out', loginRequest],
  ['in', loginResponse],
  ['out', command(1, 10, 101)],
  ['out', command(2, 11, 101)],
  ['in', dataIn(1, 0, 0, 512, false)],
  ['in', dataIn(1, 1, 512, 512, true)],
  ['in', response(1, 101, 11, 12)],
  ['in', response(2, 102, 12, 13)],
  ['out', command(3, 12, 103)],
  ['in', response(3, 103, 13, 14)],
]);

/** `good` with the PDU at `index` replaced. */
function doctored(index: number, pdu: Pdu): RecordedPdu[] {
  return good.map((p, i) => (i === index ? { ...p, pdu } : p));
}

describe('sequencing invariants', () => {
  it('hold on a well-behaved exchange', () => {
    expect(checkInitiatorWindow(good)).toBeUndefined();
    expect(checkTargetWindow(good)).toBeUndefined();
    expect(checkStatSN(good)).toBeUndefined();
    expect(checkTaskTags(good)).toBeUndefined();
    expect(checkDataSequencing(good, () => undefined)).toBeUndefined();
  });

  it('a command beyond MaxCmdSN breaks the initiator window (RFC 7143 §4.2.2.1)', () => {
    const early = exchange([
      ['out', loginRequest],
      ['in', loginResponse],
      ['out', command(1, 10, 101)],
      ['out', command(2, 11, 101)],
      ['out', command(3, 12, 101)],
    ]);
    expect(checkInitiatorWindow(early)?.message).toMatch(/CmdSN 12 beyond MaxCmdSN 11/);
    expect(checkInitiatorWindow(doctored(3, command(2, 12, 101)))?.message).toMatch(/CmdSN 12 where 11 was next/);
  });

  it('a MaxCmdSN that moves backwards, or below ExpCmdSN − 1, breaks the target window', () => {
    expect(checkTargetWindow(doctored(7, response(2, 102, 12, 11)))?.message).toMatch(
      /MaxCmdSN moved backwards from 12 to 11/,
    );
    expect(checkTargetWindow(doctored(9, response(3, 103, 13, 11)))?.message).toMatch(/below ExpCmdSN − 1/);
  });

  it('a skipped StatSN or an acknowledgement ahead of the statuses breaks StatSN sequencing', () => {
    expect(checkStatSN(doctored(7, response(2, 103, 12, 13)))?.message).toMatch(/StatSN 103 where 102 was next/);
    expect(checkStatSN(doctored(8, command(3, 12, 105)))?.message).toMatch(/acknowledged ExpStatSN 105/);
  });

  it('a live ITT reused, or an answer for no live task, breaks ITT uniqueness', () => {
    expect(checkTaskTags(doctored(3, command(1, 11, 101)))?.message).toMatch(/ITT 0x1 reused/);
    expect(checkTaskTags(doctored(9, response(9, 103, 13, 14)))?.message).toMatch(/names no live task/);
  });

  it('a DataSN gap, an offset gap or a segment above MaxRecvDataSegmentLength breaks data sequencing', () => {
    expect(checkDataSequencing(doctored(5, dataIn(1, 2, 512, 512, true)), () => undefined)?.message).toMatch(
      /DataSN 2 where 1/,
    );
    expect(checkDataSequencing(doctored(5, dataIn(1, 1, 600, 512, true)), () => undefined)?.message).toMatch(
      /offset 600 where 512/,
    );
    const params = { maxRecvDataSegmentLength: { initiator: 256, target: 8192 }, maxBurstLength: 262144 };
    expect(checkDataSequencing(good, () => params as never)?.message).toMatch(
      /above the initiator's MaxRecvDataSegmentLength 256/,
    );
  });
});
