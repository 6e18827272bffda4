/**
 * The target's side of data transfer over TCP: the write tasks it knows from their SCSI Commands, the unsolicited
 * data (immediate data and unsolicited Data-Out) kept for them, and the getData requests it serves, asking for the
 * rest with R2Ts (at most MaxBurstLength each, at most MaxOutstandingR2T outstanding per task).
 *
 * Memory is bounded by what the core asks for: unsolicited data is at most FirstBurstLength per task (the command
 * window bounds the tasks), and solicited Data-Out is accepted only for an outstanding R2T and only up to its
 * length. Hostile Data-Out (unknown ITT or TTT, offset out of order, beyond the R2T, wrong F bit) throws
 * ERR_TCP_PROTOCOL; data for a task or R2T retired a moment ago is dropped quietly.
 *
 * A Data-Out out of DataSN order breaks only its task. At the target it implies a lost data PDU (RFC 7143 §7.9),
 * and ErrorRecoveryLevel 0 has no recovery R2T, so the task is terminated (§7.8): {@link TargetTasks.dataOut}
 * refuses the PDU for the core to Reject (a Reject advances StatSN, §11.17.3, which the core owns), no more R2Ts are
 * issued for the task, the rest of its Data-Out is discarded (no second Reject) up to the F bit of each sequence
 * still open, and once the initiator has sent every sequence it owed (the F bit of the unsolicited sequence and of
 * each outstanding R2T: §11.4.2, §11.17.1) the task's getData requests fail with ERR_TCP_DATA_SEQUENCE. The core
 * then ends the command in CHECK CONDITION, and the connection stays up.
 *
 * Data PDUs are expected in order (DataPDUInOrder=Yes): it is the default, the key's result is OR, and this stack
 * always declares Yes, so a peer can only get No if the local configuration asked for it.
 */
import {
  RejectReason,
  RESERVED_TAG,
  serialAdd,
  type ScsiCommandPdu,
  type ScsiDataOutPdu,
} from '../../protocol/pdu/index.js';
import { r2tRanges, unsolicitedEnd } from '../../protocol/session/data-sequencing.js';
import { sliceChunks, totalLength } from '../../protocol/session/data-sequencing-chunks.js';
import type { NegotiatedParams } from '../../protocol/text/index.js';
import { TcpTransportError } from './errors.js';
import { RetiredTags } from '../common/retired-tags.js';

/** One R2T of a getData request: queued, then issued (TTT and R2TSN set), then filled by Data-Out. */
export interface R2tRecord {
  readonly task: TargetTask;
  readonly request: DataRequest;
  readonly offset: number;
  readonly length: number;
  ttt: number;
  r2tSN: number;
  received: number;
  nextDataSN: number;
  readonly chunks: Buffer[];
}

/** A getData call in progress. */
export interface DataRequest {
  readonly task: TargetTask;
  readonly offset: number;
  readonly length: number;
  /** Bytes [offset, unsolicitedUntil) come from unsolicited data; the rest from `r2ts`. */
  readonly unsolicitedUntil: number;
  readonly r2ts: R2tRecord[];
  readonly resolve: (chunks: readonly Buffer[]) => void;
  readonly reject: (error: Error) => void;
  /** Cancels the request's timer. */
  cancelTimer: () => void;
}

/** What the target remembers of one command. */
export interface TargetTask {
  readonly itt: number;
  readonly lun: bigint;
  readonly edtl: number;
  /** Unsolicited data ends here (exclusive); it starts at 0. */
  readonly unsolicitedEnd: number;
  /** Immediate data and unsolicited Data-Out received so far, contiguous from offset 0. */
  readonly unsolicited: Buffer[];
  unsolicitedReceived: number;
  unsolicitedDataSN: number;
  /** The initiator still owes unsolicited Data-Out: the command had F=0 and the sequence's F bit has not come. */
  unsolicitedOpen: boolean;
  /**
   * Set by the task's first DataSN error: its data-out is lost, its later Data-Out is discarded up to each open
   * sequence's F bit, and every getData fails with this.
   */
  failure: TcpTransportError | undefined;
  /** Next DataSN of a Data-In or R2TSN of an R2T (one counter: RFC 7143 §11.7.5). */
  dataSN: number;
  /** End of the last Data-In sent. */
  dataInEnd: number;
  readonly requests: Set<DataRequest>;
  readonly queued: R2tRecord[];
  outstanding: number;
}

