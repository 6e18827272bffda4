/**
 * The target's side of data transfer over TCP: the write tasks it knows from their SCSI Commands, the unsolicited
 * data (immediate data and unsolicited Data-Out) kept for them, and the getData requests it serves, asking for the
 * rest with R2Ts (at most MaxBurstLength each, at most MaxOutstandingR2T outstanding per task).
 *
 * Memory is bounded by what the core asks for: unsolicited data is at most FirstBurstLength per task (the command
 * window bounds the tasks), and solicited Data-Out is accepted only for an outstanding R2T and only up to its
 * length. Hostile Data-Out (unknown ITT or TTT, DataSN or offset out of order, beyond the R2T, wrong F bit) throws
 * ERR_TCP_PROTOCOL; data for a task or R2T retired a moment ago is dropped quietly.
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
  /** Next DataSN of a Data-In or R2TSN of an R2T (one counter: RFC 7143 §11.7.5). */
  dataSN: number;
  /** End of the last Data-In sent. */
  dataInEnd: number;
  readonly requests: Set<DataRequest>;
  readonly queued: R2tRecord[];
  outstanding: number;
}

/** Every task a target connection knows. */
export class TargetTasks {
  private readonly tasks = new Map<number, TargetTask>();
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
   * Takes a Data-Out. Returns the R2Ts that may now be issued (a completed R2T frees a slot). Throws
   * ERR_TCP_PROTOCOL for hostile PDUs; drops data for tasks and R2Ts retired a moment ago.
   */
  dataOut(pdu: ScsiDataOutPdu, header: Buffer): R2tRecord[] {
    const task = this.tasks.get(pdu.itt);
    if (task === undefined) {
      if (this.retiredItts.has(pdu.itt)) return [];
      throw protocolError(`Data-Out for unknown ITT 0x${hex(pdu.itt)}`, header, RejectReason.InvalidPduField);
    }
    const length = totalLength(pdu.data);
    if (pdu.ttt === RESERVED_TAG) {
      this.unsolicitedDataOut(task, pdu, length, header);
      return [];
    }
    const record = this.r2ts.get(pdu.ttt);
    if (record?.task !== task) {
      if (this.retiredTtts.has(pdu.ttt)) return [];
      throw protocolError(`Data-Out for unknown TTT 0x${hex(pdu.ttt)}`, header, RejectReason.InvalidPduField);
    }
    if (pdu.dataSN !== record.nextDataSN) {
      throw protocolError(`Data-Out DataSN ${pdu.dataSN} where ${record.nextDataSN} was expected`, header);
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
    if (!completes) return [];
    this.r2ts.delete(record.ttt);
    task.outstanding--;
    this.settle(record.request);
    return this.issuable(task);
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
    for (const range of r2tRanges(this.params, unsolicitedUntil, end - unsolicitedUntil)) {
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
    return { request: full, issue: this.issuable(task) };
  }

  /** Fails a request (timeout): its queued R2Ts are dropped, its outstanding ones retired. Returns R2Ts now issuable. */
  abandon(request: DataRequest, error: Error): R2tRecord[] {
    const task = request.task;
    if (!task.requests.delete(request)) return [];
    this.retire(request);
    request.cancelTimer();
    request.reject(error);
    return this.tasks.get(task.itt) === task ? this.issuable(task) : [];
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

  private unsolicitedDataOut(task: TargetTask, pdu: ScsiDataOutPdu, length: number, header: Buffer): void {
    if (pdu.dataSN !== task.unsolicitedDataSN) {
      throw protocolError(
        `unsolicited Data-Out DataSN ${pdu.dataSN} where ${task.unsolicitedDataSN} was expected`,
        header,
      );
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
    for (const request of [...task.requests]) this.settle(request);
  }

  /** Resolves `request` if every byte of it is in. */
  private settle(request: DataRequest): void {
    const task = request.task;
    if (!task.requests.has(request)) return;
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

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
