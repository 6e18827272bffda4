/**
 * One side of a fabric connection: an RC queue pair with its send and receive queues, its CQ (the `completions`
 * stream) and its protection domain, implementing {@link RdmaConnection}.
 *
 * The model is rxe's at message granularity (shared/reference/roce-rxe.md §3.4–3.6):
 * - the requester sends work requests in order, each with a message sequence number (a PSN per message), keeps
 *   at most `readDepth` RDMA READs outstanding, and completes work requests in order as responses arrive;
 * - the responder executes only the next expected message: later ones are dropped (the requester goes back to
 *   them), earlier ones are duplicates (re-ACKed; a READ is replayed);
 * - a SEND with no posted receive gets an RNR NAK: the requester waits the RNR timer and goes back N, up to
 *   `rnrRetryCount` times (7: forever), then completes with RNR_RETRY_EXC_ERR;
 * - no response within the local ACK timeout: go back N, up to `retryCount` times, then RETRY_EXC_ERR;
 * - rkey, bounds and access violations NAK with REM_ACCESS_ERR and move both QPs to ERROR; a receive too small
 *   completes LOC_LEN_ERR at the receiver and REM_INV_REQ_ERR at the sender;
 * - in ERROR every outstanding and later work request completes with WR_FLUSH_ERR.
 * Nothing is ever emitted synchronously from a consumer's call: posts and disconnects act in a scheduled action.
 */
import { Subject } from 'rxjs';
import type { Observable, Subscription } from 'rxjs';
import { Access, VerbsError } from '../../transports/verbs.js';
import type {
  ConnectionEvent,
  QpCapabilities,
  QpState,
  RdmaAddress,
  RdmaConnection,
  RecvWorkRequest,
  SendWorkRequest,
  Sge,
  WcOpcode,
  WcStatus,
  WorkCompletion,
} from '../../transports/verbs.js';
import type { ConnectionRecord, ConnectionSide, Side, TeardownReason } from './connection.js';
import type { FabricContext } from './context.js';
import { copySegments, segmentsOf } from './copy.js';
import type { Segment } from './copy.js';
import type { CountedOpcode, VerbsCounters } from './counters.js';
import { isRemoteStatus } from './fault-engine.js';
import type { HostState } from './host.js';
import { SimMemoryRegion, SimProtectionDomain } from './memory-region.js';
import type { RecvWqe, RequestMessage, ResponseMessage, SendWqe } from './messages.js';
import type { TraceFieldValue } from './trace.js';
import type { FabricTraceKind } from './trace.js';

/** rxe and the IB spec treat a retry count of 7 as "retry forever" (for RNR: per the spec; for timeouts: rxe). */
const INFINITE_RETRIES = 7;

/** The negotiated parameters of one side. */
export interface QpSettings {
  readonly caps: QpCapabilities;
  /** RDMA READs this side may have outstanding as requester (min of its initiator depth and the peer's resources). */
  readonly readDepth: number;
  /** Retransmissions after a local ACK timeout before RETRY_EXC_ERR. */
  readonly retryCount: number;
  /** Retries after RNR NAKs before RNR_RETRY_EXC_ERR. */
  readonly rnrRetryCount: number;
}

/** Everything a queue pair is created with. */
export interface QueuePairInit {
  readonly ctx: FabricContext;
  readonly record: ConnectionRecord;
  readonly side: Side;
  readonly host: HostState;
  readonly local: RdmaAddress;
  readonly remote: RdmaAddress;
  readonly peerPrivateData: Buffer;
  readonly settings: QpSettings;
  /** RTR for the passive side until the RTU arrives; RTS for the active side. */
  readonly state: 'RTR' | 'RTS';
}

function wcOpcodeOf(wr: SendWorkRequest): WcOpcode {
  return wr.opcode === 'SEND_WITH_INV' ? 'SEND' : wr.opcode;
}

