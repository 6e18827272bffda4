/**
 * The initiator's tasks over iSER: for each SCSI Command, the caller's buffers registered for the target (Read STag
 * for REMOTE_WRITE into `readBuffer`, Write STag for REMOTE_READ of the solicited part of `writeData`), the
 * registered pieces its Sends carry (immediate data, unsolicited Data-Out), and the result of the SCSI Response.
 *
 * There is no Data-In to count over iSER: a SCSI Response means every byte the target wrote has been placed (RC
 * ordering puts the RDMA Writes before the Send), so bytesRead is the read length minus the residual.
 *
 * Registrations live until the task is done *and* its Sends have completed (a region must stay valid while a
 * posted Send still gathers from it). A region the target invalidated with Send with Invalidate is skipped.
 */
import type { InitiatorTaskBuffers, InitiatorTaskResult } from '../../protocol/datamover.js';
import {
  RESERVED_TAG,
  ScsiServiceResponse,
  type ScsiCommandPdu,
  type ScsiResponsePdu,
  type TaggedBuffer,
} from '../../protocol/pdu/index.js';
import { totalLength } from '../../protocol/session/data-sequencing-chunks.js';
import { RetiredTags } from '../common/retired-tags.js';
import { Access, type MemoryRegion, type Sge } from '../verbs.js';
import { iserError } from './errors.js';
import { releaseAll, type Registrar } from './registrar.js';
import { planWrite, type WritePiece } from './write-plan.js';

/** What the initiator keeps of one command. */
export interface IserInitiatorTask {
  readonly itt: number;
  readonly lun: bigint;
  readonly read: boolean;
  readonly write: boolean;
  /** The caller's read buffer. */
  readonly readBuffer: Buffer | undefined;
  /** Bytes the target may write (0: no Read STag). */
  readonly readLength: number;
  /** Set when `readBuffer` could not be registered: the target writes here and we copy on the response. */
  readonly readBounce: Buffer | undefined;
  /** Read STag/VA advertised in the command (RSV). */
  readonly readTag: TaggedBuffer | undefined;
  /** Write STag/VA advertised in the command (WSV). */
  readonly writeTag: TaggedBuffer | undefined;
  /** Every registration made for the task. */
  readonly regions: MemoryRegion[];
  /** An rkey the target invalidated remotely (skip it when releasing). */
  invalidatedRkey: number | undefined;
  /** Sends of the task posted and not completed. */
  sendsInFlight: number;
  /** taskDone was called. */
  done: boolean;
  /** Set by the SCSI Response. */
  result: InitiatorTaskResult | undefined;
}

/** One Send of a command: the PDU's data segment as a registered SGE. */
export interface CommandPiece {
  /** Offset in the write (the Data-Out BufferOffset; 0 for immediate data). */
  readonly offset: number;
  readonly sge: Sge;
}

/** A registered command, ready to send. */
export interface PreparedCommand {
  readonly task: IserInitiatorTask;
  readonly immediate: CommandPiece | undefined;
  readonly dataOuts: readonly CommandPiece[];
}

/** Every task an initiator connection has in flight. */
export class IserInitiatorTasks {
  private readonly tasks = new Map<number, IserInitiatorTask>();
  private readonly retired = new RetiredTags();

  /** Tasks in the table (including done ones whose Sends are still in flight). */
  get size(): number {
    return this.tasks.size;
  }

  /** The task with this ITT, if it is live. */
  get(itt: number): IserInitiatorTask | undefined {
    const task = this.tasks.get(itt);
    return task?.done === true ? undefined : task;
  }

  /** True when `itt` belonged to a task that ended a moment ago. */
  recentlyDone(itt: number): boolean {
    return this.retired.has(itt) || this.tasks.get(itt)?.done === true;
  }

  /** True when `itt` is in use (live or still draining its Sends). */
  has(itt: number): boolean {
    return this.tasks.has(itt);
  }

