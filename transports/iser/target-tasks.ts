/**
 * The target's tasks over iSER: for each SCSI Command, the initiator's STags from its iSER header (Read STag/VA for
 * our RDMA Writes, Write STag/VA for our RDMA Reads) and the unsolicited data that came in Sends (immediate data,
 * unsolicited Data-Out), kept as views of lent receive buffers until getData takes them.
 *
 * Checks on the way in, before anything is kept (a hostile initiator gets ERR_ISER_PROTOCOL, never memory outside a
 * buffer): a read needs a Read STag and a write with solicited data a Write STag; STags on a command that does not
 * move data that way are refused; a Data-Out must be unsolicited (TTT 0xffffffff: solicited Data-Out does not exist
 * over iSER, RFC 7145 §7.3.2), in DataSN and offset order, within FirstBurstLength, F bit exactly at its end.
 */
import {
  RESERVED_TAG,
  serialAdd,
  type IserControlHeader,
  type ScsiCommandPdu,
  type ScsiDataOutPdu,
  type TaggedBuffer,
} from '../../protocol/pdu/index.js';
import { unsolicitedEnd, type UnsolicitedParams } from '../../protocol/session/data-sequencing.js';
import { sliceChunks, totalLength } from '../../protocol/session/data-sequencing-chunks.js';
import { RetiredTags } from '../common/retired-tags.js';
import { iserError, type IserTransportError } from './errors.js';
import type { ReceiveBuffer } from './receive-buffers.js';

/** A getData call waiting for unsolicited data still on its way. */
export interface UnsolicitedWaiter {
  /** Resolves once unsolicited data reaches this offset. */
  readonly until: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** What the target keeps of one command. */
export interface IserTargetTask {
  readonly itt: number;
  readonly lun: bigint;
  readonly edtl: number;
  /** Bytes the initiator expects to read (EDTL, or the bidirectional read length). */
  readonly readLength: number;
  /** Where our RDMA Writes go (RSV). */
  readonly read: TaggedBuffer | undefined;
  /** Where our RDMA Reads come from (WSV); its VA is write offset `unsolicitedEnd`. */
  readonly write: TaggedBuffer | undefined;
  /** Unsolicited data ends here (exclusive); it starts at 0. */
  readonly unsolicitedEnd: number;
  /** Unsolicited bytes received, contiguous from offset 0. */
  readonly unsolicited: Buffer[];
  unsolicitedReceived: number;
  nextDataSN: number;
  /** Receive buffers lent to this task (their views are in `unsolicited`). */
  readonly lent: ReceiveBuffer[];
  readonly waiters: Set<UnsolicitedWaiter>;
  /** RDMA operations posted for this task and not completed. */
  rdmaInFlight: number;
  /** putData/getData calls in progress (taskDone fails them). */
  readonly operations: Set<{ readonly reject: (error: Error) => void }>;
  done: boolean;
}

/** Every task a target connection knows. */
export class IserTargetTasks {
  private readonly tasks = new Map<number, IserTargetTask>();
  private readonly retired = new RetiredTags();

  constructor(private readonly params: UnsolicitedParams) {}

  /** The live task with this ITT, if any. */
  get(itt: number): IserTargetTask | undefined {
    return this.tasks.get(itt);
  }

  /** Starts a task from a SCSI Command and its iSER header; throws ERR_ISER_PROTOCOL when they break a rule. */
  addCommand(pdu: ScsiCommandPdu, iser: IserControlHeader): IserTargetTask {
    const itt = pdu.itt;
    if (itt === RESERVED_TAG) throw protocolError('a SCSI Command with the reserved ITT 0xffffffff');
    if (this.tasks.has(itt)) throw protocolError(`a SCSI Command reusing ITT 0x${hex(itt)} while it is in flight`);
    const edtl = pdu.expectedDataTransferLength;
    const immediateLength = totalLength(pdu.data);
    let end = 0;
    if (pdu.write) {
      const result = unsolicitedEnd(this.params, {
        expectedDataTransferLength: edtl,
        immediateLength,
        final: pdu.final,
      });
      if (typeof result === 'string') throw protocolError(`a SCSI Command that breaks a data rule: ${result}`);
      end = result;
    } else if (immediateLength > 0) {
      throw protocolError('immediate data on a SCSI Command that writes nothing (W=0)');
    }
    const readLength = pdu.read ? (pdu.write ? (pdu.bidirectionalReadLength ?? 0) : edtl) : 0;
    if (iser.read !== undefined && !pdu.read) {
      throw protocolError(`a Read STag (RSV) on ITT 0x${hex(itt)}, a command that reads nothing (R=0)`);
    }
    if (readLength > 0 && iser.read === undefined) {
      throw protocolError(`a read of ${readLength} bytes (ITT 0x${hex(itt)}) without a Read STag (RSV clear)`);
    }
    if (iser.write !== undefined && !pdu.write) {
      throw protocolError(`a Write STag (WSV) on ITT 0x${hex(itt)}, a command that writes nothing (W=0)`);
    }
    if (pdu.write && edtl > end && iser.write === undefined) {
      throw protocolError(
        `a write of ${edtl} bytes (ITT 0x${hex(itt)}) with only ${end} unsolicited and no Write STag (WSV clear)`,
      );
    }
    // Our own bounds, before any RDMA: an advertised buffer must fit in the 64-bit address space.
    if (iser.read !== undefined && wraps(iser.read.va, readLength)) {
      throw protocolError(`a Read VA 0x${iser.read.va.toString(16)} + ${readLength} that wraps past 2^64`);
    }
    if (iser.write !== undefined && wraps(iser.write.va, edtl - end)) {
      throw protocolError(`a Write VA 0x${iser.write.va.toString(16)} + ${edtl - end} that wraps past 2^64`);
    }
    const task: IserTargetTask = {
      itt,
      lun: pdu.lun,
      edtl,
      readLength,
      read: iser.read,
      write: iser.write,
      unsolicitedEnd: end,
      unsolicited: pdu.data.filter((c) => c.length > 0),
      unsolicitedReceived: immediateLength,
      nextDataSN: 0,
      lent: [],
      waiters: new Set(),
      rdmaInFlight: 0,
      operations: new Set(),
      done: false,
    };
    this.retired.delete(itt);
    this.tasks.set(itt, task);
    return task;
  }

