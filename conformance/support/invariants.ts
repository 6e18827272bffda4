/**
 * The sequencing rules of RFC 7143, as pure checks over a recorded exchange (one connection at a time). Each
 * returns the first violation it finds, so a property's report names one precise deviation.
 */
import { RESERVED_TAG } from '../../protocol/pdu/constants.js';
import type { Pdu } from '../../protocol/pdu/pdu.js';
import { serialAdd, serialDiff, serialGt, serialLe } from '../../protocol/pdu/serial.js';
import { TaskManagementFunction, TaskManagementResponse } from '../../protocol/pdu/task-management.js';
import { chunksLength } from '../../protocol/pdu/encode.js';
import type { NegotiatedParams } from '../../protocol/text/params.js';
import { describePdu } from '../record/describe.js';
import type { RecordedPdu } from '../record/exchange.js';

/** A broken rule. */
export interface Finding {
  readonly rfc: string;
  readonly message: string;
}

/** Rule sources. */
export const RFC = {
  window: 'RFC 7143 §4.2.2.1',
  windowTarget: 'RFC 7143 §4.2.2.1 (MaxCmdSN ≥ ExpCmdSN − 1; neither moves backwards)',
  statSN: 'RFC 7143 §4.2.2.2',
  itt: 'RFC 7143 §11.2.1.8',
  dataSN: 'RFC 7143 §11.7.5',
  offsets: 'RFC 7143 §13.19, §13.20 (DataPDUInOrder, DataSequenceInOrder)',
  r2tSN: 'RFC 7143 §11.8.2',
  segment: 'RFC 7143 §13.12 (MaxRecvDataSegmentLength)',
  burst: 'RFC 7143 §13.13 (MaxBurstLength)',
} as const;

/** The connections of an exchange, each with its PDUs in order. */
export function byConnection(pdus: readonly RecordedPdu[]): Map<number, RecordedPdu[]> {
  const out = new Map<number, RecordedPdu[]>();
  for (const p of pdus) out.set(p.connection, [...(out.get(p.connection) ?? []), p]);
  return out;
}

const at = (p: RecordedPdu): string => `c${p.connection} #${p.seq} ${describePdu(p.pdu)}`;

/** The successful final Login Response of a connection, and where it is. */
function finalLogin(
  pdus: readonly RecordedPdu[],
): { readonly index: number; readonly pdu: Extract<Pdu, { kind: 'login-response' }> } | undefined {
  for (let i = pdus.length - 1; i >= 0; i--) {
    const p = pdus[i]?.pdu;
    if (p?.kind === 'login-response' && p.statusClass === 0 && p.transit && p.nextStage === 3)
      return { index: i, pdu: p };
  }
  return undefined;
}

/** The CmdSN the login requests carried (the session's first). */
function loginCmdSN(pdus: readonly RecordedPdu[]): number | undefined {
  for (const p of pdus) if (p.pdu.kind === 'login-request') return p.pdu.cmdSN;
  return undefined;
}

/** Target PDUs that carry ExpCmdSN and MaxCmdSN. */
function targetWindow(pdu: Pdu): { readonly expCmdSN: number; readonly maxCmdSN: number } | undefined {
  switch (pdu.kind) {
    case 'nop-in':
    case 'scsi-response':
    case 'task-management-response':
    case 'login-response':
    case 'text-response':
    case 'scsi-data-in':
    case 'logout-response':
    case 'r2t':
    case 'async-message':
    case 'reject':
      return pdu;
    default:
      return undefined;
  }
}

/** Initiator PDUs that carry a CmdSN, and whether they are immediate. */
function commandNumber(pdu: Pdu): { readonly cmdSN: number; readonly immediate: boolean } | undefined {
  switch (pdu.kind) {
    case 'scsi-command':
    case 'nop-out':
    case 'task-management-request':
    case 'text-request':
    case 'logout-request':
      return pdu;
    default:
      return undefined;
  }
}

