/**
 * The RC responder (rxe `rxe_resp.c`): executes request packets and answers them.
 *
 * - PSN: a packet ahead of the expected PSN gets one NAK PSN sequence error per gap (carrying the expected PSN)
 *   and is dropped; a packet behind it is a duplicate: a SEND or WRITE is re-ACKed with the last PSN executed
 *   (C9-105), a READ is replayed from the responder resource that covers it;
 * - opcode sequence: a MIDDLE or LAST without a FIRST, or a new message inside an unfinished one, is an
 *   invalid request (class C);
 * - lengths: FIRST and MIDDLE carry exactly one MTU, LAST 1..MTU, ONLY at most one MTU;
 * - rkey, range and access checks on every WRITE and READ packet: a violation NAKs remote access error;
 * - a SEND with no posted receive gets an RNR NAK carrying our `min_rnr_timer`;
 * - MSN counts completed messages (a READ when it executes, C9-148), and rides in every AETH;
 * - a SEND that does not fit its receive (or lands in an invalid region) fails that receive LOC_QP_OP_ERR and
 *   NAKs remote operational error (rxe's `copy_data` returns -EINVAL: a malformed WQE, class A);
 * - ACKs only for packets with AckReq; NAKs always. Class A and C errors move the QP to ERROR after the NAK.
 */
import { AETH_CREDITS_UNLIMITED, NakCode, type AethSyndrome } from '../aeth.js';
import { DEFAULT_PKEY } from '../bth.js';
import { RoceOpcode, opcodeInfo, payloadLengthProblem, type OpcodeInfo } from '../opcodes.js';
import type { RocePacket } from '../packet.js';
import { padFor } from '../packet.js';
import { psnAdd, psnCompare } from '../psn.js';
import { Access, type WcStatus } from '../../../transports/verbs.js';
import type { SoftRoceMemoryRegion } from './memory-region.js';
import type { RcCore, ReadResource } from './state.js';

const ACK: AethSyndrome = { kind: 'ack', credits: AETH_CREDITS_UNLIMITED };

/** A class C (or A) error: NAK with `code`, complete the receive in use with `status`, then ERROR. */
interface ClassCError {
  readonly nak: number;
  readonly status: WcStatus;
  readonly why: string;
}

function classC(code: number, why: string): ClassCError {
  const status: WcStatus =
    code === NakCode.RemoteAccessError
      ? 'REM_ACCESS_ERR'
      : code === NakCode.InvalidRequest
        ? 'REM_INV_REQ_ERR'
        : 'REM_OP_ERR';
  return { nak: code, status, why };
}

function sendAck(core: RcCore, syndrome: AethSyndrome, psn: number): void {
  core.transmit({
    bth: {
      opcode: RoceOpcode.RC_ACKNOWLEDGE,
      solicited: false,
      migReq: false,
      padCount: 0,
      tver: 0,
      pkey: DEFAULT_PKEY,
      fecn: false,
      becn: false,
      destQp: core.attr.destQpn,
      ackReq: false,
      psn,
    },
    aeth: { syndrome, msn: core.msn & 0xffffff },
    payload: Buffer.alloc(0),
  });
}

/** rxe `check_op_seq` for RC: undefined when the opcode may follow the previous one. */
function opcodeSequenceProblem(previous: number, info: OpcodeInfo): string | undefined {
  const op = info.code;
  const sendContinuation =
    op === RoceOpcode.RC_SEND_MIDDLE ||
    op === RoceOpcode.RC_SEND_LAST ||
    op === RoceOpcode.RC_SEND_LAST_WITH_IMMEDIATE ||
    op === RoceOpcode.RC_SEND_LAST_WITH_INVALIDATE;
  const writeContinuation =
    op === RoceOpcode.RC_RDMA_WRITE_MIDDLE ||
    op === RoceOpcode.RC_RDMA_WRITE_LAST ||
    op === RoceOpcode.RC_RDMA_WRITE_LAST_WITH_IMMEDIATE;
  if (previous === RoceOpcode.RC_SEND_FIRST || previous === RoceOpcode.RC_SEND_MIDDLE) {
    return sendContinuation ? undefined : 'missing SEND LAST';
  }
  if (previous === RoceOpcode.RC_RDMA_WRITE_FIRST || previous === RoceOpcode.RC_RDMA_WRITE_MIDDLE) {
    return writeContinuation ? undefined : 'missing RDMA WRITE LAST';
  }
  return sendContinuation || writeContinuation ? 'missing FIRST' : undefined;
}

