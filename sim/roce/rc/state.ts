/**
 * The state one RC queue pair's requester, completer and responder share (rxe's `struct rxe_qp` with its
 * `req`, `comp` and `resp` parts), and the moves every part makes: emit an action, complete, enter ERROR.
 */
import type { RecvWorkRequest, SendWorkRequest, WcOpcode, WcStatus } from '../../../transports/verbs.js';
import type { RocePacket } from '../packet.js';
import type { RcAction, RcTimer } from './actions.js';
import type { RcQpAttributes } from './attributes.js';
import type { CounterFanout } from './counters.js';
import { Fifo } from './fifo.js';
import type { RdmaMemory, SoftRoceMemoryRegion } from './memory-region.js';
import type { SgeCursor } from './sge-cursor.js';

/** rxe and the IB spec treat a retry count of 7 as "forever" (for transport retries it is an rxe quirk). */
export const INFINITE_RETRIES = 7;

/** Where a send work request stands (rxe `enum wqe_state`). */
export type SendWqeState = 'posted' | 'processing' | 'pending' | 'error';

/** A send work request in the send queue. */
export interface SendWqe {
  readonly wr: SendWorkRequest;
  readonly signaled: boolean;
  /** Where the next packet's payload comes from (READ: where the next response lands). */
  readonly dma: SgeCursor;
  state: SendWqeState;
  /** PSNs of the message's first and last packet (a READ request covers one PSN per response packet). */
  firstPsn: number;
  lastPsn: number;
  /** Remote address of the next byte (RDMA WRITE / READ). */
  iova: bigint;
  /** Holds one of the requester's READ credits. */
  hasRdAtomic: boolean;
  /** The status it completes with. */
  status: WcStatus;
}

/** A receive work request in the receive queue. */
export interface RecvWqe {
  readonly wr: RecvWorkRequest;
  readonly dma: SgeCursor;
}

/** A responder resource: what an RDMA READ asked for, kept to answer it and to replay it (rxe `resp_res`). */
export interface ReadResource {
  readonly firstPsn: number;
  readonly lastPsn: number;
  /** PSN of the next response packet. */
  curPsn: number;
  /** Start and current position of the requested range (a replay may ask for a tail of it). */
  vaOrg: bigint;
  va: bigint;
  resid: number;
  /** Length of the original request. */
  readonly length: number;
  readonly rkey: number;
  /** The next response is the first of this (re)play: FIRST or ONLY, else MIDDLE or LAST. */
  fresh: boolean;
  /** A duplicate request is being answered. */
  replay: boolean;
}

/** The WC opcode of a send work request. */
export function wcOpcodeOf(wr: SendWorkRequest): WcOpcode {
  return wr.opcode === 'SEND_WITH_INV' ? 'SEND' : wr.opcode;
}

/** The mutable state of one RC queue pair. */
export class RcCore {
  readonly attr: RcQpAttributes;
  readonly memory: RdmaMemory;
  readonly counters: CounterFanout;
  /** Actions produced since the edge last took them. */
  out: RcAction[] = [];
  state: 'RTR' | 'RTS' | 'ERROR' = 'RTR';

  // Requester and completer.
  readonly sq = new Fifo<SendWqe>();
  /** Index (from the send queue's head) of the work request the requester sends next. */
  reqIndex = 0;
  reqPsn: number;
  /** Opcode of the last request packet sent, -1 between messages. */
  reqOpcode = -1;
  noackPkts = 0;
  /** PSN after the highest one ever sent: anything before it is a retransmission. */
  sentPsnEnd: number;
  compPsn: number;
  compOpcode = -1;
  /** READ credits left (`max_rd_atomic` minus READs outstanding). */
  rdAtomic: number;
  needRetry = false;
  waitForRnrTimer = false;
  startedRetry = false;
  timeoutRetry = false;
  retryCnt: number;
  rnrRetry: number;
  retransmitArmed = false;