/**
 * The initiator numbers non-immediate PDUs CmdSN, CmdSN + 1, ... from the login's, never beyond the MaxCmdSN the
 * target last announced; immediate PDUs carry the next CmdSN without taking it (RFC 7143 §3.2.2.1, §4.2.2.1).
 */
export function checkInitiatorWindow(pdus: readonly RecordedPdu[]): Finding | undefined {
  for (const [, conn] of byConnection(pdus)) {
    const login = finalLogin(conn);
    const first = loginCmdSN(conn);
    if (login === undefined || first === undefined) continue;
    let exp = login.pdu.expCmdSN;
    let max = login.pdu.maxCmdSN;
    let next = first;
    for (const p of conn.slice(login.index + 1)) {
      const window = p.direction === 'in' ? targetWindow(p.pdu) : undefined;
      if (window !== undefined) {
        if (serialDiff(window.maxCmdSN, window.expCmdSN) >= -1) {
          if (serialGt(window.expCmdSN, exp)) exp = window.expCmdSN;
          if (serialGt(window.maxCmdSN, max)) max = window.maxCmdSN;
        }
        continue;
      }
      const numbered = p.direction === 'out' ? commandNumber(p.pdu) : undefined;
      if (numbered === undefined) continue;
      if (numbered.cmdSN !== next) {
        return { rfc: RFC.window, message: `CmdSN ${numbered.cmdSN} where ${next} was next: ${at(p)}` };
      }
      if (numbered.immediate) continue;
      if (!serialLe(numbered.cmdSN, max)) {
        return {
          rfc: RFC.window,
          message: `the initiator sent CmdSN ${numbered.cmdSN} beyond MaxCmdSN ${max} (ExpCmdSN ${exp}): ${at(p)}`,
        };
      }
      next = serialAdd(next, 1);
    }
  }
  return undefined;
}

/** The target's ExpCmdSN and MaxCmdSN never move backwards, and MaxCmdSN ≥ ExpCmdSN − 1 (RFC 7143 §4.2.2.1). */
export function checkTargetWindow(pdus: readonly RecordedPdu[]): Finding | undefined {
  for (const [, conn] of byConnection(pdus)) {
    const login = finalLogin(conn);
    if (login === undefined) continue;
    let last: { exp: number; max: number; where: RecordedPdu } | undefined;
    for (const p of conn.slice(login.index)) {
      const window = p.direction === 'in' ? targetWindow(p.pdu) : undefined;
      if (window === undefined) continue;
      if (serialDiff(window.maxCmdSN, window.expCmdSN) < -1) {
        return {
          rfc: RFC.windowTarget,
          message: `MaxCmdSN ${window.maxCmdSN} is below ExpCmdSN − 1 (${window.expCmdSN} − 1): ${at(p)}`,
        };
      }
      if (last !== undefined && serialDiff(window.maxCmdSN, last.max) < 0) {
        return {
          rfc: RFC.windowTarget,
          message: `MaxCmdSN moved backwards from ${last.max} to ${window.maxCmdSN}: ${at(p)} after ${at(last.where)}`,
        };
      }
      if (last !== undefined && serialDiff(window.expCmdSN, last.exp) < 0) {
        return {
          rfc: RFC.windowTarget,
          message: `ExpCmdSN moved backwards from ${last.exp} to ${window.expCmdSN}: ${at(p)} after ${at(last.where)}`,
        };
      }
      last = { exp: window.expCmdSN, max: window.maxCmdSN, where: p };
    }
  }
  return undefined;
}

/** True for target PDUs that consume a StatSN (RFC 7143 §4.2.2.2; §11.19.1 for NOP-In). */
export function bearsStatus(pdu: Pdu): pdu is Extract<Pdu, { statSN: number }> {
  switch (pdu.kind) {
    case 'scsi-response':
    case 'task-management-response':
    case 'text-response':
    case 'logout-response':
    case 'async-message':
    case 'reject':
      return true;
    case 'nop-in':
      return pdu.itt !== RESERVED_TAG;
    case 'scsi-data-in':
      return pdu.statusPresent;
    default:
      return false;
  }
}