function isUint32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** A queue pair of the fabric: one side of one RC connection. */
export class SimQueuePair implements RdmaConnection, ConnectionSide {
  readonly local: RdmaAddress;
  readonly remote: RdmaAddress;
  readonly peerPrivateData: Buffer;
  readonly pd: SimProtectionDomain;
  readonly completions: Observable<WorkCompletion>;
  readonly events: Observable<ConnectionEvent>;
  /** The connection's id on the fabric (`c1`, …), as trace events name it. */
  readonly connectionId: string;
  /** The host this side runs on. */
  readonly hostName: string;

  readonly #ctx: FabricContext;
  readonly #record: ConnectionRecord;
  readonly #side: Side;
  readonly #host: HostState;
  readonly #settings: QpSettings;
  readonly #completions = new Subject<WorkCompletion>();
  readonly #events = new Subject<ConnectionEvent>();
  #state: QpState;
  /** disconnect() was called: no more posts. */
  #closing = false;
  /** Torn down: streams completed. */
  #closed = false;
  readonly #disconnectWaiters: (() => void)[] = [];

  // Requester.
  readonly #sq: SendWqe[] = [];
  /** How many work requests at the head of the send queue are on the wire in the current round. */
  #onWire = 0;
  #readsOnWire = 0;
  #nextSeq = 0;
  #generation = 0;
  #retriesLeft: number;
  #rnrRetriesLeft: number;
  #rnrWait: Subscription | undefined;
  #retransmitTimer: Subscription | undefined;
  #retransmitTimerFor: SendWqe | undefined;
  #pumpScheduled: Subscription | undefined;
  #flushScheduled: Subscription | undefined;

  // Responder.
  readonly #rq: RecvWqe[] = [];
  #expectedSeq = 0;

  constructor(init: QueuePairInit) {
    this.#ctx = init.ctx;
    this.#record = init.record;
    this.#side = init.side;
    this.#host = init.host;
    this.#settings = init.settings;
    this.#state = init.state;
    this.local = init.local;
    this.remote = init.remote;
    this.peerPrivateData = init.peerPrivateData;
    this.connectionId = init.record.id;
    this.hostName = init.host.name;
    this.#retriesLeft = init.settings.retryCount;
    this.#rnrRetriesLeft = init.settings.rnrRetryCount;
    this.pd = new SimProtectionDomain(
      init.host.keys,
      init.ctx.random(`va:${init.record.id}:${init.side}`),
      (kind, fields) => {
        this.#trace(kind, fields);
      },
    );
    this.completions = this.#completions.asObservable();
    this.events = this.#events.asObservable();
    init.record.attach(init.side, this);
  }

  get state(): QpState {
    return this.#state;
  }

  /** True once the connection is torn down (streams completed). */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** This connection's counters (both directions). */
  get counters(): VerbsCounters {
    return this.#record.snapshot();
  }

  /** The settings negotiated for this side. */
  get settings(): QpSettings {
    return this.#settings;
  }

  // ---- Consumer calls -------------------------------------------------------------------------------------------