/** Handles one request packet (the edge has checked the transport, QPN and addresses). */
export function respond(core: RcCore, pkt: RocePacket): void {
  if (core.state === 'ERROR') return;
  const info = opcodeInfo(pkt.bth.opcode);
  if (info === undefined || info.transport !== 'RC' || !info.isRequest) return;
  const psn = pkt.bth.psn;
  const diff = psnCompare(psn, core.respPsn);
  if (diff > 0) {
    if (core.sentPsnNak) return;
    core.sentPsnNak = true;
    core.counters.bump('seqNaksSent');
    core.note('nak-sent', { code: 'psn-sequence-error', psn: core.respPsn, got: psn });
    sendAck(core, { kind: 'nak', code: NakCode.PsnSequenceError }, core.respPsn);
    return;
  }
  if (diff < 0) {
    core.counters.bump('duplicateRequests');
    duplicate(core, pkt, info);
    return;
  }
  core.sentPsnNak = false;

  const problem = checkRequest(core, pkt, info);
  if (problem === 'rnr') {
    core.counters.bump('rnrNaksSent');
    core.note('rnr-nak-sent', { psn, timer: core.attr.minRnrTimer });
    sendAck(core, { kind: 'rnr-nak', timer: core.attr.minRnrTimer }, psn);
    return;
  }
  if (problem !== undefined) {
    failRequest(core, pkt, problem);
    return;
  }
  execute(core, pkt, info);
}

/** rxe `check_op_seq` … `check_rkey`: the problem with a new request, 'rnr', or undefined. */
function checkRequest(core: RcCore, pkt: RocePacket, info: OpcodeInfo): ClassCError | 'rnr' | undefined {
  const seq = opcodeSequenceProblem(core.respOpcode, info);
  if (seq !== undefined) return classC(NakCode.InvalidRequest, seq);
  const isRead = info.kind === 'read-request';
  if (info.kind === 'atomic' || info.kind === 'atomic-write' || info.kind === 'flush') {
    return classC(NakCode.InvalidRequest, `${info.name} is not supported`);
  }
  if (isRead && core.attr.maxDestRdAtomic === 0)
    return classC(NakCode.InvalidRequest, 'no responder resources for READ');
  if (info.consumesRecvWqe) {
    const recv = core.rq.at(0);
    if (recv === undefined) return 'rnr';
  }
  const lengthProblem = payloadLengthProblem(info, pkt.payload.length, core.attr.mtu);
  if (lengthProblem !== undefined) return classC(NakCode.InvalidRequest, lengthProblem);
  if (pkt.reth !== undefined && pkt.reth.length > 2 ** 31)
    return classC(NakCode.InvalidRequest, 'DMA length above 2^31');
  if (info.kind === 'write' || isRead) return checkRkey(core, pkt, info);
  return undefined;
}

/** rxe `check_rkey`: the region, the range and the access right; a WRITE's packet sizes against what is left. */
function checkRkey(core: RcCore, pkt: RocePacket, info: OpcodeInfo): ClassCError | undefined {
  const w = core.write;
  if (pkt.reth !== undefined) {
    w.va = pkt.reth.va;
    w.rkey = pkt.reth.rkey;
    w.resid = pkt.reth.length;
    w.mr = undefined;
    // A zero-length operation is not required to name a valid region.
    if (pkt.reth.length === 0) return undefined;
  }
  const isRead = info.kind === 'read-request';
  const mr = core.memory.lookup(w.rkey, isRead ? Access.REMOTE_READ : Access.REMOTE_WRITE);
  if (mr === undefined)
    return classC(NakCode.RemoteAccessError, `no region with rkey 0x${w.rkey.toString(16)} allows it`);
  if (!mr.covers(w.va, w.resid)) return classC(NakCode.RemoteAccessError, 'outside the region');
  if (!isRead) {
    const length = pkt.payload.length;
    const mtu = core.attr.mtu;
    if (
      w.resid > mtu
        ? length !== mtu || pkt.bth.padCount !== 0
        : length !== w.resid || pkt.bth.padCount !== padFor(w.resid)
    ) {
      return classC(NakCode.InvalidRequest, 'WRITE packet length disagrees with the DMA length');
    }
  }
  w.mr = mr;
  return undefined;
}