/**
 * Each status on a connection carries the previous StatSN + 1, starting after the login's; the initiator's
 * ExpStatSN acknowledges only what it received and never moves backwards (RFC 7143 §4.2.2.2).
 */
export function checkStatSN(pdus: readonly RecordedPdu[]): Finding | undefined {
  for (const [, conn] of byConnection(pdus)) {
    const login = finalLogin(conn);
    if (login === undefined) continue;
    let expected = serialAdd(login.pdu.statSN, 1);
    let lastAck: number | undefined;
    for (const p of conn.slice(login.index + 1)) {
      const pdu = p.pdu;
      if (p.direction === 'in') {
        if (!bearsStatus(pdu)) continue;
        if (pdu.statSN !== expected) {
          return { rfc: RFC.statSN, message: `StatSN ${pdu.statSN} where ${expected} was next: ${at(p)}` };
        }
        expected = serialAdd(expected, 1);
        continue;
      }
      if (!('expStatSN' in pdu)) continue;
      const ack = pdu.expStatSN;
      if (serialGt(ack, expected)) {
        return {
          rfc: RFC.statSN,
          message: `the initiator acknowledged ExpStatSN ${ack} before receiving StatSN ${(ack - 1) >>> 0}: ${at(p)}`,
        };
      }
      if (lastAck !== undefined && serialDiff(ack, lastAck) < 0) {
        return { rfc: RFC.statSN, message: `ExpStatSN moved backwards from ${lastAck} to ${ack}: ${at(p)}` };
      }
      lastAck = ack;
    }
  }
  return undefined;
}

/** Kinds of initiator PDU that start a task (and its ITT). */
const TASK_STARTERS = new Set<Pdu['kind']>([
  'scsi-command',
  'task-management-request',
  'nop-out',
  'text-request',
  'logout-request',
]);

/** TMFs whose completion ends every task on the LUN (or the target). */
const SET_ABORTS = new Set<number>([
  TaskManagementFunction.AbortTaskSet,
  TaskManagementFunction.ClearTaskSet,
  TaskManagementFunction.LogicalUnitReset,
  TaskManagementFunction.TargetWarmReset,
  TaskManagementFunction.TargetColdReset,
]);

/**
 * An ITT names one live task: the initiator never gives a new task the ITT of a live one (nor the reserved tag),
 * and the target answers only ITTs of live tasks (RFC 7143 §11.2.1.8).
 */