  postSend(wrs: readonly SendWorkRequest[]): void {
    this.#assertOpen();
    const sizes = wrs.map((wr) => this.#checkSend(wr));
    if (this.#sq.length + wrs.length > this.#settings.caps.maxSendWr) {
      throw new VerbsError(
        'ERR_VERBS_QUEUE_FULL',
        `send queue holds ${this.#settings.caps.maxSendWr} work requests; ${this.#sq.length} outstanding, ${wrs.length} posted`,
        { errno: 'ENOMEM' },
      );
    }
    wrs.forEach((wr, i) => {
      const bytes = sizes[i] ?? 0;
      const wqe: SendWqe = {
        wr,
        seq: this.#nextSeq++,
        bytes,
        signaled: wr.signaled ?? true,
        transmitted: false,
        judged: false,
        injectedStatus: undefined,
        generation: 0,
        deadline: Infinity,
      };
      this.#sq.push(wqe);
      this.#record.count((c) => c.posted[wr.opcode]++);
      this.#trace('post.send', { wrId: wr.wrId, opcode: wr.opcode, bytes, signaled: wqe.signaled, seq: wqe.seq });
    });
    if (this.#state === 'ERROR') this.#scheduleFlush();
    else this.#schedulePump();
  }

  postRecv(wrs: readonly RecvWorkRequest[]): void {
    this.#assertOpen();
    const sizes = wrs.map((wr) => {
      this.#checkWrId(wr.wrId);
      return this.#checkSgl(wr.sgl, this.#settings.caps.maxRecvSge);
    });
    if (this.#rq.length + wrs.length > this.#settings.caps.maxRecvWr) {
      throw new VerbsError(
        'ERR_VERBS_QUEUE_FULL',
        `receive queue holds ${this.#settings.caps.maxRecvWr} work requests; ${this.#rq.length} posted, ${wrs.length} more`,
        { errno: 'ENOMEM' },
      );
    }
    wrs.forEach((wr, i) => {
      const capacity = sizes[i] ?? 0;
      this.#rq.push({ wr, capacity });
      this.#record.count((c) => c.posted.RECV++);
      this.#trace('post.recv', { wrId: wr.wrId, capacity });
    });
    if (this.#state === 'ERROR') this.#scheduleFlush();
  }

  disconnect(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#disconnectWaiters.push(resolve);
      if (this.#closing) return;
      this.#closing = true;
      this.#ctx.after(0, () => {
        if (this.#closed) return;
        this.#trace('cm.dreq', {});
        this.#record.sendToPeer(this.#side, 0, 'CM', (peer) => {
          peer.onDisconnectRequest();
        });
        this.teardown('local');
      });
    });
  }

  // ---- Validation -----------------------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed || this.#closing) {
      throw new VerbsError('ERR_VERBS_CLOSED', `connection ${this.connectionId} is closed`);
    }
  }

  #invalid(message: string): VerbsError {
    return new VerbsError('ERR_VERBS_INVALID_WR', message, { errno: 'EINVAL' });
  }

  #checkWrId(wrId: number): void {
    if (!Number.isSafeInteger(wrId)) throw this.#invalid(`wrId must be a safe integer, got ${wrId}`);
  }

  /** Checks a scatter/gather list; returns its total length. */
  #checkSgl(sgl: readonly Sge[], maxSge: number): number {
    if (sgl.length > maxSge) throw this.#invalid(`${sgl.length} SGEs, the queue takes at most ${maxSge}`);
    let total = 0;
    for (const sge of sgl) {
      const { mr, offset, length } = sge;
      if (!(mr instanceof SimMemoryRegion) || mr.pd !== this.pd) {
        throw this.#invalid('an SGE names a region not registered in this connection’s protection domain');
      }
      if (!mr.valid) throw this.#invalid(`an SGE names a deregistered or invalidated region (lkey ${mr.lkey})`);
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
        throw this.#invalid(`SGE offset and length must be integers >= 0, got ${offset} and ${length}`);
      }
      if (offset + length > mr.length) {
        throw this.#invalid(`SGE [${offset}, ${offset + length}) lies outside its ${mr.length}-byte region`);
      }
      total += length;
    }
    if (total > this.#ctx.caps.maxMessageSize) {
      throw this.#invalid(`message of ${total} bytes exceeds the ${this.#ctx.caps.maxMessageSize}-byte maximum`);
    }
    return total;
  }

  /** Checks a send work request; returns its payload length. */
  #checkSend(wr: SendWorkRequest): number {
    this.#checkWrId(wr.wrId);
    const bytes = this.#checkSgl(wr.sgl, this.#settings.caps.maxSendSge);
    switch (wr.opcode) {
      case 'SEND':
        break;
      case 'SEND_WITH_INV':
        if (!this.#ctx.caps.sendWithInvalidate) throw this.#invalid('this provider does not do SEND_WITH_INV');
        if (!isUint32(wr.invalidateRkey)) throw this.#invalid(`invalidateRkey ${wr.invalidateRkey} is not a u32`);
        break;
      case 'RDMA_WRITE':
      case 'RDMA_READ':
        if (!isUint32(wr.rkey)) throw this.#invalid(`rkey ${wr.rkey} is not a u32`);
        if (wr.remoteAddr < 0n || wr.remoteAddr >= 1n << 64n) throw this.#invalid('remoteAddr is not a u64');
        break;
      default:
        throw this.#invalid(`unknown opcode ${(wr as { opcode: string }).opcode}`);
    }
    return bytes;
  }

  // ---- Requester ------------------------------------------------------------------------------------------------

  #schedulePump(): void {
    if (this.#pumpScheduled !== undefined) return;
    this.#pumpScheduled = this.#ctx.after(0, () => {
      this.#pumpScheduled = undefined;
      this.#pump();
    });
  }

  /** Puts the next work requests on the wire, in order, while the QP and the READ credit allow. */
  #pump(): void {
    while (this.#state === 'RTS' && this.#rnrWait === undefined && this.#onWire < this.#sq.length) {
      const wqe = this.#sq[this.#onWire];
      if (wqe === undefined) break;
      if (wqe.wr.opcode === 'RDMA_READ' && this.#readsOnWire >= this.#settings.readDepth) break;
      const local = this.#localProblem(wqe);
      if (local !== undefined) {
        this.#failAt(this.#onWire, local);
        return;
      }
      if (!wqe.judged) {
        wqe.judged = true;
        const verdict = this.#ctx.faults.onOperation(this.#record, this.hostName, wqe.wr.opcode);
        if (verdict.kind === 'drop-connection') {
          this.#trace('fault', { rule: verdict.rule, action: 'drop-connection', seq: wqe.seq });
          this.#record.pullCable();
          return;
        }
        if (verdict.kind === 'fail') {
          this.#trace('fault', { rule: verdict.rule, action: 'qp-error', seq: wqe.seq, status: verdict.status });
          if (!isRemoteStatus(verdict.status)) {
            this.#failAt(this.#onWire, verdict.status);
            return;
          }
          wqe.injectedStatus = verdict.status;
        }
      }
      this.#transmit(wqe);
    }
    this.#armRetransmitTimer();
  }

  /** A local protection problem with a work request's own SGEs, found when the requester reads them. */
  #localProblem(wqe: SendWqe): WcStatus | undefined {
    for (const sge of wqe.wr.sgl) {
      if (!sge.mr.valid) return 'LOC_PROT_ERR';
      if (wqe.wr.opcode === 'RDMA_READ' && (sge.mr.access & Access.LOCAL_WRITE) === 0) return 'LOC_PROT_ERR';
    }
    return undefined;
  }

  #transmit(wqe: SendWqe): void {
    const retransmission = wqe.deadline !== Infinity;
    wqe.transmitted = true;
    wqe.generation = this.#generation;
    this.#onWire++;
    const isRead = wqe.wr.opcode === 'RDMA_READ';
    if (isRead) this.#readsOnWire++;
    const requestBytes = isRead ? 0 : wqe.bytes;
    const message: RequestMessage = { seq: wqe.seq, generation: wqe.generation, wqe };
    const arrival = this.#record.sendToPeer(this.#side, requestBytes, wqe.wr.opcode, (peer) => {
      peer.onRequest(message);
    });
    const back = this.#ctx.link(this.#record.hostOf(this.#peerSide()), this.hostName);
    const responseBytes = isRead ? wqe.bytes : 0;
    wqe.deadline =
      arrival + back.model.latencyMs + back.serializationMs(responseBytes) + this.#ctx.timings.retransmitTimeoutMs;
    this.#trace('wire.request', {
      seq: wqe.seq,
      opcode: wqe.wr.opcode,
      bytes: wqe.bytes,
      arrival,
      retransmission,
    });
  }

  #peerSide(): Side {
    return this.#side === 'active' ? 'passive' : 'active';
  }

  /** Keeps one timer, for the oldest work request on the wire. */
  #armRetransmitTimer(): void {
    const head = this.#onWire > 0 && this.#rnrWait === undefined ? this.#sq[0] : undefined;
    if (head === this.#retransmitTimerFor && (head === undefined || this.#retransmitTimer !== undefined)) return;
    this.#retransmitTimer?.unsubscribe();
    this.#retransmitTimer = undefined;
    this.#retransmitTimerFor = head;
    if (head === undefined) return;
    this.#retransmitTimer = this.#ctx.at(head.deadline, () => {
      this.#retransmitTimer = undefined;
      this.#retransmitTimerFor = undefined;
      this.#onRetransmitTimeout();
    });
  }

  #cancelTimers(): void {
    this.#retransmitTimer?.unsubscribe();
    this.#retransmitTimer = undefined;
    this.#retransmitTimerFor = undefined;
    this.#rnrWait?.unsubscribe();
    this.#rnrWait = undefined;
    this.#pumpScheduled?.unsubscribe();
    this.#pumpScheduled = undefined;
  }

  #onRetransmitTimeout(): void {
    const head = this.#sq[0];
    if (this.#state !== 'RTS' || head === undefined) return;
    if (this.#settings.retryCount !== INFINITE_RETRIES && this.#retriesLeft === 0) {
      this.#failAt(0, 'RETRY_EXC_ERR');
      return;
    }
    if (this.#settings.retryCount !== INFINITE_RETRIES) this.#retriesLeft--;
    this.#record.count((c) => c.retransmits++);
    this.#trace('retransmit', { seq: head.seq, retriesLeft: this.#retriesLeft });
    this.#goBack();
    this.#pump();
  }

  /** Go-back-N: everything on the wire will be sent again, in a new round. */
  #goBack(): void {
    this.#generation++;
    for (const wqe of this.#sq) wqe.transmitted = false;
    this.#onWire = 0;
    this.#readsOnWire = 0;
  }

  onResponse(message: ResponseMessage): void {
    if (this.#state === 'ERROR' || this.#closed) {
      this.#trace('drop', { reason: 'qp-error', response: message.kind, seq: message.seq });
      return;
    }
    switch (message.kind) {
      case 'ack':
      case 'read-response':
        this.#completeThrough(message.seq);
        break;
      case 'rnr':
        this.#completeThrough(message.seq - 1);
        if (this.#sq[0]?.seq === message.seq && this.#sq[0].generation === message.generation) this.#onRnr();
        break;
      case 'nak':
        this.#completeThrough(message.seq - 1);
        if (this.#sq[0]?.seq === message.seq) this.#failAt(0, message.status);
        break;
    }
    if (this.#state === 'RTS') this.#pump();
  }

  /** Completes, in order, every work request up to sequence number `seq` (ACKs are cumulative). */
  #completeThrough(seq: number): void {
    let progressed = false;
    for (let head = this.#sq[0]; head !== undefined && head.seq <= seq; head = this.#sq[0]) {
      this.#sq.shift();
      if (head.transmitted) {
        this.#onWire--;
        if (head.wr.opcode === 'RDMA_READ') this.#readsOnWire--;
      }
      progressed = true;
      if (head.signaled) this.#complete(head.wr.wrId, 'SUCCESS', wcOpcodeOf(head.wr), head.bytes);
      if (this.#state !== 'RTS') return; // a completion handler disconnected
    }
    if (progressed) {
      this.#retriesLeft = this.#settings.retryCount;
      this.#rnrRetriesLeft = this.#settings.rnrRetryCount;
    }
  }

  #onRnr(): void {
    const head = this.#sq[0];
    if (head === undefined) return;
    if (this.#settings.rnrRetryCount !== INFINITE_RETRIES && this.#rnrRetriesLeft === 0) {
      this.#failAt(0, 'RNR_RETRY_EXC_ERR');
      return;
    }
    if (this.#settings.rnrRetryCount !== INFINITE_RETRIES) this.#rnrRetriesLeft--;
    this.#goBack();
    this.#trace('rnr.wait', {
      seq: head.seq,
      rnrRetriesLeft: this.#rnrRetriesLeft,
      waitMs: this.#ctx.timings.rnrTimerMs,
    });
    this.#armRetransmitTimer();
    this.#rnrWait = this.#ctx.after(this.#ctx.timings.rnrTimerMs, () => {
      this.#rnrWait = undefined;
      this.#record.count((c) => c.rnrRetries++);
      this.#pump();
    });
  }

  /**
   * Fails the work request at `index` with `status`: those before it are flushed (the QP stops before their
   * responses come), it completes with `status`, and the QP enters ERROR (flushing the rest).
   */
  #failAt(index: number, status: WcStatus): void {
    const failed = this.#sq.splice(0, index + 1);
    this.#onWire = 0;
    this.#readsOnWire = 0;
    failed.forEach((wqe, i) => {
      this.#complete(wqe.wr.wrId, i === index ? status : 'WR_FLUSH_ERR', wcOpcodeOf(wqe.wr), 0);
    });
    this.#enterError(status);
  }

  // ---- Responder ------------------------------------------------------------------------------------------------

  onRequest(message: RequestMessage): void {
    const { seq, wqe } = message;
    const opcode = wqe.wr.opcode;
    if (this.#state === 'ERROR' || this.#closed) {
      this.#trace('drop', { reason: 'qp-error', seq, opcode });
      return;
    }
    if (this.#ctx.faults.isSilent(this.hostName, this.#ctx.now())) {
      this.#trace('drop', { reason: 'not-answering', seq, opcode });
      return;
    }
    if (seq > this.#expectedSeq) {
      this.#trace('drop', { reason: 'out-of-sequence', seq, opcode, expected: this.#expectedSeq });
      return;
    }
    if (seq < this.#expectedSeq) {
      this.#onDuplicate(message);
      return;
    }
    if (wqe.injectedStatus !== undefined) {
      this.#nak(message, wqe.injectedStatus);
      this.#enterError(wqe.injectedStatus);
      return;
    }
    switch (opcode) {
      case 'SEND':
      case 'SEND_WITH_INV':
        this.#executeSend(message);
        break;
      case 'RDMA_WRITE':
        this.#executeWrite(message);
        break;
      case 'RDMA_READ':
        this.#executeRead(message, false);
        break;
    }
  }

  #onDuplicate(message: RequestMessage): void {
    this.#trace('exec', { seq: message.seq, opcode: message.wqe.wr.opcode, duplicate: true });
    if (message.wqe.wr.opcode === 'RDMA_READ') this.#executeRead(message, true);
    else this.#respond({ kind: 'ack', seq: message.seq, generation: message.generation }, 0);
  }

  #respond(message: ResponseMessage, bytes: number): void {
    switch (message.kind) {
      case 'ack':
        this.#trace('ack', { seq: message.seq });
        break;
      case 'read-response':
        this.#trace('read.response', { seq: message.seq, bytes });
        break;
      case 'rnr':
        this.#trace('nak', { seq: message.seq, type: 'RNR' });
        break;
      case 'nak':
        this.#trace('nak', { seq: message.seq, type: message.status });
        break;
    }
    this.#record.sendToPeer(this.#side, bytes, undefined, (peer) => {
      peer.onResponse(message);
    });
  }

  #nak(message: RequestMessage, status: WcStatus): void {
    this.#respond({ kind: 'nak', seq: message.seq, generation: message.generation, status }, 0);
  }

  /** The executed message moved `bytes` bytes: count it and acknowledge it. */
  #executed(message: RequestMessage, opcode: CountedOpcode, bytes: number): void {
    this.#expectedSeq++;
    this.#record.count((c) => {
      c.operations[opcode]++;
      c.bytes[opcode] += bytes;
    });
    this.#trace('exec', { seq: message.seq, opcode, bytes });
  }

  /** The one copy of an operation's payload. */
  #copy(source: readonly Segment[], dest: readonly Segment[], bytes: number): void {
    if (bytes === 0) return;
    const calls = copySegments(source, dest, bytes);
    this.#record.count((c) => {
      c.copyOperations += calls;
      c.copyBytes += bytes;
    });
  }

  #executeSend(message: RequestMessage): void {
    const { wqe } = message;
    const wr = wqe.wr;
    const recv = this.#rq[0];
    if (recv === undefined || this.#ctx.faults.inRnrStorm(this.#record, this.hostName, this.#ctx.now())) {
      this.#record.count((c) => c.rnrNaks++);
      this.#respond({ kind: 'rnr', seq: message.seq, generation: message.generation }, 0);
      return;
    }
    this.#rq.shift();
    if (recv.wr.sgl.some((sge) => !sge.mr.valid || (sge.mr.access & Access.LOCAL_WRITE) === 0)) {
      this.#complete(recv.wr.wrId, 'LOC_PROT_ERR', 'RECV', 0);
      this.#nak(message, 'REM_OP_ERR');
      this.#enterError('LOC_PROT_ERR');
      return;
    }
    if (wqe.bytes > recv.capacity) {
      this.#complete(recv.wr.wrId, 'LOC_LEN_ERR', 'RECV', 0);
      this.#nak(message, 'REM_INV_REQ_ERR');
      this.#enterError('LOC_LEN_ERR');
      return;
    }
    this.#copy(segmentsOf(wr.sgl), segmentsOf(recv.wr.sgl), wqe.bytes);
    this.#executed(message, wr.opcode, wqe.bytes);
    if (wr.opcode === 'SEND_WITH_INV') {
      const target = this.#host.keys.lookup(wr.invalidateRkey);
      if (target?.pd !== this.pd || !target.invalidatable) {
        // rxe: the data has landed, the receive completes REM_INV_REQ_ERR, the sender is ACKed (IBA class J).
        this.#complete(recv.wr.wrId, 'REM_INV_REQ_ERR', 'RECV', wqe.bytes);
        this.#respond({ kind: 'ack', seq: message.seq, generation: message.generation }, 0);
        this.#enterError('REM_INV_REQ_ERR');
        return;
      }
      target.invalidate('remote-invalidate');
      this.#complete(recv.wr.wrId, 'SUCCESS', 'RECV', wqe.bytes, wr.invalidateRkey);
    } else {
      this.#complete(recv.wr.wrId, 'SUCCESS', 'RECV', wqe.bytes);
    }
    this.#respond({ kind: 'ack', seq: message.seq, generation: message.generation }, 0);
  }

  /** The region an RDMA operation of `length` bytes at `addr` may touch with `rkey`, or undefined (violation). */
  #remoteRegion(rkey: number, addr: bigint, length: number, need: number): SimMemoryRegion | undefined {
    const mr = this.#host.keys.lookup(rkey);
    if (mr === undefined || mr.pd !== this.pd || !mr.valid || (mr.access & need) === 0) return undefined;
    return mr.covers(addr, length) ? mr : undefined;
  }

  #accessViolation(message: RequestMessage, why: string): void {
    this.#trace('exec', { seq: message.seq, opcode: message.wqe.wr.opcode, violation: why });
    this.#nak(message, 'REM_ACCESS_ERR');
    this.#enterError('REM_ACCESS_ERR');
  }

  #executeWrite(message: RequestMessage): void {
    const { wqe } = message;
    const wr = wqe.wr;
    if (wr.opcode !== 'RDMA_WRITE') return;
    if (wqe.bytes > 0) {
      // IBA: a zero-length RDMA operation does not check the rkey.
      const mr = this.#remoteRegion(wr.rkey, wr.remoteAddr, wqe.bytes, Access.REMOTE_WRITE);
      if (mr === undefined) {
        this.#accessViolation(message, 'rkey');
        return;
      }
      const dest: Segment = { buffer: mr.buffer, offset: Number(wr.remoteAddr - mr.addr), length: wqe.bytes };
      this.#copy(segmentsOf(wr.sgl), [dest], wqe.bytes);
    }
    this.#executed(message, 'RDMA_WRITE', wqe.bytes);
    this.#respond({ kind: 'ack', seq: message.seq, generation: message.generation }, 0);
  }

  #executeRead(message: RequestMessage, duplicate: boolean): void {
    const { wqe } = message;
    const wr = wqe.wr;
    if (wr.opcode !== 'RDMA_READ') return;
    if (wqe.bytes > 0) {
      const mr = this.#remoteRegion(wr.rkey, wr.remoteAddr, wqe.bytes, Access.REMOTE_READ);
      if (mr === undefined) {
        this.#accessViolation(message, 'rkey');
        return;
      }
      const source: Segment = { buffer: mr.buffer, offset: Number(wr.remoteAddr - mr.addr), length: wqe.bytes };
      this.#copy([source], segmentsOf(wr.sgl), wqe.bytes);
    }
    if (!duplicate) this.#executed(message, 'RDMA_READ', wqe.bytes);
    this.#respond({ kind: 'read-response', seq: message.seq, generation: message.generation }, wqe.bytes);
  }

  // ---- State, completions, teardown ------------------------------------------------------------------------------

  #complete(wrId: number, status: WcStatus, opcode: WcOpcode, byteLen: number, invalidatedRkey?: number): void {
    const wc: WorkCompletion =
      invalidatedRkey === undefined
        ? { wrId, status, opcode, byteLen }
        : { wrId, status, opcode, byteLen, invalidatedRkey };
    if (status !== 'SUCCESS')
      this.#record.count((c) => {
        c.error(status);
      });
    this.#trace('wc', {
      wrId,
      status,
      opcode,
      byteLen,
      ...(invalidatedRkey === undefined ? {} : { invalidatedRkey }),
    });
    this.#completions.next(wc);
  }

  #setState(state: QpState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#trace('qp.state', { state });
  }

  /** The RTU has arrived: the passive side may send. */
  onReadyToUse(): void {
    if (this.#state !== 'RTR') return;
    this.#trace('cm.rtu', {});
    this.#setState('RTS');
    this.#pump();
  }

  #enterError(status: WcStatus): void {
    if (this.#state === 'ERROR') return;
    this.#setState('ERROR');
    this.#cancelTimers();
    this.#events.next({ type: 'qp-error', status });
    this.#flush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled !== undefined) return;
    this.#flushScheduled = this.#ctx.after(0, () => {
      this.#flushScheduled = undefined;
      this.#flush();
    });
  }

  /** Completes every outstanding work request with WR_FLUSH_ERR: the send queue first, then the receive queue. */
  #flush(): void {
    this.#onWire = 0;
    this.#readsOnWire = 0;
    for (let wqe = this.#sq.shift(); wqe !== undefined; wqe = this.#sq.shift()) {
      this.#complete(wqe.wr.wrId, 'WR_FLUSH_ERR', wcOpcodeOf(wqe.wr), 0);
    }
    for (let recv = this.#rq.shift(); recv !== undefined; recv = this.#rq.shift()) {
      this.#complete(recv.wr.wrId, 'WR_FLUSH_ERR', 'RECV', 0);
    }
  }

  onDisconnectRequest(): void {
    if (this.#closed) return;
    this.#trace('cm.dreq', { received: true });
    this.teardown('remote');
  }

  teardown(reason: TeardownReason): void {
    if (this.#closed) return;
    this.#closing = true;
    this.#cancelTimers();
    this.#flushScheduled?.unsubscribe();
    this.#flushScheduled = undefined;
    this.#setState('ERROR');
    this.#flush();
    this.#closed = true;
    this.#trace('cm.disconnected', { reason });
    this.#events.next({ type: 'disconnected' });
    this.#events.complete();
    this.#completions.complete();
    this.pd.close();
    for (const resolve of this.#disconnectWaiters.splice(0)) resolve();
  }

  #trace(kind: FabricTraceKind, fields: Record<string, TraceFieldValue>): void {
    this.#ctx.trace(this.connectionId, kind, { host: this.hostName, ...fields });
  }
}
