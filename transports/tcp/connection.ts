/**
 * iSCSI over TCP as a Datamover (protocol/datamover.ts), for either role: a {@link PduFramer} on a `node:net`
 * socket, data PDUs (Data-In, R2T, Data-Out) generated and consumed here so the core never sees them.
 *
 * Login boundary: the framer pauses after a Login PDU with T=1 and NSG=FullFeaturePhase, so nothing behind it is
 * framed with login-phase settings; `enable()` switches digests and MaxRecvDataSegmentLength and resumes. If the
 * login goes on instead (the core sends another Login PDU), framing resumes unchanged. Login PDUs are always sent
 * without digests. Call order: target sends the final Login Response, then enable(); initiator receives it, then
 * enable() before sending anything else.
 *
 * Inbound: the socket is read only once `pdus` has a subscriber, and every PDU is handled synchronously, so memory
 * is bounded by the framer (two PDUs) plus what the core keeps. Outbound: what one tick writes leaves as one corked
 * batch, the data chunks untouched (views of the caller's buffers); putData waits for `drain` when the socket is full.
 *
 * Failures: a framing error, a data digest error (ErrorRecoveryLevel 0 has no recovery for it) or a peer breaking a
 * data transfer rule errors `pdus` with a {@link TcpTransportError} and closes the socket; a target first answers
 * with a Reject where RFC 7143 gives a reason. The exception is a Data-Out out of DataSN order: it fails only its
 * task (its getData rejects with ERR_TCP_DATA_SEQUENCE) and is passed to the core, which Rejects it
 * (target-tasks.ts). A peer's FIN completes `pdus`; a reset errors it.
 */