/** What {@link TargetTasks.dataOut} made of a Data-Out. */
export interface DataOutResult {
  /** R2Ts that may be issued now (a completed R2T freed a slot). */
  readonly issue: readonly R2tRecord[];
  /**
   * Set when the PDU broke its sequence's DataSN order: the PDU goes to the core, which answers Reject (Protocol
   * Error); the task fails as the file comment says, and the connection stays up.
   */
  readonly refused?: TcpTransportError;
}

const NOTHING: DataOutResult = { issue: [] };

/** Every task a target connection knows. */
export class TargetTasks {
  private readonly tasks = new Map<number, TargetTask>();

  /** Tasks in flight. */
  get size(): number {
    return this.tasks.size;
  }
  private readonly r2ts = new Map<number, R2tRecord>();
  private readonly retiredItts = new RetiredTags();
  private readonly retiredTtts = new RetiredTags();
  private nextTtt = 1;

  constructor(private readonly params: NegotiatedParams) {}

  /**
   * Starts tracking a command whose PDU (with its immediate data) arrived; throws ERR_TCP_PROTOCOL if illegal.
   * A command reusing the ITT of a live task is left to the core (it answers Reject "task in progress"): the live
   * task keeps its state and the duplicate is not tracked (returns undefined).
   */
  addCommand(pdu: ScsiCommandPdu, header: Buffer): TargetTask | undefined {
    if (pdu.itt === RESERVED_TAG) throw protocolError('SCSI Command with the reserved ITT 0xffffffff', header);
    if (this.tasks.has(pdu.itt)) return undefined;
    const immediateLength = totalLength(pdu.data);
    let end = immediateLength;
    if (pdu.write) {
      const result = unsolicitedEnd(this.params, {
        expectedDataTransferLength: pdu.expectedDataTransferLength,
        immediateLength,
        final: pdu.final,
      });
      if (typeof result === 'string') throw protocolError(result, header);
      end = result;
    } else if (immediateLength > 0) {
      throw protocolError('immediate data on a command that writes nothing (W=0)', header);
    }
    const task: TargetTask = {
      itt: pdu.itt,
      lun: pdu.lun,
      edtl: pdu.expectedDataTransferLength,
      unsolicitedEnd: end,
      unsolicited: [...pdu.data],
      unsolicitedReceived: immediateLength,
      unsolicitedDataSN: 0,
      unsolicitedOpen: end > immediateLength,
      failure: undefined,
      dataSN: 0,
      dataInEnd: 0,
      requests: new Set(),
      queued: [],
      outstanding: 0,
    };
    this.retiredItts.delete(pdu.itt);
    this.tasks.set(pdu.itt, task);
    return task;
  }

  /** The task with this ITT, if any. */
  get(itt: number): TargetTask | undefined {
    return this.tasks.get(itt);
  }

  /**
   * Takes a Data-Out. Throws ERR_TCP_PROTOCOL for hostile PDUs; drops data for tasks and R2Ts retired a moment ago;
   * refuses (without throwing) one out of DataSN order.
   */
  dataOut(pdu: ScsiDataOutPdu, header: Buffer): DataOutResult {
    const task = this.tasks.get(pdu.itt);
    if (task === undefined) {
      if (this.retiredItts.has(pdu.itt)) return NOTHING;
      throw protocolError(`Data-Out for unknown ITT 0x${hex(pdu.itt)}`, header, RejectReason.InvalidPduField);
    }
    const length = totalLength(pdu.data);
    if (pdu.ttt === RESERVED_TAG) return this.unsolicitedDataOut(task, pdu, length, header);
    const record = this.r2ts.get(pdu.ttt);
    if (record?.task !== task) {
      if (this.retiredTtts.has(pdu.ttt)) return NOTHING;
      throw protocolError(`Data-Out for unknown TTT 0x${hex(pdu.ttt)}`, header, RejectReason.InvalidPduField);
    }
    if (task.failure !== undefined) {
      if (pdu.final) this.endBrokenR2t(record);
      return NOTHING;
    }
    if (pdu.dataSN !== record.nextDataSN) {
      const error = sequenceError(`Data-Out DataSN ${pdu.dataSN} where ${record.nextDataSN} was expected`, header);
      this.breakTask(task, error);
      if (pdu.final) this.endBrokenR2t(record);
      return { issue: [], refused: error };
    }
    const expectedOffset = record.offset + record.received;
    if (pdu.bufferOffset !== expectedOffset) {
      throw protocolError(`Data-Out at offset ${pdu.bufferOffset} where ${expectedOffset} was expected`, header);
    }
    if (record.received + length > record.length) {
      throw protocolError(`Data-Out overruns its R2T (${record.length} bytes at ${record.offset})`, header);
    }
    const completes = record.received + length === record.length;
    if (pdu.final !== completes) {
      throw protocolError(`Data-Out F bit ${pdu.final ? 'set before' : 'missing at'} the end of its R2T`, header);
    }
    record.chunks.push(...pdu.data.filter((c) => c.length > 0));
    record.received += length;
    record.nextDataSN = serialAdd(record.nextDataSN, 1);
    if (!completes) return NOTHING;
    this.r2ts.delete(record.ttt);
    task.outstanding--;
    this.settle(record.request);
    this.failIfQuiet(task);
    return { issue: this.issuable(task) };
  }