export function checkTaskTags(pdus: readonly RecordedPdu[]): Finding | undefined {
  for (const [, conn] of byConnection(pdus)) {
    const login = finalLogin(conn);
    if (login === undefined) continue;
    const live = new Map<number, { kind: Pdu['kind']; lun: bigint; function?: number; referenced?: number }>();
    for (const p of conn.slice(login.index + 1)) {
      const pdu = p.pdu;
      if (p.direction === 'out') {
        if (!TASK_STARTERS.has(pdu.kind) || !('itt' in pdu)) continue;
        if (pdu.kind === 'nop-out' && pdu.itt === RESERVED_TAG) continue;
        if (pdu.itt === RESERVED_TAG) {
          return { rfc: RFC.itt, message: `a new task uses the reserved tag 0xffffffff: ${at(p)}` };
        }
        const current = live.get(pdu.itt);
        // A text exchange keeps its ITT across its PDUs (continuation), so that is no reuse.
        if (current !== undefined && !(current.kind === 'text-request' && pdu.kind === 'text-request')) {
          return {
            rfc: RFC.itt,
            message: `ITT 0x${pdu.itt.toString(16)} reused while its ${current.kind} is live: ${at(p)}`,
          };
        }
        live.set(pdu.itt, {
          kind: pdu.kind,
          lun: 'lun' in pdu ? pdu.lun : 0n,
          ...(pdu.kind === 'task-management-request'
            ? { function: pdu.function, referenced: pdu.referencedTaskTag }
            : {}),
        });
        continue;
      }
      if (!('itt' in pdu)) continue;
      const answering =
        pdu.kind === 'scsi-response' ||
        pdu.kind === 'scsi-data-in' ||
        pdu.kind === 'r2t' ||
        pdu.kind === 'task-management-response' ||
        pdu.kind === 'text-response' ||
        pdu.kind === 'logout-response' ||
        (pdu.kind === 'nop-in' && pdu.itt !== RESERVED_TAG);
      if (!answering) continue;
      const task = live.get(pdu.itt);
      if (task === undefined) {
        return {
          rfc: RFC.itt,
          message: `the target answered ITT 0x${pdu.itt.toString(16)}, which names no live task: ${at(p)}`,
        };
      }
      const ends =
        pdu.kind === 'scsi-response' ||
        (pdu.kind === 'scsi-data-in' && pdu.statusPresent) ||
        pdu.kind === 'task-management-response' ||
        (pdu.kind === 'text-response' && pdu.final) ||
        pdu.kind === 'logout-response' ||
        pdu.kind === 'nop-in';
      if (!ends) continue;
      live.delete(pdu.itt);
      if (pdu.kind !== 'task-management-response') continue;
      if (pdu.response !== TaskManagementResponse.FunctionComplete) continue;
      // A completed abort ends its tasks without a response of their own.
      if (task.function === TaskManagementFunction.AbortTask && task.referenced !== undefined)
        live.delete(task.referenced);
      if (task.function !== undefined && SET_ABORTS.has(task.function)) {
        for (const [itt, other] of live) if (other.kind === 'scsi-command') live.delete(itt);
      }
    }
  }
  return undefined;
}

/**
 * Data PDUs on the wire, per task: Data-In DataSN 0, 1, 2… with contiguous offsets; R2TSN 0, 1, 2…; Data-Out DataSN
 * from 0 within each R2T's sequence and in its window; no data segment above the receiver's
 * MaxRecvDataSegmentLength; no R2T or Data-In sequence above MaxBurstLength.
 */