import type { Socket } from 'node:net';
import { asyncScheduler, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type {
  DatamoverConnection,
  InitiatorTaskBuffers,
  PortalAddress,
  SequenceSource,
  TargetTaskRef,
} from '../../protocol/datamover.js';
import {
  decodePdu,
  encodePdu,
  FramerError,
  LoginStage,
  mayEndLoginPhase,
  NO_DIGESTS,
  PduDecodeError,
  PduFramer,
  RejectReason,
  RESERVED_TAG,
  ScsiServiceResponse,
  type DigestOptions,
  type Framed,
  type Pdu,
  type ReadyToTransferPdu,
  type ScsiCommandPdu,
  type ScsiDataInPdu,
  type ScsiDataOutPdu,
} from '../../protocol/pdu/index.js';
import {
  commandDataViolation,
  commandFinalBit,
  dataInPlan,
  dataOutPlan,
} from '../../protocol/session/data-sequencing.js';
import { ChunkCursor, sliceChunks, totalLength } from '../../protocol/session/data-sequencing-chunks.js';
import { dataSegmentLimits, type NegotiatedParams } from '../../protocol/text/index.js';
import { TcpTransportError, type TcpTransportErrorCode } from './errors.js';
import { InboundPdus } from '../common/inbound-pdus.js';
import { CONTROL_KINDS, INITIATOR_KINDS, type ConnectionRole } from '../common/pdu-kinds.js';
import { InitiatorTasks, type InitiatorTask } from './initiator-tasks.js';
import { TargetTasks, type R2tRecord } from './target-tasks.js';

/** Which end of the iSCSI connection this is. */
export type TcpRole = ConnectionRole;

/** Options of a {@link TcpConnection}. */
export interface TcpConnectionOptions {
  readonly role: TcpRole;
  /** Source of every timer (getData timeout, close bound). Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Target: how long getData waits for its Data-Out before failing with ERR_TCP_DATA_TIMEOUT. Default 30 s. */
  readonly dataTimeoutMs?: number;
  /** How long close() waits for the peer's FIN before destroying the socket. Default 2 s. */
  readonly closeTimeoutMs?: number;
}

/** Default of {@link TcpConnectionOptions.dataTimeoutMs}. */
export const DEFAULT_DATA_TIMEOUT_MS = 30_000;

/** Corked bytes beyond which writePdus sends at once rather than waiting for more to batch. */
const HOLD_CORK_BYTES = 64 * 1024;

/** Default of {@link TcpConnectionOptions.closeTimeoutMs}. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;

/** What `taskDone` hands a task no getData waits on: nobody receives it (see TargetTasks.done). */
const NOTHING_WAITED = new TcpTransportError('ERR_TCP_TASK_DONE', 'the task finished with no data awaited');

/** Numbers used before enable() supplies the real source (only Reject needs them during login). */
const ZERO_SEQUENCE: SequenceSource = { expStatSN: () => 0, statSN: () => 0, expCmdSN: () => 0, maxCmdSN: () => 0 };

/** One iSCSI/TCP connection, either role. */
export class TcpConnection implements DatamoverConnection {
  /** Always 'tcp'. */
  readonly kind = 'tcp' as const;
  /** Read bytes no Data-In placed are zeroed before the status is delivered (initiator-tasks.ts). */
  readonly zeroesUnplacedReadBytes = true;
  readonly local: PortalAddress;
  readonly remote: PortalAddress;
  readonly pdus: Observable<Pdu>;
  /** Which end this is. */
  readonly role: TcpRole;

  private readonly socket: Socket;
  private readonly scheduler: SchedulerLike;
  private readonly dataTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly inbound: InboundPdus;
  private readonly framer: PduFramer;
  private readonly initiatorTasks = new InitiatorTasks();
  private targetTasks: TargetTasks | undefined;
  private params: NegotiatedParams | undefined;
  private sequence: SequenceSource = ZERO_SEQUENCE;
  private digests: DigestOptions = NO_DIGESTS;
  private maxSendDataSegmentLength = Number.MAX_SAFE_INTEGER;
  private closed = false;
  private handling = false;
  private resumeRequested = false;
  private corkedForTick = false;
  /** Tells a scheduled uncork whether its cork is still the current one. */
  private corkToken = 0;
  /** The current cork lasts to the end of the poll phase (setImmediate), not just the tick. */
  private corkHeld = false;
  private readonly closedPromise: Promise<void>;
  private closeTimer: Subscription | undefined;
  private readonly drainWaiters = new Set<{ resolve: () => void; reject: (error: Error) => void }>();

  constructor(socket: Socket, options: TcpConnectionOptions) {
    this.socket = socket;
    this.role = options.role;
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.dataTimeoutMs = options.dataTimeoutMs ?? DEFAULT_DATA_TIMEOUT_MS;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.local = { host: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    this.remote = { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    this.framer = new PduFramer({ pauseAfter: mayEndLoginPhase });
    this.inbound = new InboundPdus(() => {
      socket.on('data', (chunk: Buffer) => {
        this.onData(chunk);
      });
    });
    this.pdus = this.inbound.observable;
    this.closedPromise = new Promise((resolve) => {
      socket.once('close', () => {
        resolve();
      });
    });
    socket.setNoDelay(true);
    socket.on('error', (err) => {
      this.fail(transportError('ERR_TCP_CONNECTION_LOST', `socket error: ${err.message}`, err));
    });
    socket.on('end', () => {
      this.shutDown(transportError('ERR_TCP_CLOSED', 'the peer closed the connection'));
    });
    socket.on('close', () => {
      this.closeTimer?.unsubscribe();
      this.shutDown(transportError('ERR_TCP_CLOSED', 'the connection closed'));
    });
    socket.on('drain', () => {
      this.settleDrainWaiters();
    });
  }

  // ------------------------------------------------------------------------------------------------ outbound

  sendControl(pdu: Pdu): void {
    this.checkOpen();
    if (!CONTROL_KINDS[this.role].has(pdu.kind)) {
      throw transportError('ERR_TCP_USAGE', `sendControl cannot send ${pdu.kind} from the ${this.role}`);
    }
    const isLogin = pdu.kind === 'login-request' || pdu.kind === 'login-response';
    if (!isLogin && totalLength('data' in pdu ? pdu.data : []) > this.maxSendDataSegmentLength) {
      throw transportError('ERR_TCP_USAGE', `${pdu.kind} data segment exceeds the peer's MaxRecvDataSegmentLength`);
    }
    let out = pdu;
    if (pdu.kind === 'scsi-response') {
      // ExpDataSN counts the R2Ts and Data-Ins this transport sent for the task (RFC 7143 §11.4.8).
      const task = this.targetTasks?.get(pdu.itt);
      if (task !== undefined) {
        out = { ...pdu, expDataSN: pdu.response === ScsiServiceResponse.CommandCompletedAtTarget ? task.dataSN : 0 };
      }
    }
    this.writePdus([out], isLogin ? NO_DIGESTS : this.digests);
    if (isLogin && this.framer.paused && !endsLogin(pdu)) this.requestResume();
  }

  sendCommand(pdu: ScsiCommandPdu, buffers: InitiatorTaskBuffers): void {
    this.checkRole('initiator', 'sendCommand');
    const params = this.enabledParams();
    const writeData = buffers.writeData ?? [];
    const writeLength = totalLength(writeData);
    const violation = commandDataViolation(params, pdu.expectedDataTransferLength, writeLength, buffers);
    if (violation !== undefined) throw transportError('ERR_TCP_USAGE', violation);
    const task = this.initiatorTasks.add(pdu, buffers, writeLength, params);
    const { immediateLength, unsolicitedDataOutLength } = buffers;
    const command: ScsiCommandPdu = {
      ...pdu,
      final: commandFinalBit(buffers),
      data: sliceChunks(writeData, 0, immediateLength),
    };
    const out: Pdu[] = [command];
    this.appendDataOut(out, task, RESERVED_TAG, immediateLength, unsolicitedDataOutLength);
    this.writePdus(out, this.digests);
  }

  async putData(task: TargetTaskRef, offset: number, data: readonly Buffer[]): Promise<void> {
    this.checkRole('target', 'putData');
    const params = this.enabledParams();
    const state = this.knownTargetTask(task.itt);
    const length = totalLength(data);
    checkRange(offset, length);
    if (length === 0) return;
    if (params.dataPduInOrder && params.dataSequenceInOrder && offset < state.dataInEnd) {
      throw transportError('ERR_TCP_USAGE', `putData at ${offset} goes back before ${state.dataInEnd} (in-order data)`);
    }
    const cursor = new ChunkCursor(data);
    const out: ScsiDataInPdu[] = [];
    const sequence = this.sequence;
    for (const plan of dataInPlan(params, offset, length, state.dataSN)) {
      out.push({
        kind: 'scsi-data-in',
        final: plan.final,
        acknowledge: false,
        residualOverflow: false,
        residualUnderflow: false,
        statusPresent: false,
        status: 0,
        lun: 0n,
        itt: task.itt,
        ttt: RESERVED_TAG,
        statSN: sequence.statSN(),
        expCmdSN: sequence.expCmdSN(),
        maxCmdSN: sequence.maxCmdSN(),
        dataSN: plan.dataSN,
        bufferOffset: plan.bufferOffset,
        residualCount: 0,
        data: cursor.take(plan.length),
      });
    }
    state.dataSN = (state.dataSN + out.length) >>> 0;
    state.dataInEnd = offset + length;
    this.writePdus(out, this.digests);
    if (this.socket.writableNeedDrain) await this.waitForDrain();
  }

  getData(task: TargetTaskRef, offset: number, length: number): Promise<readonly Buffer[]> {
    try {
      this.checkRole('target', 'getData');
      this.enabledParams();
      const state = this.knownTargetTask(task.itt);
      checkRange(offset, length);
      if (offset + length > state.edtl) {
        throw transportError('ERR_TCP_USAGE', `getData(${offset}, ${length}) exceeds EDTL ${state.edtl}`);
      }
      const tasks = this.targetTasks;
      if (tasks === undefined) throw transportError('ERR_TCP_NOT_ENABLED', 'not enabled');
      return new Promise<readonly Buffer[]>((resolve, reject) => {
        let timer: { unsubscribe(): void } | undefined;
        const { request, issue } = tasks.request(state, offset, length, {
          resolve,
          reject,
          cancelTimer: () => timer?.unsubscribe(),
        });
        if (state.requests.has(request)) {
          timer = this.scheduler.schedule(() => {
            const error = transportError(
              'ERR_TCP_DATA_TIMEOUT',
              `no Data-Out for ITT ${task.itt} in ${this.dataTimeoutMs} ms`,
            );
            this.sendR2ts(tasks.abandon(request, error));
          }, this.dataTimeoutMs);
        }
        this.sendR2ts(issue);
      });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  taskDone(itt: number): void {
    if (this.role === 'initiator') {
      this.initiatorTasks.done(itt);
      return;
    }
    // The error only reaches getData calls still waiting, and most tasks end with none: building one (a stack
    // trace) for every task cost ~20% of the target's CPU at 4 KiB reads.
    const waiting = (this.targetTasks?.get(itt)?.requests.size ?? 0) > 0;
    this.targetTasks?.done(
      itt,
      waiting ? transportError('ERR_TCP_TASK_DONE', `task ${itt} finished while its data was awaited`) : NOTHING_WAITED,
    );
  }

  enable(params: NegotiatedParams, sequence: SequenceSource): void {
    this.checkOpen();
    if (this.params !== undefined) throw transportError('ERR_TCP_USAGE', 'enable() was already called');
    this.params = params;
    this.sequence = sequence;
    const limits = dataSegmentLimits(params, this.role);
    this.maxSendDataSegmentLength = limits.maxSendDataSegmentLength;
    this.digests = { headerDigest: params.headerDigest === 'CRC32C', dataDigest: params.dataDigest === 'CRC32C' };
    this.framer.setMaxDataSegmentLength(limits.maxRecvDataSegmentLength);
    this.framer.setDigests(this.digests);
    if (this.role === 'target') this.targetTasks = new TargetTasks(params);
    if (this.framer.paused) this.requestResume();
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.shutDown(transportError('ERR_TCP_CLOSED', 'the connection was closed'));
      this.endSocket();
    }
    await this.closedPromise;
  }

  // ------------------------------------------------------------------------------------------------ inbound

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let framed: Framed[];
    let fatal: FramerError | undefined;
    try {
      framed = this.framer.push(chunk);
    } catch (err) {
      if (!(err instanceof FramerError)) throw err;
      framed = [...err.framed];
      fatal = err;
    }
    this.handleAll(framed);
    if (fatal !== undefined) {
      this.fail(transportError('ERR_TCP_FRAMING', fatal.message, fatal, fatal.rejectReason, fatal.header));
    }
  }

  /** Handles framed PDUs in order; a resume asked for meanwhile (enable() from a subscriber) runs after them. */
  private handleAll(framed: readonly Framed[]): void {
    this.handling = true;
    try {
      for (const item of framed) {
        if (this.closed) return;
        this.handleOne(item);
      }
    } finally {
      this.handling = false;
    }
    if (this.resumeRequested && !this.closed) {
      this.resumeRequested = false;
      let more: Framed[];
      try {
        more = this.framer.resume();
      } catch (err) {
        if (!(err instanceof FramerError)) throw err;
        this.handleAll(err.framed);
        this.fail(transportError('ERR_TCP_FRAMING', err.message, err, err.rejectReason, err.header));
        return;
      }
      this.handleAll(more);
    }
  }

  private requestResume(): void {
    this.resumeRequested = true;
    if (!this.handling) this.handleAll([]);
  }

  private handleOne(item: Framed): void {
    if (item.type === 'data-digest-error') {
      this.fail(
        transportError(
          'ERR_TCP_DATA_DIGEST',
          item.error.message,
          item.error,
          RejectReason.DataDigestError,
          item.header,
        ),
        RejectReason.DataDigestError,
      );
      return;
    }
    let pdu: Pdu;
    try {
      pdu = decodePdu(item.header, item.data);
    } catch (err) {
      if (!(err instanceof PduDecodeError)) throw err;
      this.fail(transportError('ERR_TCP_PROTOCOL', err.message, err, err.rejectReason, item.header), err.rejectReason);
      return;
    }
    try {
      this.dispatch(pdu, item.header);
    } catch (err) {
      if (!(err instanceof TcpTransportError)) throw err;
      this.fail(err, err.rejectReason);
    }
  }

  private dispatch(pdu: Pdu, header: Buffer): void {
    const fromInitiator = INITIATOR_KINDS.has(pdu.kind);
    if (fromInitiator !== (this.role === 'target')) {
      throw transportError(
        'ERR_TCP_PROTOCOL',
        `the ${this.role} received ${pdu.kind}`,
        undefined,
        RejectReason.ProtocolError,
        header,
      );
    }
    switch (pdu.kind) {
      case 'scsi-data-in':
        this.onDataIn(pdu, header);
        return;
      case 'r2t':
        this.onR2t(pdu, header);
        return;
      case 'scsi-data-out': {
        const { issue, refused } = this.enabledTargetTasks(header).dataOut(pdu, header);
        this.sendR2ts(issue);
        // Out of DataSN order: only its task fails. The core answers the Reject, as a Reject advances StatSN.
        if (refused !== undefined) this.deliver(pdu);
        return;
      }
      case 'scsi-command':
        this.enabledTargetTasks(header).addCommand(pdu, header);
        break;
      case 'scsi-response':
        this.initiatorTasks.response(pdu.itt);
        break;
      default:
        break;
    }
    this.deliver(pdu);
  }

  private onDataIn(pdu: ScsiDataInPdu, header: Buffer): void {
    const response = this.initiatorTasks.dataIn(pdu, this.enabledForPeer(header), header);
    if (response !== undefined) this.deliver(response);
  }

  private onR2t(pdu: ReadyToTransferPdu, header: Buffer): void {
    const task = this.initiatorTasks.r2t(pdu, this.enabledForPeer(header), header);
    if (task === undefined) return;
    const out: Pdu[] = [];
    this.appendDataOut(out, task, pdu.ttt, pdu.bufferOffset, pdu.desiredDataTransferLength);
    this.writePdus(out, this.digests);
  }

  private deliver(pdu: Pdu): void {
    if (!this.inbound.push(pdu)) this.fail(transportError('ERR_TCP_PROTOCOL', 'inbound backlog overflow'));
  }

  // ------------------------------------------------------------------------------------------------ helpers

  /** Appends the Data-Out PDUs of one sequence (unsolicited, or answering the R2T with `ttt`). */
  private appendDataOut(out: Pdu[], task: InitiatorTask, ttt: number, offset: number, length: number): void {
    if (length === 0) return;
    const params = this.enabledParams();
    const cursor = new ChunkCursor(task.writeData);
    cursor.skip(offset);
    const expStatSN = this.sequence.expStatSN();
    for (const plan of dataOutPlan(params, offset, length)) {
      const pdu: ScsiDataOutPdu = {
        kind: 'scsi-data-out',
        final: plan.final,
        lun: task.lun,
        itt: task.itt,
        ttt,
        expStatSN,
        dataSN: plan.dataSN,
        bufferOffset: plan.bufferOffset,
        data: cursor.take(plan.length),
      };
      out.push(pdu);
    }
  }

  private sendR2ts(records: readonly R2tRecord[]): void {
    if (records.length === 0 || this.closed) return;
    const sequence = this.sequence;
    const out: ReadyToTransferPdu[] = records.map((r) => ({
      kind: 'r2t',
      lun: r.task.lun,
      itt: r.task.itt,
      ttt: r.ttt,
      statSN: sequence.statSN(),
      expCmdSN: sequence.expCmdSN(),
      maxCmdSN: sequence.maxCmdSN(),
      r2tSN: r.r2tSN,
      bufferOffset: r.offset,
      desiredDataTransferLength: r.length,
    }));
    this.writePdus(out, this.digests);
  }

  /**
   * Writes PDUs; data chunks go out as given. The socket stays corked until the current tick ends, so everything
   * written in one tick (commands issued from completions of one inbound chunk, Data-In plus status) leaves in
   * one writev instead of a syscall per PDU. A target with other tasks in flight holds the cork longer, to the
   * end of the loop iteration's poll phase (setImmediate): each backend read the thread pool finishes is its own
   * tick, and a writev per response was a quarter of its CPU at 4 KiB QD 32. Bulk data is not held that long
   * (measured: 1 MiB reads cost more CPU per command when held), nor is a lone task's response (nothing to
   * batch it with). `end()` flushes a corked socket, so closing loses nothing.
   */
  private writePdus(pdus: readonly Pdu[], digests: DigestOptions): void {
    if (this.closed || pdus.length === 0) return;
    const socket = this.socket;
    if (!this.corkedForTick) {
      this.corkedForTick = true;
      socket.cork();
      const token = ++this.corkToken;
      const uncork = (): void => {
        if (token === this.corkToken) this.uncorkNow();
      };
      this.corkHeld = this.role === 'target' && (this.targetTasks?.size ?? 0) > 1;
      if (this.corkHeld) setImmediate(uncork);
      else process.nextTick(uncork);
    }
    for (const pdu of pdus) for (const chunk of encodePdu(pdu, digests)) socket.write(chunk);
    if (this.corkHeld && socket.writableLength >= HOLD_CORK_BYTES) this.uncorkNow();
  }

  private uncorkNow(): void {
    if (!this.corkedForTick) return;
    this.corkedForTick = false;
    this.corkToken++;
    this.socket.uncork();
  }

  private waitForDrain(): Promise<void> {
    if (this.closed) return Promise.reject(transportError('ERR_TCP_CLOSED', 'the connection is closed'));
    return new Promise((resolve, reject) => this.drainWaiters.add({ resolve, reject }));
  }

  private settleDrainWaiters(error?: Error): void {
    const waiters = [...this.drainWaiters];
    this.drainWaiters.clear();
    for (const w of waiters) {
      if (error === undefined) w.resolve();
      else w.reject(error);
    }
  }

  /** Fails the connection: `pdus` errors, pending calls fail, the socket closes (after a Reject, if given). */
  private fail(error: TcpTransportError, rejectReason?: RejectReason): void {
    if (this.closed) return;
    if (rejectReason !== undefined && this.role === 'target' && error.header !== undefined) {
      this.writePdus([this.reject(rejectReason, error.header)], this.params === undefined ? NO_DIGESTS : this.digests);
    }
    this.closed = true;
    this.inbound.error(error);
    this.failPending(error);
    this.endSocket();
  }

  /** Sends FIN after the queued bytes; destroys the socket if the peer has not closed its side in time. */
  private endSocket(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    this.closeTimer ??= this.scheduler.schedule(() => {
      this.socket.destroy();
    }, this.closeTimeoutMs);
  }

  /** Ends the connection without error: `pdus` completes, pending calls fail with `error`. */
  private shutDown(error: TcpTransportError): void {
    if (this.closed) return;
    this.closed = true;
    this.inbound.complete();
    this.failPending(error);
  }

  private failPending(error: Error): void {
    this.initiatorTasks.clear();
    this.targetTasks?.clear(error);
    this.settleDrainWaiters(error);
  }

  private reject(reason: RejectReason, header: Buffer): Pdu {
    const sequence = this.sequence;
    return {
      kind: 'reject',
      reason,
      statSN: sequence.statSN(),
      expCmdSN: sequence.expCmdSN(),
      maxCmdSN: sequence.maxCmdSN(),
      dataSN: 0,
      data: [Buffer.from(header)],
    };
  }

  private checkOpen(): void {
    if (this.closed) throw transportError('ERR_TCP_CLOSED', 'the connection is closed');
  }

  private checkRole(role: TcpRole, method: string): void {
    if (this.role !== role) throw transportError('ERR_TCP_ROLE', `${method} is not available on the ${this.role} end`);
  }

  private enabledParams(): NegotiatedParams {
    this.checkOpen();
    if (this.params === undefined) {
      throw transportError('ERR_TCP_NOT_ENABLED', 'data transfer before enable() (still in login)');
    }
    return this.params;
  }

  /** Params for checking a peer's data PDU: one arriving before full feature phase is a protocol error. */
  private enabledForPeer(header: Buffer): NegotiatedParams {
    if (this.params === undefined) {
      throw transportError(
        'ERR_TCP_PROTOCOL',
        'data transfer PDU before full feature phase',
        undefined,
        RejectReason.ProtocolError,
        header,
      );
    }
    return this.params;
  }

  private enabledTargetTasks(header: Buffer): TargetTasks {
    this.enabledForPeer(header);
    const tasks = this.targetTasks;
    if (tasks === undefined)
      throw transportError('ERR_TCP_PROTOCOL', 'no target task table', undefined, undefined, header);
    return tasks;
  }

  private knownTargetTask(itt: number): NonNullable<ReturnType<TargetTasks['get']>> {
    const task = this.targetTasks?.get(itt);
    if (task === undefined) throw transportError('ERR_TCP_USAGE', `no task with ITT ${itt}`);
    return task;
  }
}

/** True for a Login Response that ends the login phase successfully (T=1, NSG=FullFeaturePhase, status 0). */
function endsLogin(pdu: Pdu): boolean {
  return (
    pdu.kind === 'login-response' &&
    pdu.transit &&
    pdu.nextStage === LoginStage.FullFeaturePhase &&
    pdu.statusClass === 0
  );
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw transportError('ERR_TCP_USAGE', `bad range (${offset}, ${length})`);
  }
}

function transportError(
  code: TcpTransportErrorCode,
  message: string,
  cause?: unknown,
  rejectReason?: RejectReason,
  header?: Buffer,
): TcpTransportError {
  return new TcpTransportError(code, message, {
    ...(cause !== undefined && { cause }),
    ...(rejectReason !== undefined && { rejectReason }),
    ...(header !== undefined && { header: Buffer.from(header) }),
  });
}