  // Responder.
  readonly rq = new Fifo<RecvWqe>();
  respPsn: number;
  ackPsn: number;
  msn = 0;
  respOpcode = -1;
  sentPsnNak = false;
  /** The receive a multi-packet SEND is landing in. */
  respWqe: RecvWqe | undefined;
  /** The RDMA WRITE in progress: where its next packet lands. */
  write: { va: bigint; rkey: number; resid: number; mr: SoftRoceMemoryRegion | undefined } = {
    va: 0n,
    rkey: 0,
    resid: 0,
    mr: undefined,
  };
  readonly resources: (ReadResource | undefined)[];
  resHead = 0;

  /** A queue pair in RTR with `attr`, answering from `memory`. */
  constructor(attr: RcQpAttributes, memory: RdmaMemory, counters: CounterFanout) {
    this.attr = attr;
    this.memory = memory;
    this.counters = counters;
    this.reqPsn = attr.sqPsn;
    this.sentPsnEnd = attr.sqPsn;
    this.compPsn = attr.sqPsn;
    this.rdAtomic = attr.maxRdAtomic;
    this.retryCnt = attr.retryCount;
    this.rnrRetry = attr.rnrRetry;
    this.respPsn = attr.rqPsn;
    this.ackPsn = attr.rqPsn;
    this.resources = new Array<ReadResource | undefined>(attr.maxDestRdAtomic).fill(undefined);
  }

  /** Takes the actions produced so far. */
  take(): RcAction[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  /** Puts a packet on the wire. */
  transmit(packet: RocePacket): void {
    this.out.push({ type: 'transmit', packet });
  }

  /** Arms (or pushes back) a timer. */
  arm(timer: RcTimer, delayMs: number): void {
    this.out.push({ type: 'arm-timer', timer, delayMs });
  }

  /** Cancels a timer. */
  cancel(timer: RcTimer): void {
    this.out.push({ type: 'cancel-timer', timer });
  }

  /** Records a notable event. */
  note(event: string, fields: Readonly<Record<string, number | string>> = {}): void {
    this.out.push({ type: 'note', event, fields });
  }

  /** Completes the head of the send queue (always when it failed, else only when signaled). */
  completeSendHead(): void {
    const wqe = this.sq.shift();
    if (wqe === undefined) return;
    this.reqIndex = Math.max(0, this.reqIndex - 1);
    if (wqe.signaled || wqe.status !== 'SUCCESS') {
      const byteLen = wqe.status === 'SUCCESS' ? wqe.dma.length : 0;
      this.out.push({
        type: 'complete',
        wc: { wrId: wqe.wr.wrId, status: wqe.status, opcode: wcOpcodeOf(wqe.wr), byteLen },
      });
    }
  }

  /** Completes a receive. */
  completeRecv(wqe: RecvWqe, status: WcStatus, byteLen: number, invalidatedRkey?: number): void {
    const base = { wrId: wqe.wr.wrId, status, opcode: 'RECV' as const, byteLen };
    this.out.push({ type: 'complete', wc: invalidatedRkey === undefined ? base : { ...base, invalidatedRkey } });
  }

  /** Moves the QP to ERROR (once): timers stop, and every outstanding work request is flushed. */
  enterError(status: WcStatus): void {
    if (this.state === 'ERROR') return;
    this.state = 'ERROR';
    this.cancel('retransmit');
    this.cancel('rnr');
    this.retransmitArmed = false;
    this.out.push({ type: 'qp-error', status });
    this.flush();
  }

  /** Completes every outstanding work request with WR_FLUSH_ERR: the send queue first, then the receives. */
  flush(): void {
    for (let wqe = this.sq.at(0); wqe !== undefined; wqe = this.sq.at(0)) {
      wqe.status = 'WR_FLUSH_ERR';
      this.completeSendHead();
    }
    this.reqIndex = 0;
    if (this.respWqe !== undefined) {
      this.completeRecv(this.respWqe, 'WR_FLUSH_ERR', 0);
      this.respWqe = undefined;
    }
    for (let wqe = this.rq.shift(); wqe !== undefined; wqe = this.rq.shift()) this.completeRecv(wqe, 'WR_FLUSH_ERR', 0);
  }
}
