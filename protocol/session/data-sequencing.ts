/**
 * Data sequencing rules of iSCSI (RFC 7143 §4.2, §11.7, §11.8, §13.10-13.19), pure and transport-independent:
 * how much of a write goes unsolicited, how a target cuts a read into Data-In PDUs and bursts, how it asks for
 * the rest of a write with R2Ts, and how an initiator answers an R2T with Data-Out PDUs.
 *
 * Plans are generators of small records (no data), so a transport walks a 4 GiB transfer without building a list.
 * Offsets are always in order: DataPDUInOrder and DataSequenceInOrder are Yes unless both sides said No (OR), and
 * in-order is legal either way.
 */
import type { NegotiatedParams } from '../text/index.js';

/** How many leading bytes of a write go without an R2T. */
export interface UnsolicitedLengths {
  /** Bytes carried as immediate data in the SCSI Command PDU. */
  readonly immediateLength: number;
  /** Bytes sent as unsolicited Data-Out PDUs right after the command. */
  readonly unsolicitedDataOutLength: number;
}

/** The negotiated values the unsolicited-data rules depend on. */
export type UnsolicitedParams = Pick<
  NegotiatedParams,
  'immediateData' | 'initialR2T' | 'firstBurstLength' | 'maxRecvDataSegmentLength'
>;

/**
 * The unsolicited part of a write of `expectedDataTransferLength` bytes (RFC 7143 §13.13/13.14): immediate data up
 * to min(FirstBurstLength, the target's MaxRecvDataSegmentLength) when ImmediateData=Yes, then, when InitialR2T=No,
 * unsolicited Data-Out up to FirstBurstLength in all. What an initiator session puts in InitiatorTaskBuffers.
 */
export function unsolicitedLengths(params: UnsolicitedParams, expectedDataTransferLength: number): UnsolicitedLengths {
  const edtl = Math.max(0, expectedDataTransferLength);
  const firstBurst = Math.min(edtl, params.firstBurstLength);
  const immediateLength = params.immediateData ? Math.min(firstBurst, params.maxRecvDataSegmentLength.target) : 0;
  const unsolicitedTotal = params.initialR2T ? immediateLength : firstBurst;
  return { immediateLength, unsolicitedDataOutLength: unsolicitedTotal - immediateLength };
}

/** The SCSI Command's F bit: set when no unsolicited Data-Out follows it. */
export function commandFinalBit(lengths: UnsolicitedLengths): boolean {
  return lengths.unsolicitedDataOutLength === 0;
}

/**
 * Why the unsolicited lengths an initiator chose break the negotiated rules, or undefined when they are legal.
 * `writeLength` is the length of the write data (EDTL).
 */
export function unsolicitedLengthsViolation(
  params: UnsolicitedParams,
  writeLength: number,
  lengths: UnsolicitedLengths,
): string | undefined {
  const { immediateLength, unsolicitedDataOutLength } = lengths;
  if (!isLength(immediateLength) || !isLength(unsolicitedDataOutLength)) {
    return `unsolicited lengths must be non-negative integers (${immediateLength}, ${unsolicitedDataOutLength})`;
  }
  if (immediateLength > 0 && !params.immediateData) return 'immediate data while ImmediateData=No';
  if (immediateLength > params.maxRecvDataSegmentLength.target) {
    return `immediate data of ${immediateLength} bytes exceeds the target's MaxRecvDataSegmentLength`;
  }
  if (unsolicitedDataOutLength > 0 && params.initialR2T) return 'unsolicited Data-Out while InitialR2T=Yes';
  const total = immediateLength + unsolicitedDataOutLength;
  if (total > params.firstBurstLength) return `${total} unsolicited bytes exceed FirstBurstLength`;
  if (total > writeLength) return `${total} unsolicited bytes exceed the write's ${writeLength} bytes`;
  return undefined;
}

/**
 * Why a command's write data cannot go out as given, or undefined when it can: the data is EDTL bytes exactly (or
 * none, for a read) and its unsolicited split follows the negotiated rules. Every initiator Datamover checks this.
 */
export function commandDataViolation(
  params: UnsolicitedParams,
  expectedDataTransferLength: number,
  writeLength: number,
  lengths: UnsolicitedLengths,
): string | undefined {
  if (writeLength > 0 && writeLength !== expectedDataTransferLength) {
    return `writeData holds ${writeLength} bytes but EDTL is ${expectedDataTransferLength}`;
  }
  return unsolicitedLengthsViolation(params, writeLength, lengths);
}

/**
 * Target side: where the unsolicited data of a write command ends (exclusive), given what its PDU says, or a
 * string saying which rule the command breaks. Unsolicited Data-Out, when F=0, fills up to min(EDTL, FirstBurstLength).
 */
