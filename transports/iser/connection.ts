/**
 * iSER (RFC 7145) as a Datamover (protocol/datamover.ts), for either role, over one RC connection of any Verbs
 * provider.
 *
 * Every control-type PDU is one Send: a registered header slot [iSER header | BHS | AHS] and, when there is one,
 * the data segment as a second SGE; no padding, no digests. The target never sends Data-In or R2T: putData is an
 * RDMA Write into the initiator's Read STag, getData an RDMA Read from its Write STag (plus the immediate and
 * unsolicited data that came in Sends), and the SCSI Response Send follows the RDMA Writes on the same QP, so RC
 * ordering places the data first.
 *
 * Login phase: the initiator posts one 8268-byte receive before each Login Request; the target posts one before the
 * first request and one with each Login Response that keeps the login going. `enable()` checks RDMAExtensions=Yes
 * (a discovery session may run without it), posts the full-feature receive ring sized from the RDSL keys and turns
 * on flow control of unexpected PDUs (credit-gate.ts).
 *
 * Failures: a work completion with an error status (other than a flush), a QP error or a peer breaking an iSER rule
 * errors `pdus` with an {@link IserTransportError} naming the operation and the status, and the connection is torn
 * down. close() disconnects and resolves once every outstanding work request has been flushed (the completion
 * stream completed).
 */
