/**
 * The RC requester (rxe `rxe_req.c`): turns send work requests into request packets.
 *
 * - segmentation by path MTU: FIRST / MIDDLE / LAST or ONLY, payload exactly one MTU except in LAST and ONLY;
 * - PSNs in order; an RDMA READ request takes one PSN per response packet, `max(1, ceil(len / mtu))`;
 * - AckReq on the last packet of every message and on about every 65th packet of a long one;
 * - at most 128 PSNs beyond the oldest unacknowledged one (`RXE_MAX_UNACKED_PSNS`);
 * - at most `max_rd_atomic` READs outstanding, a credit held until the READ completes;
 * - go-back-N (`req_retry`): resend from the oldest unacknowledged PSN, resuming a partly acknowledged SEND or
 *   WRITE in the middle and asking a partly answered READ only for what is missing;
 * - the retransmit timer is armed when a packet goes out and none is pending.
 * Not modelled: fences, inline data, rxe's per-QP limit of 64 packets queued in the kernel (nothing queues here).
 */
import { Access } from '../../../transports/verbs.js';
import { DEFAULT_PKEY } from '../bth.js';
import { RoceOpcode, opcodeInfo } from '../opcodes.js';
import { padFor, type RocePacket } from '../packet.js';
import { psnAdd, psnCompare, psnDiff } from '../psn.js';
import { localAckTimeoutUsec } from '../timers.js';
import type { RcCore, SendWqe } from './state.js';

/** Most PSNs a requester sends beyond the oldest unacknowledged one. */
export const MAX_UNACKED_PSNS = 128;

/** A long message asks for an ACK after this many packets without one (`RXE_MAX_PKT_PER_ACK`). */
export const MAX_PKT_PER_ACK = 64;

/** The local ACK timeout of `core` in ms, or undefined when the timer is off (exponent 0). */
export function retransmitDelayMs(core: RcCore): number | undefined {
  const usec = localAckTimeoutUsec(core.attr.timeout);
  return Number.isFinite(usec) ? usec / 1000 : undefined;
}

const { RC_SEND_FIRST, RC_SEND_MIDDLE, RC_RDMA_WRITE_FIRST, RC_RDMA_WRITE_MIDDLE } = RoceOpcode;

/** The opcode of the next packet of `wqe`, given the opcode of the packet sent before it (rxe `next_opcode_rc`). */
export function nextOpcode(wqe: SendWqe, previous: number, mtu: number): number {
  const fits = wqe.dma.resid <= mtu;
  switch (wqe.wr.opcode) {
    case 'SEND':
      if (previous === RC_SEND_FIRST || previous === RC_SEND_MIDDLE) {
        return fits ? RoceOpcode.RC_SEND_LAST : RoceOpcode.RC_SEND_MIDDLE;
      }
      return fits ? RoceOpcode.RC_SEND_ONLY : RoceOpcode.RC_SEND_FIRST;
    case 'SEND_WITH_INV':
      if (previous === RC_SEND_FIRST || previous === RC_SEND_MIDDLE) {
        return fits ? RoceOpcode.RC_SEND_LAST_WITH_INVALIDATE : RoceOpcode.RC_SEND_MIDDLE;
      }
      return fits ? RoceOpcode.RC_SEND_ONLY_WITH_INVALIDATE : RoceOpcode.RC_SEND_FIRST;
    case 'RDMA_WRITE':
      if (previous === RC_RDMA_WRITE_FIRST || previous === RC_RDMA_WRITE_MIDDLE) {
        return fits ? RoceOpcode.RC_RDMA_WRITE_LAST : RoceOpcode.RC_RDMA_WRITE_MIDDLE;
      }
      return fits ? RoceOpcode.RC_RDMA_WRITE_ONLY : RoceOpcode.RC_RDMA_WRITE_FIRST;
    case 'RDMA_READ':
      return RoceOpcode.RC_RDMA_READ_REQUEST;
  }
}

