/**
 * Errors of the PDU layer. Decoders throw only {@link PduDecodeError}; encoders throw only {@link PduEncodeError}
 * (a caller passed a value that does not fit its wire field); serial arithmetic throws {@link SerialNumberError}.
 */
import { IserError, type IserErrorOptions } from '../errors.js';
import { RejectReason } from './reject-reason.js';

/** Stable codes of {@link PduDecodeError}. */
export type PduDecodeErrorCode =
  /** Fewer bytes than a BHS (48) or than the structure being decoded needs. */
  | 'ERR_PDU_TRUNCATED'
  /** The opcode is not one RFC 7143 defines. */
  | 'ERR_PDU_OPCODE'
  /** DataSegmentLength exceeds the negotiated MaxRecvDataSegmentLength. */
  | 'ERR_PDU_DATA_TOO_LONG'
  /** Malformed, unknown, duplicated or oversized Additional Header Segments. */
  | 'ERR_PDU_AHS'
  /** The header digest (CRC32C over BHS+AHS) does not match. */
  | 'ERR_PDU_HEADER_DIGEST'
  /** The data digest (CRC32C over data+padding) does not match. */
  | 'ERR_PDU_DATA_DIGEST'
  /** A field holds a value the RFC forbids. */
  | 'ERR_PDU_FIELD'
  /** The header and data given do not add up to the lengths the BHS declares. */
  | 'ERR_PDU_LENGTH'
  /** A PDU kind that never carries a data segment declares one. */
  | 'ERR_PDU_UNEXPECTED_DATA'
  /** The framer would have to buffer more than its bound. */
  | 'ERR_PDU_BUFFER_OVERFLOW'
  /** The framer already failed on a fatal error; the byte stream cannot be resynchronised. */
  | 'ERR_PDU_FRAMER_FAILED'
  /** A malformed iSER header, Hello or HelloReply (RFC 7145 §9). */
  | 'ERR_ISER_HEADER';

/** The Reject reason a target answers each decode error with, where RFC 7143 defines one. */
const defaultRejectReason: Readonly<Record<PduDecodeErrorCode, RejectReason | undefined>> = {
  ERR_PDU_TRUNCATED: RejectReason.ProtocolError,
  ERR_PDU_OPCODE: RejectReason.CommandNotSupported,
  ERR_PDU_DATA_TOO_LONG: RejectReason.ProtocolError,
  ERR_PDU_AHS: RejectReason.ProtocolError,
  // A header digest error leaves the lengths untrusted: the PDU is discarded, not rejected (RFC 7143 §7.8).
  ERR_PDU_HEADER_DIGEST: undefined,
  ERR_PDU_DATA_DIGEST: RejectReason.DataDigestError,
  ERR_PDU_FIELD: RejectReason.InvalidPduField,
  ERR_PDU_LENGTH: RejectReason.ProtocolError,
  ERR_PDU_UNEXPECTED_DATA: RejectReason.ProtocolError,
  ERR_PDU_BUFFER_OVERFLOW: undefined,
  ERR_PDU_FRAMER_FAILED: undefined,
  ERR_ISER_HEADER: undefined,
};

/** Options of a {@link PduDecodeError}. */
export interface PduDecodeErrorOptions extends IserErrorOptions {
  /** The BHS (+AHS) of the offending PDU when it is known, e.g. to copy into a Reject. */
  readonly header?: Buffer;
}

/** Hostile or malformed bytes: the only error a PDU decoder throws. */
export class PduDecodeError extends IserError<PduDecodeErrorCode> {
  /** The Reject reason (RFC 7143 §11.17.1) a target answers with, or undefined when none applies. */
  readonly rejectReason: RejectReason | undefined;
  /** The offending PDU's header when known (for a data digest error it always is). */
  readonly header: Buffer | undefined;

  constructor(code: PduDecodeErrorCode, message: string, options?: PduDecodeErrorOptions) {
    super(code, message, options);
    this.rejectReason = defaultRejectReason[code];
    this.header = options?.header;
  }
}

/** Stable codes of {@link PduEncodeError}. */
export type PduEncodeErrorCode =
  /** A field value does not fit its wire width or is not allowed. */
  | 'ERR_PDU_ENCODE_FIELD'
  /** The data segment or AHS is longer than the wire format can express. */
  | 'ERR_PDU_ENCODE_LENGTH'
  /** A codec setting (e.g. a framer bound) is out of range. */
  | 'ERR_PDU_SETTING';

/** A caller handed the encoder a value that cannot be put on the wire. */
export class PduEncodeError extends IserError<PduEncodeErrorCode> {}

/** Serial number arithmetic was asked for something RFC 1982 leaves undefined. */
export class SerialNumberError extends IserError<'ERR_SERIAL_RANGE'> {}