/** A class C error: the receive in use (if any) completes with the error, NAK, then the QP goes to ERROR. */
function failRequest(core: RcCore, pkt: RocePacket, error: ClassCError): void {
  core.counters.bump('naksSent');
  core.note('nak-sent', { code: error.nak, psn: pkt.bth.psn, why: error.why });
  const recv = core.respWqe ?? (opcodeInfo(pkt.bth.opcode)?.consumesRecvWqe === true ? core.rq.shift() : undefined);
  core.respWqe = undefined;
  if (recv !== undefined) core.completeRecv(recv, error.status, 0);
  sendAck(core, { kind: 'nak', code: error.nak }, pkt.bth.psn);
  core.enterError(error.status);
}

function execute(core: RcCore, pkt: RocePacket, info: OpcodeInfo): void {
  if (info.kind === 'read-request') {
    core.msn++;
    readReply(core, newReadResource(core, pkt), pkt);
    return;
  }
  let status: WcStatus = 'SUCCESS';
  if (info.kind === 'send') {
    if (info.consumesRecvWqe) core.respWqe = core.rq.shift();
    const recv = core.respWqe;
    if (recv === undefined) return; // checked above
    const problem = recv.dma.scatter(pkt.payload);
    if (problem !== undefined) {
      // rxe's copy_data fails with -EINVAL either way: a malformed receive (class A), NAK remote operational error.
      failRequest(core, pkt, {
        nak: NakCode.RemoteOperationalError,
        status: 'LOC_QP_OP_ERR',
        why: problem === 'length' ? 'the receive is too small' : 'the receive names an invalid region',
      });
      return;
    }
  } else {
    const w = core.write;
    if (pkt.payload.length > 0 && w.mr !== undefined) {
      pkt.payload.copy(w.mr.buffer, Number(w.va - w.mr.addr));
      w.va += BigInt(pkt.payload.length);
      w.resid -= pkt.payload.length;
    }
  }
  let invalidated: number | undefined;
  if (pkt.ieth !== undefined) {
    if (core.memory.invalidate(pkt.ieth)) invalidated = pkt.ieth;
    else status = 'REM_INV_REQ_ERR'; // IBA class J: the data landed, the receive fails, the QP errs
  }
  if (info.end) core.msn++;
  core.respPsn = psnAdd(pkt.bth.psn, 1);
  core.ackPsn = core.respPsn;
  core.respOpcode = pkt.bth.opcode;
  if (info.end && info.kind === 'send' && core.respWqe !== undefined) {
    const recv = core.respWqe;
    core.respWqe = undefined;
    core.completeRecv(recv, status, recv.dma.length - recv.dma.resid, invalidated);
  }
  if (pkt.bth.ackReq) sendAck(core, ACK, pkt.bth.psn);
  if (status !== 'SUCCESS') {
    core.note('invalidate-failed', { rkey: pkt.ieth ?? 0 });
    core.enterError(status);
  }
}

function newReadResource(core: RcCore, pkt: RocePacket): ReadResource {
  const length = pkt.reth?.length ?? 0;
  const packets = Math.max(1, Math.ceil(length / core.attr.mtu));
  const res: ReadResource = {
    firstPsn: pkt.bth.psn,
    lastPsn: psnAdd(pkt.bth.psn, packets - 1),
    curPsn: pkt.bth.psn,
    vaOrg: pkt.reth?.va ?? 0n,
    va: pkt.reth?.va ?? 0n,
    resid: length,
    length,
    rkey: pkt.reth?.rkey ?? 0,
    fresh: true,
    replay: false,
  };
  core.resources[core.resHead] = res;
  core.resHead = (core.resHead + 1) % core.resources.length;
  return res;
}