  /**
   * Registers a getData request; returns the R2Ts to issue now. The caller has checked the range against EDTL.
   * Resolves at once (synchronously) when unsolicited data already covers it.
   */
  request(
    task: TargetTask,
    offset: number,
    length: number,
    callbacks: Pick<DataRequest, 'resolve' | 'reject' | 'cancelTimer'>,
  ): { request: DataRequest; issue: R2tRecord[] } {
    const end = offset + length;
    const unsolicitedUntil = Math.max(offset, Math.min(end, task.unsolicitedEnd));
    const full: DataRequest = { ...callbacks, task, offset, length, unsolicitedUntil, r2ts: [] };
    // A broken task asks for nothing more: the request fails once the initiator has sent what it owed.
    const ranges = task.failure === undefined ? r2tRanges(this.params, unsolicitedUntil, end - unsolicitedUntil) : [];
    for (const range of ranges) {
      const record: R2tRecord = {
        task,
        request: full,
        offset: range.offset,
        length: range.length,
        ttt: RESERVED_TAG,
        r2tSN: 0,
        received: 0,
        nextDataSN: 0,
        chunks: [],
      };
      full.r2ts.push(record);
      task.queued.push(record);
    }
    task.requests.add(full);
    this.settle(full);
    this.failIfQuiet(task);
    return { request: full, issue: this.issuable(task) };
  }

  /** Fails a request (timeout): its queued R2Ts are dropped, its outstanding ones retired. Returns R2Ts now issuable. */
  abandon(request: DataRequest, error: Error): R2tRecord[] {
    const task = request.task;
    if (!task.requests.delete(request)) return [];
    this.retire(request);
    request.cancelTimer();
    request.reject(error);
    if (this.tasks.get(task.itt) !== task) return [];
    this.failIfQuiet(task);
    return this.issuable(task);
  }

  /** Forgets a task; its pending requests fail with `error`. */
  done(itt: number, error: Error): void {
    const task = this.tasks.get(itt);
    if (task === undefined) return;
    this.tasks.delete(itt);
    this.retiredItts.add(itt);
    for (const request of [...task.requests]) {
      this.retire(request);
      request.cancelTimer();
      request.reject(error);
    }
    task.requests.clear();
  }

  /** Fails every pending request and forgets every task. */
  clear(error: Error): void {
    for (const itt of [...this.tasks.keys()]) this.done(itt, error);
  }

  /** Takes queued R2Ts of `task` up to MaxOutstandingR2T, assigning TTT and R2TSN. */
  private issuable(task: TargetTask): R2tRecord[] {
    const maxOutstanding = Math.max(1, this.params.maxOutstandingR2T);
    const out: R2tRecord[] = [];
    if (task.failure !== undefined) return out;
    while (task.outstanding < maxOutstanding) {
      const record = task.queued.shift();
      if (record === undefined) break;
      record.ttt = this.allocateTtt();
      record.r2tSN = task.dataSN;
      task.dataSN = serialAdd(task.dataSN, 1);
      task.outstanding++;
      this.r2ts.set(record.ttt, record);
      out.push(record);
    }
    return out;
  }

