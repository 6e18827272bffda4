/**
 * Errors of the SCSI layer. Decoders of sense data, CDBs and parameter data throw only {@link ScsiDecodeError};
 * CDB and data builders throw only {@link ScsiEncodeError}; a command that ends in a status other than GOOD (or
 * CONDITION MET) is described by a {@link ScsiStatusError}; misuse of the target model throws
 * {@link ScsiTargetError}.
 */
import { IserError, type IserErrorOptions } from '../errors.js';
import type { SenseData } from './sense.js';

/** Stable codes of {@link ScsiDecodeError}. */
export type ScsiDecodeErrorCode =
  /** Fewer bytes than the structure being decoded needs. */
  | 'ERR_SCSI_TRUNCATED'
  /** A length field points past the end of the bytes given, or is not a multiple of its unit. */
  | 'ERR_SCSI_LENGTH'
  /** A field holds a value the standard does not define (e.g. an unknown sense response code). */
  | 'ERR_SCSI_FIELD';

/** Malformed or hostile bytes: the only error a SCSI decoder throws. */
export class ScsiDecodeError extends IserError<ScsiDecodeErrorCode> {}

/** Stable codes of {@link ScsiEncodeError}. */
export type ScsiEncodeErrorCode =
  /** A value does not fit its field (e.g. an LBA above 2^21 - 1 for READ(6)). */
  'ERR_SCSI_ENCODE_FIELD';

/** A caller handed a builder a value that cannot be expressed on the wire. */
export class ScsiEncodeError extends IserError<ScsiEncodeErrorCode> {}

/** Options of a {@link ScsiStatusError}. */
export interface ScsiStatusErrorOptions extends IserErrorOptions {
  /** Decoded sense data, when the status came with some. */
  readonly sense?: SenseData;
}

/** A SCSI command completed with a status other than GOOD or CONDITION MET (SAM-5 §5.3). */
export class ScsiStatusError extends IserError<'ERR_SCSI_STATUS'> {
  /** The SCSI status byte (e.g. 0x02 CHECK CONDITION). */
  readonly status: number;
  /** The sense data that came with a CHECK CONDITION, if any. */
  readonly sense: SenseData | undefined;

  constructor(status: number, message: string, options?: ScsiStatusErrorOptions) {
    super('ERR_SCSI_STATUS', message, options);
    this.status = status;
    this.sense = options?.sense;
  }
}

/** Stable codes of {@link ScsiTargetError}. */
export type ScsiTargetErrorCode =
  /** A logical unit or device was configured with impossible settings. */
  | 'ERR_SCSI_TARGET_CONFIG'
  /** A backend broke its contract (e.g. returned fewer bytes than asked for). */
  | 'ERR_SCSI_BACKEND_CONTRACT';

/** The target model was misused by the code driving it (not by the initiator). */
export class ScsiTargetError extends IserError<ScsiTargetErrorCode> {}