/** rxe `read_reply`: every response packet of a (re)played READ, in order. */
function readReply(core: RcCore, res: ReadResource, request: RocePacket): void {
  const mtu = core.attr.mtu;
  for (;;) {
    let mr: SoftRoceMemoryRegion | undefined;
    if (res.length > 0) {
      mr = core.memory.lookup(res.rkey, Access.REMOTE_READ);
      if (mr === undefined || !mr.covers(res.va, res.resid)) {
        failRequest(core, request, classC(NakCode.RemoteAccessError, 'the region went away during the READ'));
        return;
      }
    }
    const opcode = res.fresh
      ? res.resid <= mtu
        ? RoceOpcode.RC_RDMA_READ_RESPONSE_ONLY
        : RoceOpcode.RC_RDMA_READ_RESPONSE_FIRST
      : res.resid > mtu
        ? RoceOpcode.RC_RDMA_READ_RESPONSE_MIDDLE
        : RoceOpcode.RC_RDMA_READ_RESPONSE_LAST;
    res.fresh = false;
    const size = Math.min(res.resid, mtu);
    // A copy: the packet must not change if the region does before it is encoded.
    const payload = Buffer.alloc(size);
    if (mr !== undefined && size > 0) {
      const start = Number(res.va - mr.addr);
      mr.buffer.copy(payload, 0, start, start + size);
    }
    const hasAeth = opcode !== RoceOpcode.RC_RDMA_READ_RESPONSE_MIDDLE;
    core.transmit({
      bth: {
        opcode,
        solicited: false,
        migReq: false,
        padCount: padFor(size),
        tver: 0,
        pkey: DEFAULT_PKEY,
        fecn: false,
        becn: false,
        destQp: core.attr.destQpn,
        ackReq: false,
        psn: res.curPsn,
      },
      ...(hasAeth ? { aeth: { syndrome: ACK, msn: core.msn & 0xffffff } } : {}),
      payload,
    });
    res.va += BigInt(size);
    res.resid -= size;
    res.curPsn = psnAdd(res.curPsn, 1);
    if (res.resid <= 0) break;
  }
  if (!res.replay) core.respOpcode = -1;
  if (psnCompare(res.curPsn, core.respPsn) >= 0) core.respPsn = res.curPsn;
}

/** rxe `duplicate_request`. */
function duplicate(core: RcCore, pkt: RocePacket, info: OpcodeInfo): void {
  if (info.kind === 'send' || info.kind === 'write') {
    core.note('duplicate', { psn: pkt.bth.psn, reack: psnAdd(core.ackPsn, -1) });
    sendAck(core, ACK, psnAdd(core.ackPsn, -1));
    return;
  }
  if (info.kind !== 'read-request' || pkt.reth === undefined) return;
  const res = core.resources.find(
    (r) => r !== undefined && psnCompare(pkt.bth.psn, r.firstPsn) >= 0 && psnCompare(pkt.bth.psn, r.lastPsn) <= 0,
  );
  // Class D: no resource, or not a subset of the original request: drop it.
  if (res === undefined) return;
  const { va, length, rkey } = pkt.reth;
  if (
    va < res.vaOrg ||
    length > res.length ||
    va + BigInt(length) > res.vaOrg + BigInt(res.length) ||
    rkey !== res.rkey
  ) {
    return;
  }
  core.note('read-replay', { psn: pkt.bth.psn, first: res.firstPsn, length });
  res.curPsn = pkt.bth.psn;
  res.fresh = pkt.bth.psn === res.firstPsn;
  res.replay = true;
  res.vaOrg = va;
  res.va = va;
  res.resid = length;
  readReply(core, res, pkt);
}