export function unsolicitedEnd(
  params: UnsolicitedParams,
  command: { readonly expectedDataTransferLength: number; readonly immediateLength: number; readonly final: boolean },
): number | string {
  const { expectedDataTransferLength: edtl, immediateLength, final } = command;
  if (immediateLength > 0 && !params.immediateData) return 'immediate data while ImmediateData=No';
  if (immediateLength > edtl) return `immediate data of ${immediateLength} bytes exceeds EDTL ${edtl}`;
  if (immediateLength > params.firstBurstLength) return `immediate data exceeds FirstBurstLength`;
  if (final) return immediateLength;
  if (params.initialR2T) return 'F=0 (unsolicited Data-Out follows) while InitialR2T=Yes';
  const end = Math.min(edtl, params.firstBurstLength);
  if (end <= immediateLength) return 'F=0 but no unsolicited data is left to send';
  return end;
}

/** One data PDU of a plan: which bytes, its DataSN and whether it ends its sequence (F bit). */
export interface DataPduPlan {
  readonly bufferOffset: number;
  readonly length: number;
  readonly dataSN: number;
  readonly final: boolean;
}

/** What {@link segmentTransfer} cuts. */
export interface TransferShape {
  readonly offset: number;
  readonly length: number;
  /** Largest data segment the receiver accepts. */
  readonly maxSegmentLength: number;
  /** Largest sequence (burst); a sequence ends with F=1. */
  readonly maxBurstLength: number;
  /** DataSN of the first PDU; it grows by one per PDU (mod 2^32). */
  readonly firstDataSN: number;
}

/**
 * Cuts `length` bytes at `offset` into PDUs of at most `maxSegmentLength` bytes, grouped in sequences of at most
 * `maxBurstLength` bytes (no PDU straddles a sequence end); the last PDU always ends a sequence.
 */
export function* segmentTransfer(shape: TransferShape): Generator<DataPduPlan, void, undefined> {
  const { offset, length, maxSegmentLength, maxBurstLength } = shape;
  if (!(maxSegmentLength >= 1) || !(maxBurstLength >= 1)) {
    throw new RangeError(`segment and burst lengths must be positive (${maxSegmentLength}, ${maxBurstLength})`);
  }
  let dataSN = shape.firstDataSN >>> 0;
  let done = 0;
  let inBurst = 0;
  while (done < length) {
    const size = Math.min(maxSegmentLength, maxBurstLength - inBurst, length - done);
    done += size;
    inBurst += size;
    const final = inBurst === maxBurstLength || done === length;
    yield { bufferOffset: offset + done - size, length: size, dataSN, final };
    dataSN = (dataSN + 1) >>> 0;
    if (final) inBurst = 0;
  }
}

/**
 * Target: the Data-In PDUs for `length` bytes of read data at `offset` (PDUs of at most the initiator's
 * MaxRecvDataSegmentLength, sequences of at most MaxBurstLength, DataSN continuing the task's count).
 */
export function dataInPlan(
  params: Pick<NegotiatedParams, 'maxRecvDataSegmentLength' | 'maxBurstLength'>,
  offset: number,
  length: number,
  firstDataSN: number,
): Generator<DataPduPlan, void, undefined> {
  return segmentTransfer({
    offset,
    length,
    maxSegmentLength: params.maxRecvDataSegmentLength.initiator,
    maxBurstLength: params.maxBurstLength,
    firstDataSN,
  });
}

/**
 * Initiator: the Data-Out PDUs of one sequence (answering an R2T, or the unsolicited sequence): PDUs of at most
 * the target's MaxRecvDataSegmentLength, DataSN from 0, F on the last.
 */
export function dataOutPlan(
  params: Pick<NegotiatedParams, 'maxRecvDataSegmentLength'>,
  offset: number,
  length: number,
): Generator<DataPduPlan, void, undefined> {
  return segmentTransfer({
    offset,
    length,
    maxSegmentLength: params.maxRecvDataSegmentLength.target,
    maxBurstLength: Math.max(1, length),
    firstDataSN: 0,
  });
}

/** A byte range of a task's buffer. */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/** Target: the R2Ts asking for `length` bytes at `offset`, each for at most MaxBurstLength bytes, in order. */
export function* r2tRanges(
  params: Pick<NegotiatedParams, 'maxBurstLength'>,
  offset: number,
  length: number,
): Generator<ByteRange, void, undefined> {
  if (!(params.maxBurstLength >= 1)) throw new RangeError(`MaxBurstLength must be positive`);
  for (let done = 0; done < length;) {
    const size = Math.min(params.maxBurstLength, length - done);
    yield { offset: offset + done, length: size };
    done += size;
  }
}

function isLength(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