  /**
   * Registers a command's buffers and plans its Sends. Throws ERR_ISER_USAGE for an ITT in use or buffers that do
   * not fit the command, ERR_ISER_RESOURCES when memory cannot be registered.
   */
  prepare(
    registrar: Registrar,
    pdu: ScsiCommandPdu,
    buffers: InitiatorTaskBuffers,
    maxSegmentLength: number,
  ): PreparedCommand {
    if (pdu.itt === RESERVED_TAG) throw iserError('ERR_ISER_USAGE', 'ITT 0xffffffff is reserved');
    if (this.tasks.has(pdu.itt)) throw iserError('ERR_ISER_USAGE', `ITT 0x${hex(pdu.itt)} is already in use`);
    const readBuffer = buffers.readBuffer;
    if (pdu.read && !pdu.write && pdu.expectedDataTransferLength > 0 && (readBuffer?.length ?? 0) === 0) {
      throw iserError('ERR_ISER_USAGE', `a read of ${pdu.expectedDataTransferLength} bytes needs a readBuffer`);
    }
    const regions: MemoryRegion[] = [];
    try {
      const readLength = pdu.read ? (readBuffer?.length ?? 0) : 0;
      let readTag: TaggedBuffer | undefined;
      let readBounce: Buffer | undefined;
      if (readLength > 0 && readBuffer !== undefined) {
        const access = Access.LOCAL_WRITE | Access.REMOTE_WRITE;
        let mr = registrar.inPlace(readBuffer, access, true);
        if (mr === undefined) {
          mr = registrar.bounce(readLength, access, true);
          readBounce = mr.buffer;
        }
        regions.push(mr);
        readTag = { stag: mr.rkey, va: mr.addr };
      }
      const writeData = buffers.writeData ?? [];
      const plan = planWrite({
        chunkLengths: writeData.map((c) => c.length),
        immediateLength: buffers.immediateLength,
        unsolicitedDataOutLength: buffers.unsolicitedDataOutLength,
        maxSegmentLength,
      });
      // Register each chunk at most once: REMOTE_READ for the one holding the solicited range, local otherwise.
      const chunkRegions = new Map<number, MemoryRegion | undefined>();
      const chunkRegion = (index: number): MemoryRegion | undefined => {
        if (chunkRegions.has(index)) return chunkRegions.get(index);
        const chunk = writeData[index] as Buffer;
        const remote = plan.solicited?.chunk === index;
        const mr = registrar.inPlace(chunk, remote ? Access.REMOTE_READ : 0, remote);
        if (mr !== undefined) regions.push(mr);
        chunkRegions.set(index, mr);
        return mr;
      };
      const pieceSge = (piece: WritePiece): Sge => {
        if (piece.chunk !== undefined) {
          const mr = chunkRegion(piece.chunk);
          if (mr !== undefined) return { mr, offset: piece.chunkOffset, length: piece.length };
        }
        const mr = registrar.bounce(piece.length, 0, false, (into) => copyRange(writeData, piece, into));
        regions.push(mr);
        return { mr, offset: 0, length: piece.length };
      };
      let writeTag: TaggedBuffer | undefined;
      const solicited = plan.solicited;
      if (solicited !== undefined) {
        const mr = solicited.chunk === undefined ? undefined : chunkRegion(solicited.chunk);
        if (mr !== undefined) {
          // Write VA: the first byte not sent unsolicited (RFC 7145 §7.3.1).
          writeTag = { stag: mr.rkey, va: mr.addr + BigInt(solicited.chunkOffset) };
        } else {
          const bounce = registrar.bounce(solicited.length, Access.REMOTE_READ, true, (into) =>
            copyRange(writeData, solicited, into),
          );
          regions.push(bounce);
          writeTag = { stag: bounce.rkey, va: bounce.addr };
        }
      }
      const immediate = plan.immediate === undefined ? undefined : { offset: 0, sge: pieceSge(plan.immediate) };
      const dataOuts = plan.dataOuts.map((piece) => ({ offset: piece.offset, sge: pieceSge(piece) }));
      const task: IserInitiatorTask = {
        itt: pdu.itt,
        lun: pdu.lun,
        read: pdu.read,
        write: pdu.write,
        readBuffer,
        readLength,
        readBounce,
        readTag,
        writeTag,
        regions,
        invalidatedRkey: undefined,
        sendsInFlight: 0,
        done: false,
        result: undefined,
      };
      this.retired.delete(pdu.itt);
      this.tasks.set(pdu.itt, task);
      return { task, immediate, dataOuts };
    } catch (err) {
      releaseAll(regions);
      throw err;
    }
  }

  /**
   * The SCSI Response of a task arrived: all read data is in place. Copies a bounced read into the caller's buffer
   * and records bytesRead (read length minus the residual the target reports).
   */
  respond(task: IserInitiatorTask, response: ScsiResponsePdu, registrar: Registrar): InitiatorTaskResult {
    const bidirectional = task.read && task.write;
    const underflow = bidirectional ? response.bidirectionalReadResidualUnderflow : response.residualUnderflow;
    const residualCount = bidirectional ? response.bidirectionalReadResidualCount : response.residualCount;
    const completed = response.response === ScsiServiceResponse.CommandCompletedAtTarget;
    const bytesRead = completed ? Math.max(0, task.readLength - (underflow ? residualCount : 0)) : 0;
    if (task.readBounce !== undefined && task.readBuffer !== undefined && bytesRead > 0) {
      task.readBounce.copy(task.readBuffer, 0, 0, bytesRead);
      registrar.countCopyBack(bytesRead);
    }
    task.result = { response, bytesRead };
    return task.result;
  }

  /** Marks a task done; releases its registrations now or when its last Send completes. */
  done(itt: number): IserInitiatorTask | undefined {
    const task = this.tasks.get(itt);
    if (task === undefined || task.done) return undefined;
    task.done = true;
    this.retired.add(itt);
    this.releaseIfIdle(task);
    return task;
  }

  /** One of the task's Sends completed. */
  sendCompleted(task: IserInitiatorTask): void {
    task.sendsInFlight--;
    this.releaseIfIdle(task);
  }

  /** Releases every task (the connection ended). */
  clear(): void {
    for (const task of this.tasks.values()) releaseAll(task.regions, task.invalidatedRkey);
    this.tasks.clear();
  }

  private releaseIfIdle(task: IserInitiatorTask): void {
    if (!task.done || task.sendsInFlight > 0 || this.tasks.get(task.itt) !== task) return;
    this.tasks.delete(task.itt);
    releaseAll(task.regions, task.invalidatedRkey);
  }
}

/** Copies the bytes of `piece` from the caller's chunks into `into`; returns the bytes copied. */
function copyRange(chunks: readonly Buffer[], piece: WritePiece, into: Buffer): number {
  let skip = piece.offset;
  let written = 0;
  for (const chunk of chunks) {
    if (written >= piece.length) break;
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    const n = Math.min(chunk.length - skip, piece.length - written);
    chunk.copy(into, written, skip, skip + n);
    written += n;
    skip = 0;
  }
  return written;
}

/** Total bytes of a task's write data (for checks against EDTL). */
export function writeLengthOf(buffers: InitiatorTaskBuffers): number {
  return totalLength(buffers.writeData ?? []);
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
