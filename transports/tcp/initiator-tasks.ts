/**
 * The initiator's side of data transfer over TCP: the tasks it sent, and the checks and bookkeeping for the Data-In
 * and R2T PDUs the target sends for them. Hostile input (unknown ITT, DataSN or R2TSN out of order, data outside the
 * read buffer, an R2T beyond EDTL or MaxBurstLength) throws ERR_TCP_PROTOCOL before a byte is written anywhere.
 *
 * DataSN of Data-In and R2TSN of R2T share one counter per task: RFC 7143 §11.7.5 makes them one sequence for a
 * bidirectional command, and a read-only or write-only command only ever uses one of the two.
 */
import type { InitiatorTaskBuffers } from '../../protocol/datamover.js';
import {
  RejectReason,
  RESERVED_TAG,
  ScsiServiceResponse,
  serialAdd,
  type ReadyToTransferPdu,
  type ScsiCommandPdu,
  type ScsiDataInPdu,
  type ScsiResponsePdu,
} from '../../protocol/pdu/index.js';
import { copyChunksInto, totalLength } from '../../protocol/session/data-sequencing-chunks.js';
import type { NegotiatedParams } from '../../protocol/text/index.js';
import { TcpTransportError } from './errors.js';
import { RetiredTags } from '../common/retired-tags.js';

/** What the initiator remembers of one command. */
export interface InitiatorTask {
  readonly itt: number;
  readonly lun: bigint;
  readonly readBuffer: Buffer | undefined;
  readonly writeData: readonly Buffer[];
  readonly writeLength: number;
  /** Next DataSN (Data-In) or R2TSN (R2T) expected. */
  expectedSN: number;
  /**
   * End of the highest Data-In placed so far. Every byte of readBuffer below it was placed or zeroed: in-order
   * data never overlaps and a gap is zeroed when a later sequence skips it; with out-of-order data the buffer
   * is zeroed when the task starts.
   */
  readEnd: number;
  /** A Data-In sequence is open (its F bit not yet seen). */
  inSequence: boolean;
  /** Bytes placed in readBuffer. */
  bytesRead: number;
  /** A Data-In with status arrived: nothing more may come. */
  completed: boolean;
}

/** What a Data-In amounted to: a status to deliver as a SCSI Response, or nothing. */
export type DataInOutcome = ScsiResponsePdu | undefined;

/** Every task an initiator connection has in flight. */
export class InitiatorTasks {
  private readonly tasks = new Map<number, InitiatorTask>();
  private readonly retired = new RetiredTags();

  /**
   * Starts tracking a command; throws ERR_TCP_USAGE when its ITT is taken or reserved. The read buffer may hold
   * anything (uninitialised memory): what no Data-In places is zeroed before the status is delivered.
   */
  add(
    pdu: ScsiCommandPdu,
    buffers: InitiatorTaskBuffers,
    writeLength: number,
    params: NegotiatedParams,
  ): InitiatorTask {
    if (pdu.itt === RESERVED_TAG) throw new TcpTransportError('ERR_TCP_USAGE', 'ITT 0xffffffff is reserved');
    if (this.tasks.has(pdu.itt)) throw new TcpTransportError('ERR_TCP_USAGE', `ITT ${pdu.itt} is already in use`);
    const task: InitiatorTask = {
      itt: pdu.itt,
      lun: pdu.lun,
      readBuffer: buffers.readBuffer,
      writeData: buffers.writeData ?? [],
      writeLength,
      expectedSN: 0,
      readEnd: 0,
      inSequence: false,
      bytesRead: 0,
      completed: false,
    };
    // Out-of-order data may land anywhere: zero it all first, then readEnd = length says "all defined".
    if (task.readBuffer !== undefined && !inOrder(params)) {
      task.readBuffer.fill(0);
      task.readEnd = task.readBuffer.length;
    }
    this.retired.delete(pdu.itt);
    this.tasks.set(pdu.itt, task);
    return task;
  }

  /** The task with this ITT, if any. */
  get(itt: number): InitiatorTask | undefined {
    return this.tasks.get(itt);
  }

  /** Forgets a task. */
  done(itt: number): void {
    if (this.tasks.delete(itt)) this.retired.add(itt);
  }

  /** Forgets every task. */
  clear(): void {
    this.tasks.clear();
  }

