/**
 * The RC completer (rxe `rxe_comp.c`): takes responses (ACK, NAK, RNR NAK, READ responses) and retransmit-timer
 * expiries, completes send work requests, and decides on retries.
 *
 * - ACKs are cumulative: an ACK past a work request's last PSN completes it (a READ skipped that way is retried);
 * - READ responses land in the work request's scatter list, in PSN order; a gap is left to the timer;
 * - NAK PSN sequence error implicitly acknowledges every PSN before it, then go-back-N (one retry per episode);
 * - NAK invalid request / remote access / remote operational error: the work request fails with
 *   REM_INV_REQ_ERR / REM_ACCESS_ERR / REM_OP_ERR and the QP goes to ERROR;
 * - RNR NAK: wait the RNR timer of its code, then go back; `rnr_retry` 7 means forever;
 * - timer: go back, `retry_cnt` decremented unless 7 (rxe: forever); at 0 RETRY_EXC_ERR.
 * As in newer rxe, nothing is retried while an RNR wait is running (`wait_for_rnr_timer`).
 */
import { NakCode } from '../aeth.js';
import { RoceOpcode, opcodeInfo } from '../opcodes.js';
import type { RocePacket } from '../packet.js';
import { psnAdd, psnCompare } from '../psn.js';
import { rnrTimerUsec } from '../timers.js';
import { retransmitDelayMs } from './requester.js';
import { INFINITE_RETRIES, type RcCore, type SendWqe } from './state.js';

type Step =
  | 'get-wqe'
  | 'check-psn'
  | 'check-ack'
  | 'read'
  | 'write-send'
  | 'comp-ack'
  | 'comp-wqe'
  | 'update-comp'
  | 'error-retry'
  | 'rnr-retry'
  | 'error'
  | 'exit'
  | 'done';

function resetRetryCounters(core: RcCore): void {
  core.retryCnt = core.attr.retryCount;
  core.rnrRetry = core.attr.rnrRetry;
  core.startedRetry = false;
}

function checkPsn(core: RcCore, pkt: RocePacket, wqe: SendWqe): Step {
  const psn = pkt.bth.psn;
  if (psnCompare(psn, wqe.lastPsn) > 0) {
    if (wqe.state !== 'pending') return 'done';
    // A READ answered by nothing but a later ACK was lost on the way: retry it.
    if (wqe.wr.opcode === 'RDMA_READ') return 'error-retry';
    resetRetryCounters(core);
    return 'comp-wqe';
  }
  const diff = psnCompare(psn, core.compPsn);
  if (diff < 0) return psn === wqe.lastPsn ? 'comp-ack' : 'done';
  if (diff > 0 && wqe.wr.opcode === 'RDMA_READ') return 'done';
  return 'check-ack';
}