import { asyncScheduler, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type {
  DatamoverConnection,
  InitiatorTaskBuffers,
  InitiatorTaskResult,
  PortalAddress,
  SequenceSource,
  TargetTaskRef,
} from '../../protocol/datamover.js';
import {
  decodePdu,
  LoginStage,
  PduDecodeError,
  PduEncodeError,
  peekBhs,
  RESERVED_TAG,
  type IserControlHeader,
  type Pdu,
  type ScsiCommandPdu,
  type ScsiDataOutPdu,
} from '../../protocol/pdu/index.js';
import { commandFinalBit, commandDataViolation } from '../../protocol/session/data-sequencing.js';
import { sliceChunks, totalLength } from '../../protocol/session/data-sequencing-chunks.js';
import type { NegotiatedParams } from '../../protocol/text/index.js';
import { InboundPdus } from '../common/inbound-pdus.js';
import { CONTROL_KINDS, INITIATOR_KINDS, type ConnectionRole } from '../common/pdu-kinds.js';
import {
  Access,
  type ConnectionEvent,
  type MemoryRegion,
  type QpCapabilities,
  type RdmaConnection,
  type SendWorkRequest,
  type WcStatus,
  type WorkCompletion,
} from '../verbs.js';
import { CreditGate, type CreditPool } from './credit-gate.js';
import { explainStatus, iserError, IserTransportError, type IserTransportErrorCode } from './errors.js';
import { parseInboundSend } from './inbound-send.js';
import { IserInitiatorTasks, type IserInitiatorTask } from './initiator-tasks.js';
import { encodeSend, prepareSend, SEND_SLOT_LENGTH, SEND_SLOTS_PER_SLAB, type EncodedSend } from './outbound-send.js';
import { ReceiveBuffers, type ReceiveBuffer } from './receive-buffers.js';
import { Registrar, releaseAll, type RegistrationStats } from './registrar.js';
import {
  dataSegmentBounds,
  DEFAULT_QUEUE_DEPTH,
  LOGIN_DATA_SEGMENT_LENGTH,
  LOGIN_RECEIVE_LENGTH,
  receiveBufferLength,
  checkMaxReceiveDataSegmentLength,
  RECEIVE_DATA_SEGMENT_LENGTH_CAP,
  receiveRingDepth,
  sendCreditLimits,
} from './sizing.js';
import { SlotPool } from './slot-pool.js';
import { IserTargetTasks, type IserTargetTask } from './target-tasks.js';
import { WorkRequests } from './work-requests.js';

/** Which end of the iSCSI connection this is. */
export type IserRole = ConnectionRole;

/** Options shared by the connector, the listener and the connections they make. */
export interface IserConnectionOptions {
  /** Source of every timer (the close bound). Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Tasks in flight this side plans for (queue sizes, credits, receive ring). Default 128. */
  readonly queueDepth?: number;
  /** How long close() waits for the flushes to drain before giving up on them. Default 2 s. */
  readonly closeTimeoutMs?: number;
  /**
   * The largest data segment this side is willing to receive per PDU: the most its RDSL key (InitiatorRecvDataSegmentLength
   * at an initiator, TargetRecvDataSegmentLength at a target) may settle at, and so the size of every full-feature
   * receive buffer. 512..262144 (`RECEIVE_DATA_SEGMENT_LENGTH_CAP`), default 8192; outside that the connector or
   * listener refuses the options with `ERR_ISER_CONFIG`. Both RDSL keys take the minimum of the two offers
   * (RFC 7145 §6.4, §6.5), so the session's offer of our key must not exceed this: if the login settles above it,
   * `enable()` fails with `ERR_ISER_RECEIVE_LIMIT` rather than post buffers larger than configured.
   */
  readonly maxReceiveDataSegmentLength?: number;
}

/** Default of {@link IserConnectionOptions.closeTimeoutMs}. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;

/** What a connection is built from (the connector or listener fills it in). */
export interface IserConnectionInit extends IserConnectionOptions {
  readonly role: IserRole;
  readonly rdma: RdmaConnection;
  /** The queue sizes the QP was created with. */
  readonly qp: QpCapabilities;
  /** Initiator: we told the target it may invalidate our STags (Send with Invalidate). */
  readonly allowRemoteInvalidate: boolean;
  /** Target: we answer SCSI Responses with Send with Invalidate (the initiator allowed it, the device can). */
  readonly useSendWithInvalidate: boolean;
  /** Largest message one work request may carry (the provider's `maxMessageSize`). */
  readonly maxMessageSize: number;
}

/** What a connection has done, for tests and diagnostics. */
export interface IserConnectionStats {
  /** Caller memory registered in place vs bounced (and the bytes bounced). */
  readonly registrations: Readonly<RegistrationStats>;
  /** Control-data bytes (keys, sense, NOP data) copied into header slots or out of receive buffers. */
  readonly controlCopyBytes: number;
  /** Bytes of each full-feature receive buffer, and how many the ring keeps posted (0 before enable). */
  readonly receiveBufferLength: number;
  readonly receiveRingDepth: number;
  /** Receives posted now, and receive buffers lent to tasks (holding their unsolicited data). */
  readonly receivesPosted: number;
  readonly receiveBuffersLent: number;
  /** Sends posted and not completed; sends waiting for room in the QP. */
  readonly sendsInFlight: number;
  readonly sendsQueued: number;
  /** Unexpected PDUs outstanding at the peer, and waiting for a credit, per pool. */
  readonly credits: Readonly<Record<CreditPool, { readonly outstanding: number; readonly queued: number }>>;
}

/** What a failed work request was doing, to explain its failure. */
interface Operation {
  /** e.g. `RDMA Read of 4096 bytes from the initiator (ITT 0x00000001, offset 0)`. */
  readonly what: string;
  /** Why a given status happened, in iSER terms. */
  readonly detail?: (status: WcStatus) => string | undefined;
}

/** A putData/getData in progress. */
interface PendingOperation {
  readonly reject: (error: Error) => void;
}

/** One iSER connection, either role. */
export class IserConnection implements DatamoverConnection {
  /** Always 'iser'. */
  readonly kind = 'iser' as const;
  readonly local: PortalAddress;
  readonly remote: PortalAddress;
  readonly pdus: Observable<Pdu>;
  /** Which end this is. */
  readonly role: IserRole;

  private readonly rdma: RdmaConnection;
  private readonly qp: QpCapabilities;
  private readonly scheduler: SchedulerLike;
  private readonly queueDepth: number;
  private readonly closeTimeoutMs: number;
  private readonly useSendWithInvalidate: boolean;
  private readonly maxMessageSize: number;
  private readonly maxReceiveDataSegmentLength: number;
  private readonly inbound = new InboundPdus();
  private readonly requests: WorkRequests;
  private readonly receives: ReceiveBuffers;
  private readonly slots: SlotPool;
  private readonly registrar: Registrar;
  private readonly initiatorTasks = new IserInitiatorTasks();
  private targetTasks: IserTargetTasks | undefined;
  private gate: CreditGate | undefined;
  private params: NegotiatedParams | undefined;
  private sequence: SequenceSource | undefined;
  private bounds = { receive: LOGIN_DATA_SEGMENT_LENGTH, send: LOGIN_DATA_SEGMENT_LENGTH };
  private readonly results = new Map<number, InitiatorTaskResult>();
  private readonly pending = new Set<PendingOperation>();
  private controlCopyBytes = 0;
  private asyncSerial = 0;
  private closed = false;
  private failure: IserTransportError | undefined;
  private teardownPromise: Promise<void> | undefined;
  private readonly drained: Promise<void>;
  private readonly subscriptions: Subscription[] = [];

  constructor(init: IserConnectionInit) {
    this.role = init.role;
    this.rdma = init.rdma;
    this.qp = init.qp;
    this.scheduler = init.scheduler ?? asyncScheduler;
    this.queueDepth = Math.max(1, init.queueDepth ?? DEFAULT_QUEUE_DEPTH);
    this.closeTimeoutMs = init.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.useSendWithInvalidate = init.useSendWithInvalidate;
    this.maxMessageSize = Math.max(1, init.maxMessageSize);
    this.maxReceiveDataSegmentLength = checkMaxReceiveDataSegmentLength(init.maxReceiveDataSegmentLength);
    this.local = { host: init.rdma.local.host, port: init.rdma.local.port };
    this.remote = { host: init.rdma.remote.host, port: init.rdma.remote.port };
    this.pdus = this.inbound.observable;
    this.requests = new WorkRequests(init.rdma, init.qp.maxSendWr, (err) => {
      this.fail(wrapVerbs(err, 'posting a queued work request'));
    });
    this.receives = new ReceiveBuffers(init.rdma.pd, this.requests, (wc, buffer) => {
      this.onReceive(wc, buffer);
    });
    this.slots = new SlotPool(init.rdma.pd, {
      slotLength: SEND_SLOT_LENGTH,
      slotsPerSlab: SEND_SLOTS_PER_SLAB,
      access: 0,
    });
    this.registrar = new Registrar(init.rdma.pd, init.role === 'initiator' && init.allowRemoteInvalidate);
    this.drained = new Promise((resolve) => {
      this.subscriptions.push(
        init.rdma.completions.subscribe({
          next: (wc) => {
            this.requests.complete(wc);
          },
          complete: () => {
            resolve();
          },
          error: () => {
            resolve();
          },
        }),
      );
    });
    this.subscriptions.push(
      init.rdma.events.subscribe({
        next: (event) => {
          this.onEvent(event);
        },
      }),
    );
    // The target's first login receive: the initiator's first Login Request can come as soon as it has our REP.
    if (this.role === 'target') this.receives.postOne(LOGIN_RECEIVE_LENGTH);
  }

  /** What this connection has done so far. */
  get stats(): IserConnectionStats {
    const credit = (pool: CreditPool): { outstanding: number; queued: number } => ({
      outstanding: this.gate?.outstanding(pool) ?? 0,
      queued: this.gate?.queued(pool) ?? 0,
    });
    return {
      registrations: { ...this.registrar.stats },
      controlCopyBytes: this.controlCopyBytes,
      receiveBufferLength: this.receives.bufferLength,
      receiveRingDepth: this.receives.depth,
      receivesPosted: this.receives.postedCount,
      receiveBuffersLent: this.receives.lentCount,
      sendsInFlight: this.requests.sendsInFlight,
      sendsQueued: this.requests.sendsQueued,
      credits: { commands: credit('commands'), control: credit('control') },
    };
  }

  /**
   * Initiator: the outcome of a task whose SCSI Response arrived (bytesRead = read length minus residual: over iSER
   * there is no Data-In to count), until taskDone.
   */
  taskResult(itt: number): InitiatorTaskResult | undefined {
    return this.results.get(itt);
  }

  // ------------------------------------------------------------------------------------------------ outbound

  sendControl(pdu: Pdu): void {
    this.checkOpen();
    if (!CONTROL_KINDS[this.role].has(pdu.kind)) {
      throw iserError('ERR_ISER_USAGE', `sendControl cannot send ${pdu.kind} from the ${this.role}`);
    }
    const data = 'data' in pdu ? pdu.data : [];
    const length = totalLength(data);
    if (length > this.bounds.send) {
      throw iserError(
        'ERR_ISER_USAGE',
        `${pdu.kind} data segment of ${length} bytes exceeds the ${this.bounds.send} bytes the peer receives (${this.params === undefined ? 'login phase' : 'its RecvDataSegmentLength'})`,
      );
    }
    const encoded = this.encode(pdu, { kind: 'control' }, { kind: 'control', chunks: data });
    let opcode: SendWorkRequest['opcode'] = 'SEND';
    let invalidateRkey = 0;
    if (pdu.kind === 'scsi-response' && this.useSendWithInvalidate) {
      // isert's choice: invalidate the Read STag if there is one, else the Write STag.
      const task = this.targetTasks?.get(pdu.itt);
      const stag = task?.read?.stag ?? task?.write?.stag;
      if (stag !== undefined) {
        opcode = 'SEND_WITH_INV';
        invalidateRkey = stag;
      }
    }
    if (this.params === undefined) this.postLoginReceive(pdu);
    const what = `Send of ${pdu.kind}${'itt' in pdu ? ` (ITT 0x${hex(pdu.itt)})` : ''}`;
    const post = (onDone?: () => void): void => {
      this.postSend(encoded, what, { opcode, invalidateRkey, onDone });
    };
    const credit = this.creditOf(pdu);
    if (credit === undefined || this.gate === undefined) {
      post();
      return;
    }
    const gate = this.gate;
    if (credit.releaseOnCompletion) {
      gate.submit('control', credit.key, () => {
        post(() => {
          gate.release('control', credit.key);
        });
      });
    } else {
      gate.submit(credit.pool, credit.key, () => {
        post();
      });
    }
  }

  sendCommand(pdu: ScsiCommandPdu, buffers: InitiatorTaskBuffers): void {
    this.checkRole('initiator', 'sendCommand');
    const params = this.enabledParams();
    const writeData = buffers.writeData ?? [];
    const writeLength = totalLength(writeData);
    const violation = commandDataViolation(params, pdu.expectedDataTransferLength, writeLength, buffers);
    if (violation !== undefined) throw iserError('ERR_ISER_USAGE', violation);
    const prepared = this.initiatorTasks.prepare(this.registrar, pdu, buffers, this.bounds.send);
    const task = prepared.task;
    const sends: { encoded: EncodedSend; what: string }[] = [];
    try {
      const iser: IserControlHeader = { kind: 'control', read: task.readTag, write: task.writeTag };
      const immediate = prepared.immediate;
      const command: ScsiCommandPdu = {
        ...pdu,
        final: commandFinalBit(buffers),
        data: immediate === undefined ? [] : [sgeView(immediate.sge)],
      };
      sends.push({
        encoded: this.encode(
          command,
          iser,
          immediate === undefined ? { kind: 'none' } : { kind: 'registered', sge: immediate.sge },
        ),
        what: `Send of scsi-command (ITT 0x${hex(pdu.itt)})`,
      });
      const expStatSN = this.sequence?.expStatSN() ?? 0;
      prepared.dataOuts.forEach((piece, index) => {
        const dataOut: ScsiDataOutPdu = {
          kind: 'scsi-data-out',
          final: index === prepared.dataOuts.length - 1,
          lun: pdu.lun,
          itt: pdu.itt,
          ttt: RESERVED_TAG,
          expStatSN,
          dataSN: index,
          bufferOffset: piece.offset,
          data: [sgeView(piece.sge)],
        };
        sends.push({
          encoded: this.encode(dataOut, { kind: 'control' }, { kind: 'registered', sge: piece.sge }),
          what: `Send of unsolicited Data-Out (ITT 0x${hex(pdu.itt)}, offset ${piece.offset})`,
        });
      });
    } catch (err) {
      this.initiatorTasks.done(pdu.itt);
      throw err;
    }
    const postAll = (): void => {
      for (const send of sends) {
        task.sendsInFlight++;
        this.postSend(send.encoded, send.what, {
          owner: pdu.itt,
          onDone: () => {
            this.initiatorTasks.sendCompleted(task);
          },
        });
      }
    };
    const gate = this.gate;
    if (gate === undefined) postAll();
    else gate.submit('commands', ittKey(pdu.itt), postAll, pdu.itt);
  }

  async putData(task: TargetTaskRef, offset: number, data: readonly Buffer[]): Promise<void> {
    this.checkRole('target', 'putData');
    this.enabledParams();
    const state = this.knownTargetTask(task.itt);
    const length = totalLength(data);
    checkRange(offset, length);
    if (length === 0) return;
    if (offset + length > state.readLength) {
      throw iserError(
        'ERR_ISER_USAGE',
        `putData(${offset}, ${length}) goes beyond the ${state.readLength}-byte read of ITT 0x${hex(task.itt)}`,
      );
    }
    const read = state.read;
    if (read === undefined) throw iserError('ERR_ISER_USAGE', `ITT 0x${hex(task.itt)} has no Read STag`);
    checkAddressRange(read.va, offset + length, 'Read');
    const regions: MemoryRegion[] = [];
    const wrs: { wr: SendWorkRequest; operation: Operation }[] = [];
    let position = offset;
    for (const chunk of data) {
      if (chunk.length === 0) continue;
      let mr = this.registrar.inPlace(chunk, 0, false);
      if (mr === undefined) {
        mr = this.registrar.bounce(chunk.length, 0, false, (into) => chunk.copy(into));
      }
      regions.push(mr);
      for (let at = 0; at < chunk.length; at += this.maxMessageSize) {
        const n = Math.min(this.maxMessageSize, chunk.length - at);
        const writeOffset = position + at;
        const remoteAddr = read.va + BigInt(writeOffset);
        wrs.push({
          wr: {
            opcode: 'RDMA_WRITE',
            wrId: this.requests.allocate(),
            sgl: [{ mr, offset: at, length: n }],
            remoteAddr,
            rkey: read.stag,
            signaled: true,
          },
          operation: {
            what: `RDMA Write of ${n} bytes to the initiator (ITT 0x${hex(task.itt)}, offset ${writeOffset})`,
            detail: (status) =>
              status === 'REM_ACCESS_ERR'
                ? `the initiator's Read STag 0x${hex(read.stag)} did not cover VA 0x${remoteAddr.toString(16)} + ${n} (offset ${writeOffset} of a ${state.readLength}-byte read)`
                : undefined,
          },
        });
      }
      position += chunk.length;
    }
    await this.runRdma(state, wrs, regions);
  }

  async getData(task: TargetTaskRef, offset: number, length: number): Promise<readonly Buffer[]> {
    this.checkRole('target', 'getData');
    this.enabledParams();
    const state = this.knownTargetTask(task.itt);
    checkRange(offset, length);
    if (offset + length > state.edtl) {
      throw iserError('ERR_ISER_USAGE', `getData(${offset}, ${length}) exceeds EDTL ${state.edtl}`);
    }
    const end = offset + length;
    const unsolicitedUntil = Math.max(offset, Math.min(end, state.unsolicitedEnd));
    const solicitedFrom = Math.max(offset, state.unsolicitedEnd);
    const solicitedLength = end - solicitedFrom;
    const [head, tail] = await Promise.all([
      unsolicitedUntil > offset && unsolicitedUntil > state.unsolicitedReceived
        ? this.awaitUnsolicited(state, unsolicitedUntil)
        : Promise.resolve(),
      solicitedLength > 0 ? this.rdmaRead(state, solicitedFrom, solicitedLength) : Promise.resolve(undefined),
    ]).then(
      ([, read]) =>
        [
          state.unsolicited.length === 0 ? [] : sliceChunks(state.unsolicited, offset, unsolicitedUntil - offset),
          read,
        ] as const,
    );
    return tail === undefined ? head : [...head, tail];
  }

  taskDone(itt: number): void {
    if (this.role === 'initiator') {
      this.gate?.cancel(itt);
      this.gate?.releaseAll(ittKey(itt));
      this.requests.cancelQueued(itt);
      this.initiatorTasks.done(itt);
      this.results.delete(itt);
      return;
    }
    const error = iserError('ERR_ISER_TASK_DONE', `task 0x${hex(itt)} finished while its data was moving`);
    const done = this.targetTasks?.done(itt, error);
    this.requests.cancelQueued(itt);
    if (done === undefined) return;
    for (const op of [...done.operations]) op.reject(error);
    this.returnLent(done);
  }

  enable(params: NegotiatedParams, sequence: SequenceSource): void {
    this.checkOpen();
    if (this.params !== undefined) throw iserError('ERR_ISER_USAGE', 'enable() was already called');
    const refusal = iserRefusal(params, this.role);
    if (refusal !== undefined) {
      const error = iserError('ERR_ISER_NOT_NEGOTIATED', refusal);
      this.fail(error);
      throw error;
    }
    const bounds = dataSegmentBounds(params, this.role);
    // Our receive buffers are sized by the key we declared (what the peer may send us), never by the peer's own
    // declaration, which only bounds our Sends (sized by their data). Past our configured maximum we refuse.
    if (bounds.receive > this.maxReceiveDataSegmentLength) {
      const key = !params.rdmaExtensions
        ? 'MaxRecvDataSegmentLength'
        : this.role === 'initiator'
          ? 'InitiatorRecvDataSegmentLength'
          : 'TargetRecvDataSegmentLength';
      const error = iserError(
        'ERR_ISER_RECEIVE_LIMIT',
        `the login settled ${key}=${bounds.receive}, above the ${this.maxReceiveDataSegmentLength} bytes this ${this.role} ` +
          `receives per PDU (maxReceiveDataSegmentLength; at most ${RECEIVE_DATA_SEGMENT_LENGTH_CAP}): offer at most that, ` +
          `or raise the option`,
      );
      this.fail(error);
      throw error;
    }
    this.params = params;
    this.sequence = sequence;
    this.bounds = bounds;
    this.gate = new CreditGate(sendCreditLimits(params, this.role, this.queueDepth));
    if (this.role === 'target') this.targetTasks = new IserTargetTasks(params);
    try {
      this.receives.startRing(
        receiveBufferLength(params, this.role),
        receiveRingDepth(params, this.role, this.queueDepth, this.qp.maxRecvWr),
      );
    } catch (err) {
      const error = wrapVerbs(err, 'posting the full-feature receive ring');
      this.fail(error);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (!this.closed) this.shutDown(iserError('ERR_ISER_CLOSED', 'the connection was closed'), false);
    await this.teardown();
  }

  // ------------------------------------------------------------------------------------------------ inbound

  private onReceive(wc: WorkCompletion, buffer: ReceiveBuffer): void {
    if (this.closed || wc.status === 'WR_FLUSH_ERR') return;
    if (wc.status !== 'SUCCESS') {
      this.fail(this.receiveFailure(wc.status, buffer.buffer.length));
      return;
    }
    let lent = false;
    try {
      const bytes = buffer.buffer.subarray(0, wc.byteLen);
      const send = parseInboundSend(bytes, this.role, this.bounds.receive);
      // The header is copied (76+ bytes): the buffer goes back to the ring while the core may keep the PDU.
      const header = Buffer.from(send.header);
      let data: Buffer[] = [];
      if (send.data !== undefined) {
        if (this.mayLend(header, send.data, buffer)) {
          data = [send.data];
          lent = true;
        } else {
          data = [Buffer.from(send.data)];
          this.controlCopyBytes += send.data.length;
        }
      }
      const pdu = decodePdu(header, data);
      const kept = this.dispatch(pdu, send.iser, wc.invalidatedRkey, lent ? buffer : undefined);
      if (lent && !kept) lent = false;
    } catch (err) {
      lent = false;
      if (err instanceof IserTransportError) this.fail(err);
      else if (err instanceof PduDecodeError) {
        this.fail(iserError('ERR_ISER_PROTOCOL', `the peer sent an undecodable PDU: ${err.message}`, { cause: err }));
      } else throw err;
    }
    if (this.isClosed()) return;
    try {
      if (lent) this.receives.lend();
      else this.receives.recycle(buffer);
    } catch (err) {
      this.fail(wrapVerbs(err, 'reposting a receive buffer'));
    }
  }

  /**
   * Lend the buffer (zero copy) only for SCSI write data at the target, and only when the data fills a quarter of the
   * buffer: small pieces are copied, so a peer sending many tiny Data-Outs cannot pin a buffer per byte.
   */
  private mayLend(header: Buffer, data: Buffer, buffer: ReceiveBuffer): boolean {
    if (this.role !== 'target' || this.params === undefined) return false;
    const opcode = peekBhs(header).opcode;
    const carriesWriteData = opcode === 0x01 || opcode === 0x05;
    return carriesWriteData && data.length * 4 >= buffer.buffer.length;
  }

  /** Handles one inbound PDU; returns true when a lent buffer was kept by a task. */
  private dispatch(
    pdu: Pdu,
    iser: IserControlHeader,
    invalidatedRkey: number | undefined,
    lent: ReceiveBuffer | undefined,
  ): boolean {
    const fromInitiator = INITIATOR_KINDS.has(pdu.kind);
    if (fromInitiator !== (this.role === 'target')) {
      throw iserError(
        'ERR_ISER_PROTOCOL',
        `the ${this.role} received ${pdu.kind}, which only ${this.role === 'target' ? 'a target' : 'an initiator'} sends`,
      );
    }
    if (pdu.kind === 'scsi-data-in' || pdu.kind === 'r2t') {
      throw iserError(
        'ERR_ISER_PROTOCOL',
        `the target sent ${pdu.kind === 'r2t' ? 'an R2T' : 'a Data-In'} PDU (ITT 0x${hex(pdu.itt)}): over iSER it must ${pdu.kind === 'r2t' ? 'RDMA-Read solicited data' : 'RDMA-Write read data'} instead (RFC 7145 §7.3)`,
      );
    }
    if (invalidatedRkey !== undefined && pdu.kind !== 'scsi-response') {
      throw iserError(
        'ERR_ISER_PROTOCOL',
        `the target invalidated rkey 0x${hex(invalidatedRkey)} with a ${pdu.kind}: only a SCSI Response may carry Send with Invalidate`,
      );
    }
    return this.role === 'initiator'
      ? this.dispatchAtInitiator(pdu, invalidatedRkey)
      : this.dispatchAtTarget(pdu, iser, lent);
  }

  private dispatchAtInitiator(pdu: Pdu, invalidatedRkey: number | undefined): boolean {
    switch (pdu.kind) {
      case 'scsi-response': {
        const task = this.initiatorTasks.get(pdu.itt);
        if (invalidatedRkey !== undefined) this.noteInvalidation(task, pdu.itt, invalidatedRkey);
        if (task !== undefined) this.results.set(pdu.itt, this.initiatorTasks.respond(task, pdu, this.registrar));
        this.gate?.release('commands', ittKey(pdu.itt));
        break;
      }
      case 'task-management-response':
      case 'text-response':
      case 'logout-response':
        this.gate?.release('control', ittKey(pdu.itt));
        break;
      case 'nop-in':
        if (pdu.itt !== RESERVED_TAG) this.gate?.release('control', ittKey(pdu.itt));
        break;
      case 'reject': {
        // The rejected PDU's header comes back in the data segment: its ITT frees the credit it held.
        const rejected = pdu.data[0];
        if (rejected !== undefined && rejected.length >= 20) this.gate?.releaseAll(ittKey(rejected.readUInt32BE(16)));
        break;
      }
      default:
        break;
    }
    this.deliver(pdu);
    return false;
  }

  private dispatchAtTarget(pdu: Pdu, iser: IserControlHeader, lent: ReceiveBuffer | undefined): boolean {
    switch (pdu.kind) {
      case 'scsi-command': {
        const task = this.enabledTargetTasks('SCSI Command').addCommand(pdu, iser);
        if (lent !== undefined) task.lent.push(lent);
        this.deliver(pdu);
        return lent !== undefined;
      }
      case 'scsi-data-out': {
        const task = this.enabledTargetTasks('Data-Out').dataOut(pdu);
        if (task === undefined || lent === undefined) return false;
        task.lent.push(lent);
        return true;
      }
      case 'nop-out':
        if (pdu.ttt !== RESERVED_TAG) this.gate?.release('control', tttKey(pdu.ttt));
        break;
      default:
        break;
    }
    this.deliver(pdu);
    return false;
  }

  /** A Send with Invalidate must name one of the task's own STags; we then skip deregistering it. */
  private noteInvalidation(task: IserInitiatorTask | undefined, itt: number, rkey: number): void {
    if (task === undefined || (task.readTag?.stag !== rkey && task.writeTag?.stag !== rkey)) {
      throw iserError(
        'ERR_ISER_PROTOCOL',
        `the target's SCSI Response for ITT 0x${hex(itt)} invalidated rkey 0x${hex(rkey)}, which is not one of that task's STags`,
      );
    }
    task.invalidatedRkey = rkey;
  }

  private onEvent(event: ConnectionEvent): void {
    if (this.closed) return;
    if (event.type === 'qp-error') {
      const status = event.status;
      const detail =
        status === 'REM_ACCESS_ERR'
          ? 'the peer used an STag, address or length outside what we registered for it'
          : explainStatus(status);
      this.fail(
        iserError('ERR_ISER_CONNECTION_LOST', `the connection's queue pair failed: ${status} (${detail})`, {
          wcStatus: status,
          operation: 'queue pair',
        }),
      );
      return;
    }
    // An orderly disconnect by the peer ends the connection like a TCP FIN: closed, not failed.
    this.shutDown(iserError('ERR_ISER_CLOSED', 'the peer disconnected'), true);
  }

  private deliver(pdu: Pdu): void {
    if (!this.inbound.push(pdu)) {
      throw iserError('ERR_ISER_RESOURCES', 'too many PDUs arrived before anyone subscribed to pdus');
    }
  }

  // ------------------------------------------------------------------------------------------------ work requests

  private encode(pdu: Pdu, iser: IserControlHeader, data: Parameters<typeof encodeSend>[2]): EncodedSend {
    try {
      return encodeSend(pdu, iser, data);
    } catch (err) {
      if (err instanceof PduEncodeError)
        throw iserError('ERR_ISER_USAGE', `cannot encode ${pdu.kind}: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** Materializes and posts one Send; its slot and temporary registrations are released on completion. */
  private postSend(
    encoded: EncodedSend,
    what: string,
    options: {
      readonly opcode?: SendWorkRequest['opcode'];
      readonly invalidateRkey?: number;
      readonly owner?: number;
      readonly onDone?: () => void;
    },
  ): void {
    if (this.closed) {
      options.onDone?.();
      return;
    }
    let prepared;
    try {
      prepared = prepareSend(this.slots, this.registrar, encoded);
    } catch (err) {
      options.onDone?.();
      this.fail(wrapVerbs(err, `preparing the ${what}`));
      return;
    }
    this.controlCopyBytes += prepared.controlCopied;
    const wrId = this.requests.allocate();
    const wr: SendWorkRequest =
      options.opcode === 'SEND_WITH_INV'
        ? {
            opcode: 'SEND_WITH_INV',
            wrId,
            sgl: prepared.sgl,
            invalidateRkey: options.invalidateRkey ?? 0,
            signaled: true,
          }
        : { opcode: 'SEND', wrId, sgl: prepared.sgl, signaled: true };
    const operation: Operation = {
      what: `${what} (${prepared.length} bytes)`,
      detail: (status) =>
        status === 'REM_INV_REQ_ERR'
          ? `the peer refused it: ${prepared.length} bytes are probably more than the receive buffer it posted`
          : status === 'RNR_RETRY_EXC_ERR'
            ? 'the peer kept no receive buffer posted for it'
            : undefined,
    };
    const slot = prepared.slot;
    const temporary = prepared.temporary;
    try {
      this.requests.send(
        wr,
        (wc) => {
          this.slots.give(slot);
          releaseAll(temporary);
          options.onDone?.();
          this.checkCompletion(wc, operation);
        },
        options.owner,
      );
    } catch (err) {
      this.slots.give(slot);
      releaseAll(temporary);
      options.onDone?.();
      this.fail(wrapVerbs(err, `posting the ${what}`));
    }
  }

  /** Posts RDMA operations of a task; resolves when all completed, rejects with the connection's error otherwise. */
  private runRdma(
    task: IserTargetTask,
    wrs: readonly { wr: SendWorkRequest; operation: Operation }[],
    regions: readonly MemoryRegion[],
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let left = wrs.length;
      let failed: Error | undefined;
      let settled = false;
      // taskDone or the connection's end settle the caller's promise at once; the work requests still complete
      // (or flush) later and only then are the regions released.
      const op: PendingOperation = {
        reject: (error) => {
          if (settled) return;
          settled = true;
          this.pending.delete(op);
          task.operations.delete(op);
          reject(error);
        },
      };
      this.pending.add(op);
      task.operations.add(op);
      const finish = (): void => {
        releaseAll(regions);
        if (failed === undefined && !task.done) {
          if (settled) return;
          settled = true;
          this.pending.delete(op);
          task.operations.delete(op);
          resolve();
        } else {
          op.reject(failed ?? this.endedError(task.itt));
        }
      };
      if (left === 0) {
        finish();
        return;
      }
      for (const { wr, operation } of wrs) {
        task.rdmaInFlight++;
        const onComplete = (wc: WorkCompletion): void => {
          task.rdmaInFlight--;
          if (wc.status !== 'SUCCESS' && failed === undefined) {
            failed = this.checkCompletion(wc, operation) ?? this.endedError(task.itt);
          }
          if (--left === 0) finish();
        };
        try {
          this.requests.send(wr, onComplete, task.itt);
        } catch (err) {
          const error = wrapVerbs(err, `posting the ${operation.what}`);
          this.fail(error);
          onComplete({ wrId: wr.wrId, status: 'WR_FLUSH_ERR', opcode: 'RDMA_WRITE', byteLen: 0 });
        }
      }
    });
  }

  /** RDMA-Reads `length` bytes of the write at `offset` (≥ unsolicitedEnd) into a registered buffer of ours. */
  private async rdmaRead(task: IserTargetTask, offset: number, length: number): Promise<Buffer> {
    const write = task.write;
    if (write === undefined) {
      throw iserError('ERR_ISER_PROTOCOL', `ITT 0x${hex(task.itt)} needs solicited data but has no Write STag`);
    }
    // The Write VA is write offset `unsolicitedEnd`: the first byte not already sent unsolicited.
    const remoteOffset = offset - task.unsolicitedEnd;
    checkAddressRange(write.va, remoteOffset + length, 'Write');
    const buffer = Buffer.alloc(length);
    const mr = this.registrar.own(buffer, Access.LOCAL_WRITE);
    const wrs: { wr: SendWorkRequest; operation: Operation }[] = [];
    for (let at = 0; at < length; at += this.maxMessageSize) {
      const n = Math.min(this.maxMessageSize, length - at);
      const remoteAddr = write.va + BigInt(remoteOffset + at);
      const writeOffset = offset + at;
      wrs.push({
        wr: {
          opcode: 'RDMA_READ',
          wrId: this.requests.allocate(),
          sgl: [{ mr, offset: at, length: n }],
          remoteAddr,
          rkey: write.stag,
          signaled: true,
        },
        operation: {
          what: `RDMA Read of ${n} bytes from the initiator (ITT 0x${hex(task.itt)}, offset ${writeOffset})`,
          detail: (status) =>
            status === 'REM_ACCESS_ERR'
              ? `the initiator's Write STag 0x${hex(write.stag)} did not cover VA 0x${remoteAddr.toString(16)} + ${n} (write offset ${writeOffset}; its Write VA is offset ${task.unsolicitedEnd})`
              : undefined,
        },
      });
    }
    await this.runRdma(task, wrs, [mr]);
    return buffer;
  }

  private awaitUnsolicited(task: IserTargetTask, until: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const op: PendingOperation = { reject };
      this.pending.add(op);
      task.waiters.add({
        until,
        resolve: () => {
          this.pending.delete(op);
          resolve();
        },
        reject: (error) => {
          this.pending.delete(op);
          reject(error);
        },
      });
    });
  }

  /** Fails the connection on an error completion (not a flush); returns the error, if any. */
  private checkCompletion(wc: WorkCompletion, operation: Operation): IserTransportError | undefined {
    if (wc.status === 'SUCCESS') return undefined;
    if (wc.status === 'WR_FLUSH_ERR') return this.failure;
    const detail = operation.detail?.(wc.status) ?? explainStatus(wc.status);
    const error = iserError('ERR_ISER_COMPLETION', `${operation.what} failed: ${wc.status} (${detail})`, {
      wcStatus: wc.status,
      operation: operation.what,
    });
    this.fail(error);
    return this.failure ?? error;
  }

  private receiveFailure(status: WcStatus, capacity: number): IserTransportError {
    const detail =
      status === 'LOC_LEN_ERR'
        ? `a Send from the peer did not fit our ${capacity}-byte receive buffer: it ignored the ${this.bounds.receive}-byte ${this.params === undefined ? 'login-phase limit' : 'RecvDataSegmentLength we declared'}`
        : explainStatus(status);
    return iserError('ERR_ISER_COMPLETION', `a receive failed: ${status} (${detail})`, {
      wcStatus: status,
      operation: 'receive',
    });
  }

  /** Login phase: a receive for the one Login PDU the peer will answer with. */
  private postLoginReceive(pdu: Pdu): void {
    const expectsAnswer =
      (this.role === 'initiator' && pdu.kind === 'login-request') ||
      (this.role === 'target' &&
        pdu.kind === 'login-response' &&
        pdu.statusClass === 0 &&
        !(pdu.transit && pdu.nextStage === LoginStage.FullFeaturePhase));
    if (!expectsAnswer) return;
    try {
      this.receives.postOne(LOGIN_RECEIVE_LENGTH);
    } catch (err) {
      const error = wrapVerbs(err, 'posting a login receive');
      this.fail(error);
      throw error;
    }
  }

  /** Which credit a PDU takes, if it is "unexpected" for the peer. */
  private creditOf(
    pdu: Pdu,
  ): { readonly pool: CreditPool; readonly key: string; readonly releaseOnCompletion?: boolean } | undefined {
    switch (pdu.kind) {
      case 'nop-out':
        return pdu.itt === RESERVED_TAG ? undefined : { pool: 'control', key: ittKey(pdu.itt) };
      case 'task-management-request':
      case 'text-request':
      case 'logout-request':
        return { pool: 'control', key: ittKey(pdu.itt) };
      case 'nop-in':
        return pdu.ttt === RESERVED_TAG ? undefined : { pool: 'control', key: tttKey(pdu.ttt) };
      case 'async-message':
        // No answer comes for an Async Message: its credit returns when the Send completes (the initiator reposts
        // receives as it consumes them).
        return { pool: 'control', key: `async:${this.asyncSerial++}`, releaseOnCompletion: true };
      default:
        return undefined;
    }
  }

  // ------------------------------------------------------------------------------------------------ ending

  /** Fails the connection: `pdus` errors, pending calls fail, the QP is torn down. */
  private fail(error: IserTransportError): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error;
    this.inbound.error(error);
    this.failPending(error);
    void this.teardown();
  }

  /** Ends the connection without error: `pdus` completes, pending calls fail with `error`. */
  private shutDown(error: IserTransportError, tearDown: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error;
    this.inbound.complete();
    this.failPending(error);
    if (tearDown) void this.teardown();
  }

  private failPending(error: IserTransportError): void {
    this.gate?.clear();
    for (const op of [...this.pending]) op.reject(error);
    this.pending.clear();
    for (const task of this.targetTasks?.clear(error) ?? []) this.returnLent(task);
    this.requests.stop();
  }

  /** Disconnects once; resolves when the flushes have drained (or the close bound passed). */
  private teardown(): Promise<void> {
    this.teardownPromise ??= (async () => {
      this.requests.stop();
      try {
        await this.rdma.disconnect();
      } catch {
        // Already gone: the completion stream still tells us when it is over.
      }
      await new Promise<void>((resolve) => {
        const timer = this.scheduler.schedule(resolve, this.closeTimeoutMs);
        void this.drained.then(() => {
          timer.unsubscribe();
          resolve();
        });
      });
      for (const subscription of this.subscriptions) subscription.unsubscribe();
      this.initiatorTasks.clear();
      this.results.clear();
    })();
    return this.teardownPromise;
  }

  private returnLent(task: IserTargetTask): void {
    for (const buffer of task.lent.splice(0)) this.receives.returnLent(buffer);
  }

  // ------------------------------------------------------------------------------------------------ checks

  /** A method, not a field read, so checks after a call that may close see the current state. */
  private isClosed(): boolean {
    return this.closed;
  }

  private endedError(itt: number): IserTransportError {
    return this.failure ?? iserError('ERR_ISER_TASK_DONE', `task 0x${hex(itt)} finished while its data was moving`);
  }

  private checkOpen(): void {
    if (this.closed) throw this.failure ?? iserError('ERR_ISER_CLOSED', 'the connection is closed');
  }

  private checkRole(role: IserRole, method: string): void {
    if (this.role !== role) throw iserError('ERR_ISER_ROLE', `${method} is not available on the ${this.role} end`);
  }

  private enabledParams(): NegotiatedParams {
    this.checkOpen();
    if (this.params === undefined) {
      throw iserError('ERR_ISER_NOT_ENABLED', 'data transfer before enable() (still in login)');
    }
    return this.params;
  }

  private enabledTargetTasks(what: string): IserTargetTasks {
    const tasks = this.targetTasks;
    if (tasks === undefined) throw iserError('ERR_ISER_PROTOCOL', `the initiator sent a ${what} during login`);
    return tasks;
  }

  private knownTargetTask(itt: number): IserTargetTask {
    const task = this.targetTasks?.get(itt);
    if (task === undefined) throw iserError('ERR_ISER_USAGE', `no task with ITT 0x${hex(itt)}`);
    return task;
  }
}