  /**
   * Checks a Data-In and places its data in the task's read buffer (the one copy from the socket chunk).
   * Returns the equivalent SCSI Response when it carries status (S bit). Data-In for a task finished a moment
   * ago is dropped. The A bit (DataACK request) is ignored: it is only meaningful at ErrorRecoveryLevel > 0.
   */
  dataIn(pdu: ScsiDataInPdu, params: NegotiatedParams, header: Buffer): DataInOutcome {
    const task = this.tasks.get(pdu.itt);
    if (task === undefined) {
      if (this.retired.has(pdu.itt)) return undefined;
      throw protocolError(`Data-In for unknown ITT 0x${hex(pdu.itt)}`, header);
    }
    if (task.completed) throw protocolError(`Data-In for ITT 0x${hex(pdu.itt)} after its status`, header);
    if (pdu.dataSN !== task.expectedSN) {
      throw protocolError(`Data-In DataSN ${pdu.dataSN} where ${task.expectedSN} was expected`, header);
    }
    const length = totalLength(pdu.data);
    const buffer = task.readBuffer;
    if (length > 0) {
      if (buffer === undefined) throw protocolError(`Data-In for ITT 0x${hex(pdu.itt)}, which reads nothing`, header);
      if (pdu.bufferOffset + length > buffer.length) {
        throw protocolError(
          `Data-In of ${length} bytes at offset ${pdu.bufferOffset} is outside the ${buffer.length}-byte read buffer`,
          header,
        );
      }
      if (inOrder(params)) {
        const misplaced = task.inSequence ? pdu.bufferOffset !== task.readEnd : pdu.bufferOffset < task.readEnd;
        if (misplaced) {
          throw protocolError(
            `Data-In at offset ${pdu.bufferOffset} is out of order (next is ${task.readEnd})`,
            header,
          );
        }
      }
    }
    if (pdu.statusPresent && !pdu.final) throw protocolError('Data-In with the S bit but not the F bit', header);
    if (length > 0 && buffer !== undefined) {
      if (pdu.bufferOffset > task.readEnd) buffer.fill(0, task.readEnd, pdu.bufferOffset); // a skipped gap
      copyChunksInto(pdu.data, buffer, pdu.bufferOffset);
      task.bytesRead += length;
      task.readEnd = Math.max(task.readEnd, pdu.bufferOffset + length);
    }
    task.expectedSN = serialAdd(task.expectedSN, 1);
    task.inSequence = !pdu.final;
    if (!pdu.statusPresent) return undefined;
    task.completed = true;
    zeroUnplaced(task);
    return {
      kind: 'scsi-response',
      bidirectionalReadResidualOverflow: false,
      bidirectionalReadResidualUnderflow: false,
      residualOverflow: pdu.residualOverflow,
      residualUnderflow: pdu.residualUnderflow,
      response: ScsiServiceResponse.CommandCompletedAtTarget,
      status: pdu.status,
      itt: pdu.itt,
      snackTag: 0,
      statSN: pdu.statSN,
      expCmdSN: pdu.expCmdSN,
      maxCmdSN: pdu.maxCmdSN,
      expDataSN: task.expectedSN,
      bidirectionalReadResidualCount: 0,
      residualCount: pdu.residualCount,
      data: [],
    };
  }

  /** A SCSI Response arrived for `itt`: zero the read bytes no Data-In placed, before anyone sees the buffer. */
  response(itt: number): void {
    const task = this.tasks.get(itt);
    if (task !== undefined) zeroUnplaced(task);
  }

  /** Checks an R2T; returns its task, or undefined when it is for a task finished a moment ago (dropped). */
  r2t(pdu: ReadyToTransferPdu, params: NegotiatedParams, header: Buffer): InitiatorTask | undefined {
    const task = this.tasks.get(pdu.itt);
    if (task === undefined) {
      if (this.retired.has(pdu.itt)) return undefined;
      throw protocolError(`R2T for unknown ITT 0x${hex(pdu.itt)}`, header);
    }
    if (task.completed) throw protocolError(`R2T for ITT 0x${hex(pdu.itt)} after its status`, header);
    if (pdu.r2tSN !== task.expectedSN) {
      throw protocolError(`R2TSN ${pdu.r2tSN} where ${task.expectedSN} was expected`, header);
    }
    if (pdu.ttt === RESERVED_TAG) throw protocolError('R2T with the reserved TTT 0xffffffff', header);
    const { bufferOffset, desiredDataTransferLength: length } = pdu;
    if (length === 0) throw protocolError('R2T for 0 bytes', header);
    if (length > params.maxBurstLength) {
      throw protocolError(`R2T for ${length} bytes exceeds MaxBurstLength ${params.maxBurstLength}`, header);
    }
    if (bufferOffset + length > task.writeLength) {
      throw protocolError(
        `R2T for ${length} bytes at offset ${bufferOffset} exceeds the ${task.writeLength}-byte write (EDTL)`,
        header,
      );
    }
    task.expectedSN = serialAdd(task.expectedSN, 1);
    return task;
  }
}

function inOrder(params: NegotiatedParams): boolean {
  return params.dataPduInOrder && params.dataSequenceInOrder;
}

function zeroUnplaced(task: InitiatorTask): void {
  const buffer = task.readBuffer;
  if (buffer !== undefined && task.readEnd < buffer.length) {
    buffer.fill(0, task.readEnd);
    task.readEnd = buffer.length;
  }
}

function protocolError(message: string, header: Buffer): TcpTransportError {
  return new TcpTransportError('ERR_TCP_PROTOCOL', message, {
    rejectReason: RejectReason.ProtocolError,
    header: Buffer.from(header),
  });
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