function checkAck(core: RcCore, pkt: RocePacket, wqe: SendWqe): Step {
  const opcode = pkt.bth.opcode;
  const info = opcodeInfo(opcode);
  if (info === undefined) return 'error';
  if (core.compOpcode === -1) {
    if (!info.start) return 'error';
  } else if (opcode !== RoceOpcode.RC_ACKNOWLEDGE) {
    // Inside a multi-packet READ response: MIDDLE or LAST, or a restart from FIRST / ONLY after a retry.
    const inSequence =
      opcode === RoceOpcode.RC_RDMA_READ_RESPONSE_MIDDLE || opcode === RoceOpcode.RC_RDMA_READ_RESPONSE_LAST;
    const restart =
      (pkt.bth.psn === wqe.firstPsn && opcode === RoceOpcode.RC_RDMA_READ_RESPONSE_FIRST) ||
      (wqe.firstPsn === wqe.lastPsn && opcode === RoceOpcode.RC_RDMA_READ_RESPONSE_ONLY);
    if (!inSequence && !restart) return 'error';
  }
  switch (opcode) {
    case RoceOpcode.RC_RDMA_READ_RESPONSE_FIRST:
    case RoceOpcode.RC_RDMA_READ_RESPONSE_LAST:
    case RoceOpcode.RC_RDMA_READ_RESPONSE_ONLY:
    case RoceOpcode.RC_RDMA_READ_RESPONSE_MIDDLE:
      // MIDDLE carries no AETH; the others must carry an ACK syndrome.
      if (opcode !== RoceOpcode.RC_RDMA_READ_RESPONSE_MIDDLE && pkt.aeth?.syndrome.kind !== 'ack') return 'error';
      if (wqe.wr.opcode !== 'RDMA_READ') {
        wqe.status = 'FATAL_ERR';
        return 'error';
      }
      resetRetryCounters(core);
      return 'read';
    case RoceOpcode.RC_ACKNOWLEDGE: {
      const syndrome = pkt.aeth?.syndrome;
      if (syndrome === undefined) return 'error';
      if (syndrome.kind === 'ack') {
        resetRetryCounters(core);
        return 'write-send';
      }
      if (syndrome.kind === 'rnr-nak') {
        core.counters.bump('rnrNaksReceived');
        return 'rnr-retry';
      }
      if (syndrome.code === NakCode.PsnSequenceError) {
        // A NAK acknowledges every PSN before the one it names.
        if (psnCompare(pkt.bth.psn, core.compPsn) > 0) {
          core.counters.bump('seqNaksReceived');
          core.compPsn = pkt.bth.psn;
        }
        core.note('nak-received', { code: 'psn-sequence-error', psn: pkt.bth.psn });
        return 'error-retry';
      }
      core.counters.bump('naksReceived');
      core.note('nak-received', { code: syndrome.code, psn: pkt.bth.psn });
      wqe.status =
        syndrome.code === NakCode.InvalidRequest
          ? 'REM_INV_REQ_ERR'
          : syndrome.code === NakCode.RemoteAccessError
            ? 'REM_ACCESS_ERR'
            : 'REM_OP_ERR';
      return 'error';
    }
    default:
      return 'error';
  }
}

function doRead(pkt: RocePacket, wqe: SendWqe): Step {
  const problem = wqe.dma.scatter(pkt.payload);
  if (problem !== undefined) {
    wqe.status = problem === 'protection' ? 'LOC_PROT_ERR' : 'LOC_LEN_ERR';
    return 'error';
  }
  return wqe.dma.resid === 0 && opcodeInfo(pkt.bth.opcode)?.end === true ? 'comp-ack' : 'update-comp';
}

function completeAck(core: RcCore, pkt: RocePacket, wqe: SendWqe): Step {
  if (wqe.hasRdAtomic) {
    wqe.hasRdAtomic = false;
    core.rdAtomic++;
  }
  core.completeSendHead();
  return psnCompare(pkt.bth.psn, core.compPsn) >= 0 ? 'update-comp' : 'done';
}

function completeWqe(core: RcCore, pkt: RocePacket | undefined, wqe: SendWqe): Step {
  if (pkt !== undefined && wqe.state === 'pending' && psnCompare(wqe.lastPsn, core.compPsn) >= 0) {
    core.compPsn = psnAdd(wqe.lastPsn, 1);
    core.compOpcode = -1;
  }
  core.completeSendHead();
  return 'get-wqe';
}

function updateComp(core: RcCore, pkt: RocePacket): Step {
  core.compOpcode = opcodeInfo(pkt.bth.opcode)?.end === true ? -1 : pkt.bth.opcode;
  if (psnCompare(pkt.bth.psn, core.compPsn) >= 0) core.compPsn = psnAdd(pkt.bth.psn, 1);
  return 'done';
}

function errorRetry(core: RcCore, wqe: SendWqe | undefined): Step {
  if (wqe === undefined || wqe.state === 'posted') return 'exit';
  // One go-back per episode; a timer expiry may start another. An RNR wait already holds the requester back.
  if (core.waitForRnrTimer || (core.startedRetry && !core.timeoutRetry)) return 'done';
  if (core.retryCnt > 0) {
    if (core.retryCnt !== INFINITE_RETRIES) core.retryCnt--;
    if (psnCompare(core.reqPsn, core.compPsn) > 0) {
      core.counters.bump('retries');
      core.note('retry', {
        from: core.compPsn,
        to: core.reqPsn,
        retriesLeft: core.retryCnt,
        cause: core.timeoutRetry ? 'timer' : 'nak',
      });
      core.needRetry = true;
      core.startedRetry = true;
    }
    return 'done';
  }
  core.counters.bump('retryExceeded');
  wqe.status = 'RETRY_EXC_ERR';
  return 'error';
}