/** Why the negotiated keys do not allow this connection to carry the session, or undefined when they do. */
function iserRefusal(params: NegotiatedParams, role: IserRole): string | undefined {
  if (params.headerDigest !== 'None' || params.dataDigest !== 'None') {
    return 'digests were negotiated, but iSER carries no digests (RFC 7145 §7.2)';
  }
  if (params.rdmaExtensions || params.sessionType === 'Discovery') return undefined;
  return role === 'initiator'
    ? 'the target answered RDMAExtensions=No: this portal does not speak iSER'
    : 'the initiator did not negotiate RDMAExtensions=Yes: a normal session cannot run on an iSER connection without it';
}

function ittKey(itt: number): string {
  return `itt:${itt}`;
}

function tttKey(ttt: number): string {
  return `ttt:${ttt}`;
}

function sgeView(sge: { readonly mr: MemoryRegion; readonly offset: number; readonly length: number }): Buffer {
  return sge.mr.buffer.subarray(sge.offset, sge.offset + sge.length);
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw iserError('ERR_ISER_USAGE', `bad range (${offset}, ${length})`);
  }
}

/** A VA + length must stay inside the 64-bit address space (a hostile VA near 2^64 would wrap). */
function checkAddressRange(va: bigint, end: number, which: 'Read' | 'Write'): void {
  if (va + BigInt(end) > 0xffffffffffffffffn + 1n) {
    throw iserError('ERR_ISER_PROTOCOL', `the initiator's ${which} VA 0x${va.toString(16)} + ${end} wraps past 2^64`);
  }
}

/** A failure of a verbs call (or our own), as an iSER error. */
function wrapVerbs(err: unknown, doing: string): IserTransportError {
  if (err instanceof IserTransportError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code: IserTransportErrorCode =
    err instanceof Error && 'code' in err && err.code === 'ERR_VERBS_CLOSED' ? 'ERR_ISER_CLOSED' : 'ERR_ISER_RESOURCES';
  return iserError(code, `${doing} failed: ${message}`, { cause: err });
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