  /**
   * Takes an unsolicited Data-Out. Returns its task, or undefined when it belongs to a task that ended a moment ago
   * (dropped quietly). Throws ERR_ISER_PROTOCOL for a solicited or out-of-order Data-Out.
   */
  dataOut(pdu: ScsiDataOutPdu): IserTargetTask | undefined {
    if (pdu.ttt !== RESERVED_TAG) {
      throw protocolError(
        `a solicited Data-Out (TTT 0x${hex(pdu.ttt)}, ITT 0x${hex(pdu.itt)}): over iSER the target RDMA-Reads solicited data, so only unsolicited Data-Out may be sent`,
      );
    }
    const task = this.tasks.get(pdu.itt);
    if (task === undefined) {
      if (this.retired.has(pdu.itt)) return undefined;
      throw protocolError(`a Data-Out for unknown ITT 0x${hex(pdu.itt)}`);
    }
    const length = totalLength(pdu.data);
    if (pdu.dataSN !== task.nextDataSN) {
      throw protocolError(`an unsolicited Data-Out with DataSN ${pdu.dataSN} where ${task.nextDataSN} was expected`);
    }
    if (pdu.bufferOffset !== task.unsolicitedReceived) {
      throw protocolError(
        `an unsolicited Data-Out at offset ${pdu.bufferOffset} where ${task.unsolicitedReceived} was expected`,
      );
    }
    const end = pdu.bufferOffset + length;
    if (end > task.unsolicitedEnd) {
      throw protocolError(`unsolicited data beyond FirstBurstLength/EDTL (${end} > ${task.unsolicitedEnd})`);
    }
    if (pdu.final !== (end === task.unsolicitedEnd)) {
      throw protocolError(`an unsolicited Data-Out whose F bit is ${pdu.final ? 'set before' : 'missing at'} its end`);
    }
    task.unsolicited.push(...pdu.data.filter((c) => c.length > 0));
    task.unsolicitedReceived = end;
    task.nextDataSN = serialAdd(task.nextDataSN, 1);
    for (const waiter of [...task.waiters]) {
      if (task.unsolicitedReceived >= waiter.until) {
        task.waiters.delete(waiter);
        waiter.resolve();
      }
    }
    return task;
  }

  /** Views of unsolicited bytes `[offset, offset + length)` (already received). */
  unsolicitedSlice(task: IserTargetTask, offset: number, length: number): Buffer[] {
    return sliceChunks(task.unsolicited, offset, length);
  }

  /** Ends a task: its waiters fail with `error`; returns it so the caller can release its buffers. */
  done(itt: number, error: IserTransportError): IserTargetTask | undefined {
    const task = this.tasks.get(itt);
    if (task === undefined) return undefined;
    this.tasks.delete(itt);
    this.retired.add(itt);
    task.done = true;
    for (const waiter of task.waiters) waiter.reject(error);
    task.waiters.clear();
    return task;
  }

  /** Ends every task (the connection ended); returns them for release. */
  clear(error: IserTransportError): IserTargetTask[] {
    const all = [...this.tasks.values()];
    for (const task of all) this.done(task.itt, error);
    return all;
  }
}

/** True when `length` bytes at `va` do not fit below 2^64. */
function wraps(va: bigint, length: number): boolean {
  return va + BigInt(length) > 1n << 64n;
}

function protocolError(what: string): IserTransportError {
  return iserError('ERR_ISER_PROTOCOL', `the initiator sent ${what}`);
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