export function checkDataSequencing(
  pdus: readonly RecordedPdu[],
  params: (connection: number) => NegotiatedParams | undefined,
): Finding | undefined {
  for (const [connection, conn] of byConnection(pdus)) {
    const negotiated = params(connection);
    const dataIn = new Map<number, { dataSN: number; offset: number; burst: number }>();
    const r2tSN = new Map<number, number>();
    const r2ts = new Map<string, { offset: number; end: number; dataSN: number; where: RecordedPdu }>();
    const unsolicited = new Map<number, { dataSN: number; offset: number | undefined }>();
    for (const p of conn) {
      const pdu = p.pdu;
      if (pdu.kind === 'scsi-data-in') {
        const length = chunksLength(pdu.data);
        const state = dataIn.get(pdu.itt) ?? { dataSN: 0, offset: 0, burst: 0 };
        if (pdu.dataSN !== state.dataSN) {
          return { rfc: RFC.dataSN, message: `Data-In DataSN ${pdu.dataSN} where ${state.dataSN} was next: ${at(p)}` };
        }
        if (pdu.bufferOffset !== state.offset) {
          return {
            rfc: RFC.offsets,
            message: `Data-In at offset ${pdu.bufferOffset} where ${state.offset} was next: ${at(p)}`,
          };
        }
        if (negotiated !== undefined && length > negotiated.maxRecvDataSegmentLength.initiator) {
          return {
            rfc: RFC.segment,
            message: `Data-In of ${length} bytes, above the initiator's MaxRecvDataSegmentLength ${negotiated.maxRecvDataSegmentLength.initiator}: ${at(p)}`,
          };
        }
        const burst = state.burst + length;
        if (negotiated !== undefined && burst > negotiated.maxBurstLength) {
          return {
            rfc: RFC.burst,
            message: `a Data-In sequence of ${burst} bytes, above MaxBurstLength ${negotiated.maxBurstLength}: ${at(p)}`,
          };
        }
        dataIn.set(pdu.itt, { dataSN: pdu.dataSN + 1, offset: state.offset + length, burst: pdu.final ? 0 : burst });
        continue;
      }
      if (pdu.kind === 'r2t') {
        const expected = r2tSN.get(pdu.itt) ?? 0;
        if (pdu.r2tSN !== expected) {
          return { rfc: RFC.r2tSN, message: `R2TSN ${pdu.r2tSN} where ${expected} was next: ${at(p)}` };
        }
        if (negotiated !== undefined && pdu.desiredDataTransferLength > negotiated.maxBurstLength) {
          return {
            rfc: RFC.burst,
            message: `an R2T for ${pdu.desiredDataTransferLength} bytes, above MaxBurstLength ${negotiated.maxBurstLength}: ${at(p)}`,
          };
        }
        r2tSN.set(pdu.itt, expected + 1);
        r2ts.set(`${pdu.itt}:${pdu.ttt}`, {
          offset: pdu.bufferOffset,
          end: pdu.bufferOffset + pdu.desiredDataTransferLength,
          dataSN: 0,
          where: p,
        });
        continue;
      }
      if (pdu.kind === 'scsi-command' && pdu.write) {
        unsolicited.set(pdu.itt, { dataSN: 0, offset: chunksLength(pdu.data) });
        continue;
      }
      if (pdu.kind !== 'scsi-data-out') continue;
      const length = chunksLength(pdu.data);
      if (negotiated !== undefined && length > negotiated.maxRecvDataSegmentLength.target) {
        return {
          rfc: RFC.segment,
          message: `Data-Out of ${length} bytes, above the target's MaxRecvDataSegmentLength ${negotiated.maxRecvDataSegmentLength.target}: ${at(p)}`,
        };
      }
      if (pdu.ttt === RESERVED_TAG) {
        const state = unsolicited.get(pdu.itt) ?? { dataSN: 0, offset: undefined };
        if (pdu.dataSN !== state.dataSN) {
          return {
            rfc: RFC.dataSN,
            message: `unsolicited Data-Out DataSN ${pdu.dataSN} where ${state.dataSN} was next: ${at(p)}`,
          };
        }
        if (state.offset !== undefined && pdu.bufferOffset !== state.offset) {
          return {
            rfc: RFC.offsets,
            message: `unsolicited Data-Out at offset ${pdu.bufferOffset} where ${state.offset} was next: ${at(p)}`,
          };
        }
        unsolicited.set(pdu.itt, { dataSN: pdu.dataSN + 1, offset: pdu.bufferOffset + length });
        continue;
      }
      const r2t = r2ts.get(`${pdu.itt}:${pdu.ttt}`);
      if (r2t === undefined) {
        return {
          rfc: RFC.r2tSN,
          message: `Data-Out with TTT 0x${pdu.ttt.toString(16)}, which no R2T of the task gave: ${at(p)}`,
        };
      }
      if (pdu.dataSN !== r2t.dataSN) {
        return {
          rfc: RFC.dataSN,
          message: `Data-Out DataSN ${pdu.dataSN} where ${r2t.dataSN} was next in the R2T's sequence: ${at(p)}`,
        };
      }
      if (pdu.bufferOffset !== r2t.offset || pdu.bufferOffset + length > r2t.end) {
        return {
          rfc: RFC.offsets,
          message: `Data-Out at ${pdu.bufferOffset}+${length} outside the R2T's next part [${r2t.offset}, ${r2t.end}): ${at(p)}`,
        };
      }
      r2t.dataSN += 1;
      r2t.offset += length;
    }
  }
  return undefined;
}