function rnrRetry(core: RcCore, pkt: RocePacket, wqe: SendWqe): Step {
  if (core.rnrRetry > 0) {
    if (core.rnrRetry !== INFINITE_RETRIES) core.rnrRetry--;
    const code = pkt.aeth?.syndrome.kind === 'rnr-nak' ? pkt.aeth.syndrome.timer : 0;
    const waitMs = rnrTimerUsec(code) / 1000;
    core.waitForRnrTimer = true;
    core.note('rnr-wait', { psn: pkt.bth.psn, timer: code, waitMs, rnrRetriesLeft: core.rnrRetry });
    core.arm('rnr', waitMs);
    return 'exit';
  }
  core.counters.bump('rnrRetryExceeded');
  wqe.status = 'RNR_RETRY_EXC_ERR';
  return 'error';
}

/** When nothing more is to be done: keep the retransmit timer running while PSNs are unacknowledged. */
function exit(core: RcCore, wqe: SendWqe | undefined): Step | undefined {
  if (core.timeoutRetry && wqe !== undefined) return 'error-retry';
  const delay = retransmitDelayMs(core);
  if (core.state !== 'RTS' || delay === undefined) return undefined;
  if (psnCompare(core.reqPsn, core.compPsn) > 0) {
    core.retransmitArmed = true;
    core.arm('retransmit', delay);
  } else if (core.retransmitArmed) {
    // Nothing outstanding: rxe lets the timer expire idly; stopping it saves a pointless event.
    core.retransmitArmed = false;
    core.cancel('retransmit');
  }
  return undefined;
}

/**
 * Runs the completer on one response packet, or on none (after a timer expiry, or to notice a failed work
 * request at the head of the queue). Returns true when it handled a packet to the end ("done": run it again).
 */
export function runCompleter(core: RcCore, pkt: RocePacket | undefined): boolean {
  if (core.state === 'ERROR' || core.needRetry) return false;
  let wqe: SendWqe | undefined;
  let step: Step = 'get-wqe';
  for (let guard = 0; guard < 1_000_000; guard++) {
    switch (step) {
      case 'get-wqe':
        wqe = core.sq.at(0);
        if (wqe === undefined || wqe.state === 'posted') step = pkt === undefined ? 'exit' : 'done';
        else if (wqe.state === 'error') step = 'error';
        else step = pkt === undefined ? 'exit' : 'check-psn';
        break;
      case 'check-psn':
        step = wqe === undefined || pkt === undefined ? 'done' : checkPsn(core, pkt, wqe);
        break;
      case 'check-ack':
        step = wqe === undefined || pkt === undefined ? 'done' : checkAck(core, pkt, wqe);
        break;
      case 'read':
        step = wqe === undefined || pkt === undefined ? 'done' : doRead(pkt, wqe);
        break;
      case 'write-send':
        step =
          wqe?.state === 'pending' && pkt !== undefined && wqe.lastPsn === pkt.bth.psn ? 'comp-ack' : 'update-comp';
        break;
      case 'comp-ack':
        step = wqe === undefined || pkt === undefined ? 'done' : completeAck(core, pkt, wqe);
        break;
      case 'comp-wqe':
        step = wqe === undefined ? 'done' : completeWqe(core, pkt, wqe);
        break;
      case 'update-comp':
        step = pkt === undefined ? 'done' : updateComp(core, pkt);
        break;
      case 'error-retry':
        step = errorRetry(core, wqe);
        break;
      case 'rnr-retry':
        step = wqe === undefined || pkt === undefined ? 'done' : rnrRetry(core, pkt, wqe);
        break;
      case 'error':
        if (wqe !== undefined) {
          if (wqe.status === 'SUCCESS') wqe.status = 'GENERAL_ERR';
          const status = wqe.status;
          core.completeSendHead();
          core.enterError(status);
        }
        return false;
      case 'exit': {
        const next = exit(core, wqe);
        if (next === undefined) return false;
        step = next;
        break;
      }
      case 'done':
        return pkt !== undefined;
    }
  }
  return false;
}