/** Sends what the window, the READ credits and the QP state allow. */
export function runRequester(core: RcCore): void {
  const mtu = core.attr.mtu;
  for (;;) {
    if (core.state !== 'RTS' || core.waitForRnrTimer) return;
    if (core.needRetry) {
      retry(core);
      core.needRetry = false;
    }
    const wqe = core.sq.at(core.reqIndex);
    if (wqe === undefined || wqe.state === 'error') return;
    if (psnCompare(core.reqPsn, psnAdd(core.compPsn, MAX_UNACKED_PSNS)) > 0) return;
    const opcode = nextOpcode(wqe, core.reqOpcode, mtu);
    const info = opcodeInfo(opcode);
    if (info === undefined) return;
    const isRead = wqe.wr.opcode === 'RDMA_READ';
    if (isRead && !takeReadCredit(core, wqe)) return;
    if (isRead && info.start && wqe.wr.sgl.some((sge) => !sge.mr.valid || (sge.mr.access & Access.LOCAL_WRITE) === 0)) {
      failWqe(wqe);
      return;
    }
    const payloadLength = isRead ? 0 : Math.min(wqe.dma.resid, mtu);
    const remainingBefore = wqe.dma.resid;
    const payload = isRead ? Buffer.alloc(0) : wqe.dma.gather(payloadLength);
    if (typeof payload === 'string') {
      failWqe(wqe);
      return;
    }
    const ackReq = info.end || core.noackPkts++ > MAX_PKT_PER_ACK;
    if (ackReq) core.noackPkts = 0;
    const packet: {
      -readonly [K in keyof RocePacket]: RocePacket[K];
    } = {
      bth: {
        opcode,
        solicited: info.end && 'solicited' in wqe.wr && wqe.wr.solicited === true,
        migReq: false,
        padCount: padFor(payloadLength),
        tver: 0,
        pkey: DEFAULT_PKEY,
        fecn: false,
        becn: false,
        destQp: core.attr.destQpn,
        ackReq,
        psn: core.reqPsn,
      },
      payload,
    };
    if (info.headers.includes('RETH') && (wqe.wr.opcode === 'RDMA_WRITE' || wqe.wr.opcode === 'RDMA_READ')) {
      packet.reth = { va: wqe.iova, rkey: wqe.wr.rkey, length: remainingBefore };
    }
    if (info.headers.includes('IETH') && wqe.wr.opcode === 'SEND_WITH_INV') packet.ieth = wqe.wr.invalidateRkey;

    wqe.state = info.end ? 'pending' : 'processing';
    const packets = Math.max(1, Math.ceil(remainingBefore / mtu));
    if (info.start) {
      wqe.firstPsn = core.reqPsn;
      wqe.lastPsn = psnAdd(core.reqPsn, packets - 1);
    }
    const psn = core.reqPsn;
    core.reqPsn = isRead ? psnAdd(wqe.firstPsn, packets) : psnAdd(core.reqPsn, 1);
    if (psnCompare(psn, core.sentPsnEnd) < 0) core.counters.bump('retransmittedPackets');
    if (psnCompare(core.reqPsn, core.sentPsnEnd) > 0) core.sentPsnEnd = core.reqPsn;
    core.transmit(packet);
    core.reqOpcode = opcode;
    if (info.end) {
      core.reqIndex++;
      core.reqOpcode = -1;
    }
    armIfIdle(core);
  }
}

/** Arms the retransmit timer when it is not pending (rxe `update_state`). */
function armIfIdle(core: RcCore): void {
  const delay = retransmitDelayMs(core);
  if (delay === undefined || core.retransmitArmed) return;
  core.retransmitArmed = true;
  core.arm('retransmit', delay);
}

/** rxe `check_init_depth`: a READ takes a credit once and keeps it until it completes. */
function takeReadCredit(core: RcCore, wqe: SendWqe): boolean {
  if (wqe.hasRdAtomic) return true;
  if (core.rdAtomic <= 0) return false;
  core.rdAtomic--;
  wqe.hasRdAtomic = true;
  return true;
}

/** A local protection error: the work request fails when it reaches the head of the queue (the completer). */
function failWqe(wqe: SendWqe): void {
  wqe.state = 'error';
  wqe.status = 'LOC_PROT_ERR';
}

/** rxe `req_retry`: go back to the oldest unacknowledged PSN. */
function retry(core: RcCore): void {
  const mtu = core.attr.mtu;
  core.reqIndex = 0;
  core.reqPsn = core.compPsn;
  core.reqOpcode = -1;
  core.noackPkts = 0;
  let first = true;
  for (let i = 0; ; i++) {
    const wqe = core.sq.at(i);
    if (wqe === undefined || wqe.state === 'posted' || wqe.state === 'error') break;
    const wr = wqe.wr;
    const isRead = wr.opcode === 'RDMA_READ';
    wqe.iova = wr.opcode === 'RDMA_WRITE' || wr.opcode === 'RDMA_READ' ? wr.remoteAddr : 0n;
    if (!first || !isRead) wqe.dma.reset();
    if (first) {
      first = false;
      if (!isRead) {
        // Packets of this message the responder has acknowledged: resume after them.
        const total = Math.max(1, Math.ceil(wqe.dma.length / mtu));
        const acked = Math.min(Math.max(0, psnDiff(core.compPsn, wqe.firstPsn)), total - 1);
        for (let n = 0; n < acked; n++) {
          const step = Math.min(wqe.dma.resid, mtu);
          core.reqOpcode = nextOpcode(wqe, core.reqOpcode, mtu);
          wqe.dma.advance(step);
        }
      } else {
        // Ask only for the bytes no response has brought yet.
        const landed = Math.floor((wqe.dma.length - wqe.dma.resid) / mtu);
        wqe.iova += BigInt(landed * mtu);
      }
    }
    wqe.state = 'posted';
  }
}
