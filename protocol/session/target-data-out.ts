/**
 * Statuses the session gives a command itself, without the SCSI device: a COMPARE AND WRITE whose EDTL
 * disagrees with its length, and a command whose data-out could not be fetched.
 */
import { AdditionalSense, SenseKey } from '../scsi/sense-codes.js';
import { encodeSense, senseData } from '../scsi/sense.js';
import { ScsiStatus } from '../scsi/status.js';
import type { ScsiResponse } from '../scsi/target/types.js';

const COMPARE_AND_WRITE = 0x89;

function checkCondition(key: number, code: number, fieldPointer?: number): ScsiResponse {
  const sense = senseData({
    key,
    asc: code >> 8,
    ascq: code & 0xff,
    ...(fieldPointer === undefined
      ? {}
      : { senseKeySpecific: { kind: 'field-pointer' as const, inCdb: true, fieldPointer } }),
  });
  return { status: ScsiStatus.CheckCondition, sense: encodeSense(sense) };
}

/**
 * COMPARE AND WRITE carries the verify data then the write data, each half its length: with any other EDTL the
 * initiator split its buffer elsewhere than the CDB says, so the command is refused (INVALID FIELD IN CDB on the
 * NUMBER OF LOGICAL BLOCKS byte, as LIO does) rather than compared against the wrong bytes.
 */
export function refuseDataOutMismatch(cdb: Buffer, writeLength: number, dataOut: number): ScsiResponse | undefined {
  if (cdb[0] !== COMPARE_AND_WRITE || writeLength === dataOut) return undefined;
  return checkCondition(SenseKey.IllegalRequest, AdditionalSense.InvalidFieldInCdb, 13);
}

/** A command whose data-out never arrived (sequence error, timeout): ABORTED COMMAND, DATA PHASE ERROR. */
export function dataPhaseError(): ScsiResponse {
  return checkCondition(SenseKey.AbortedCommand, AdditionalSense.DataPhaseError);
}
