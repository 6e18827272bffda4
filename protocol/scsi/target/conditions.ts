/**
 * The CHECK CONDITIONs a device server raises, as throwable {@link ScsiStatusError}s. Command code throws them;
 * the logical unit turns them into status and sense bytes in the format the control mode page asks for.
 */
import { ScsiStatusError } from '../errors.js';
import { AdditionalSense, SenseKey } from '../sense-codes.js';
import { senseData, type SenseInit } from '../sense.js';
import { ScsiStatus } from '../status.js';

/** A CHECK CONDITION with the given sense key and `ASC << 8 | ASCQ`. */
export function checkCondition(
  key: number,
  code: number,
  extra: Omit<SenseInit, 'key' | 'asc' | 'ascq'> = {},
): ScsiStatusError {
  const sense = senseData({ key, asc: code >> 8, ascq: code & 0xff, ...extra });
  return new ScsiStatusError(ScsiStatus.CheckCondition, `CHECK CONDITION: key ${key} ASC/ASCQ 0x${code.toString(16)}`, {
    sense,
  });
}

/** ILLEGAL REQUEST, INVALID FIELD IN CDB, pointing at `byte` (and `bit`, the field's most significant bit). */
export function invalidFieldInCdb(byte: number, bit?: number): ScsiStatusError {
  return checkCondition(SenseKey.IllegalRequest, AdditionalSense.InvalidFieldInCdb, {
    senseKeySpecific: {
      kind: 'field-pointer',
      inCdb: true,
      fieldPointer: byte,
      ...(bit !== undefined && { bitPointer: bit }),
    },
  });
}

/** ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST, pointing at `byte` (and `bit`) of the parameter data. */
export function invalidFieldInParameterList(byte: number, bit?: number): ScsiStatusError {
  return checkCondition(SenseKey.IllegalRequest, AdditionalSense.InvalidFieldInParameterList, {
    senseKeySpecific: {
      kind: 'field-pointer',
      inCdb: false,
      fieldPointer: byte,
      ...(bit !== undefined && { bitPointer: bit }),
    },
  });
}

/** ILLEGAL REQUEST, PARAMETER LIST LENGTH ERROR. */
export function parameterListLengthError(): ScsiStatusError {
  return checkCondition(SenseKey.IllegalRequest, AdditionalSense.ParameterListLengthError);
}

/** ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE. */
export function lbaOutOfRange(): ScsiStatusError {
  return checkCondition(SenseKey.IllegalRequest, AdditionalSense.LogicalBlockAddressOutOfRange);
}

/** ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (pointing at byte 0). */
export function invalidOpcode(): ScsiStatusError {
  return checkCondition(SenseKey.IllegalRequest, AdditionalSense.InvalidCommandOperationCode, {
    senseKeySpecific: { kind: 'field-pointer', inCdb: true, fieldPointer: 0 },
  });
}

/** ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED. */
export function logicalUnitNotSupported(): ScsiStatusError {
  return checkCondition(SenseKey.IllegalRequest, AdditionalSense.LogicalUnitNotSupported);
}

/** ILLEGAL REQUEST, INVALID FIELD IN COMMAND INFORMATION UNIT: the declared data-out is shorter than the CDB's. */
export function dataOutTooShort(): ScsiStatusError {
  return checkCondition(SenseKey.IllegalRequest, AdditionalSense.InvalidFieldInCommandInformationUnit);
}

/** MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION, with the byte offset of the first difference. */
export function miscompare(offset: number): ScsiStatusError {
  return checkCondition(SenseKey.Miscompare, AdditionalSense.MiscompareDuringVerifyOperation, {
    information: BigInt(offset),
  });
}

/** UNIT ATTENTION with the given `ASC << 8 | ASCQ`. */
export function unitAttention(code: number): ScsiStatusError {
  return checkCondition(SenseKey.UnitAttention, code);
}

/** A bare RESERVATION CONFLICT status (no sense data). */
export function reservationConflict(): ScsiStatusError {
  return new ScsiStatusError(ScsiStatus.ReservationConflict, 'RESERVATION CONFLICT');
}