  private unsolicitedDataOut(task: TargetTask, pdu: ScsiDataOutPdu, length: number, header: Buffer): DataOutResult {
    if (!task.unsolicitedOpen) {
      throw protocolError('unsolicited Data-Out after its sequence ended (or with none owed)', header);
    }
    if (task.failure !== undefined) {
      if (pdu.final) this.endBrokenUnsolicited(task);
      return NOTHING;
    }
    if (pdu.dataSN !== task.unsolicitedDataSN) {
      const error = sequenceError(
        `unsolicited Data-Out DataSN ${pdu.dataSN} where ${task.unsolicitedDataSN} was expected`,
        header,
      );
      this.breakTask(task, error);
      if (pdu.final) this.endBrokenUnsolicited(task);
      return { issue: [], refused: error };
    }
    if (pdu.bufferOffset !== task.unsolicitedReceived) {
      throw protocolError(
        `unsolicited Data-Out at offset ${pdu.bufferOffset} where ${task.unsolicitedReceived} was expected`,
        header,
      );
    }
    const end = pdu.bufferOffset + length;
    if (end > task.unsolicitedEnd) {
      throw protocolError(`unsolicited Data-Out beyond FirstBurstLength/EDTL (${task.unsolicitedEnd})`, header);
    }
    if (pdu.final !== (end === task.unsolicitedEnd)) {
      throw protocolError(`unsolicited Data-Out F bit ${pdu.final ? 'set before' : 'missing at'} its end`, header);
    }
    task.unsolicited.push(...pdu.data.filter((c) => c.length > 0));
    task.unsolicitedReceived = end;
    task.unsolicitedDataSN = serialAdd(task.unsolicitedDataSN, 1);
    if (pdu.final) task.unsolicitedOpen = false;
    for (const request of [...task.requests]) this.settle(request);
    this.failIfQuiet(task);
    return NOTHING;
  }

  /** A DataSN error: the task's data-out is lost; its queued R2Ts are dropped (none is issued any more). */
  private breakTask(task: TargetTask, error: TcpTransportError): void {
    task.failure = error;
    task.queued.length = 0;
  }

  /** The F bit of an R2T sequence of a broken task: the R2T is over (later Data-Out for it is dropped). */
  private endBrokenR2t(record: R2tRecord): void {
    const task = record.task;
    this.r2ts.delete(record.ttt);
    this.retiredTtts.add(record.ttt);
    task.outstanding--;
    this.failIfQuiet(task);
  }

  /** The F bit of the unsolicited sequence of a broken task. */
  private endBrokenUnsolicited(task: TargetTask): void {
    task.unsolicitedOpen = false;
    this.failIfQuiet(task);
  }

  /** Fails a broken task's requests once the initiator owes it no more Data-Out (RFC 7143 §11.4.2). */
  private failIfQuiet(task: TargetTask): void {
    const failure = task.failure;
    if (failure === undefined || task.unsolicitedOpen || task.outstanding > 0) return;
    for (const request of [...task.requests]) {
      task.requests.delete(request);
      this.retire(request);
      request.cancelTimer();
      request.reject(failure);
    }
  }

  /** Resolves `request` if every byte of it is in. */
  private settle(request: DataRequest): void {
    const task = request.task;
    if (!task.requests.has(request) || task.failure !== undefined) return;
    const needsUnsolicited = request.unsolicitedUntil > request.offset;
    if (needsUnsolicited && task.unsolicitedReceived < request.unsolicitedUntil) return;
    if (request.r2ts.some((r) => r.received < r.length)) return;
    task.requests.delete(request);
    request.cancelTimer();
    const chunks = sliceChunks(task.unsolicited, request.offset, request.unsolicitedUntil - request.offset);
    for (const r of request.r2ts) chunks.push(...r.chunks);
    request.resolve(chunks);
  }

  /** Drops a request's queued R2Ts and retires its outstanding ones (their late Data-Out is dropped). */
  private retire(request: DataRequest): void {
    const task = request.task;
    for (const record of request.r2ts) {
      const queuedAt = task.queued.indexOf(record);
      if (queuedAt >= 0) {
        task.queued.splice(queuedAt, 1);
      } else if (this.r2ts.get(record.ttt) === record) {
        this.r2ts.delete(record.ttt);
        this.retiredTtts.add(record.ttt);
        task.outstanding--;
      }
    }
  }

  private allocateTtt(): number {
    for (;;) {
      const ttt = this.nextTtt;
      this.nextTtt = this.nextTtt >= 0xfffffffe ? 1 : this.nextTtt + 1;
      if (!this.r2ts.has(ttt)) {
        this.retiredTtts.delete(ttt);
        return ttt;
      }
    }
  }
}

function protocolError(
  message: string,
  header: Buffer,
  rejectReason: RejectReason = RejectReason.ProtocolError,
): TcpTransportError {
  return new TcpTransportError('ERR_TCP_PROTOCOL', message, { rejectReason, header: Buffer.from(header) });
}

/** A Data-Out out of DataSN order: the PDU is rejected with Protocol Error, its task fails with this. */
function sequenceError(message: string, header: Buffer): TcpTransportError {
  return new TcpTransportError('ERR_TCP_DATA_SEQUENCE', message, {
    rejectReason: RejectReason.ProtocolError,
    header: Buffer.from(header),
  });
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
