/**
 * Reject reasons (RFC 7143 §11.17.1): the byte a target puts in a Reject PDU to say why it refused a PDU.
 * Decode errors carry the reason a target would answer with, so the session can build the Reject directly.
 */

/** Reject reason codes, named as in RFC 7143 §11.17.1. */
export const RejectReason = {
  /** The data digest did not match; the original PDU may be resent. */
  DataDigestError: 0x02,
  /** A SNACK could not be honoured; the original PDU may be resent. */
  SnackReject: 0x03,
  /** A protocol error, e.g. a SNACK for a status already acknowledged. */
  ProtocolError: 0x04,
  /** The command (opcode) is not supported. */
  CommandNotSupported: 0x05,
  /** Too many immediate commands; the original PDU may be resent. */
  ImmediateCommandReject: 0x06,
  /** The task is still in progress. */
  TaskInProgress: 0x07,
  /** An invalid data acknowledgement (DataACK SNACK). */
  InvalidDataAck: 0x08,
  /** A field is invalid, e.g. an unknown ITT/TTT or invalid SNACK numbers. */
  InvalidPduField: 0x09,
  /** Out of resources to generate a Target Transfer Tag; the original PDU may be resent. */
  LongOperationReject: 0x0a,
  /** Deprecated (was "Negotiation Reset"); MUST NOT be sent. */
  NegotiationReset: 0x0b,
  /** The target is waiting for a Logout. */
  WaitingForLogout: 0x0c,
} as const;

/** One of the {@link RejectReason} codes. */
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

const rejectReasonNames = new Map<number, string>(Object.entries(RejectReason).map(([name, code]) => [code, name]));

/** The RFC name of a reject reason byte, or `Unknown(0xNN)`. */
export function rejectReasonName(reason: number): string {
  return rejectReasonNames.get(reason) ?? `Unknown(0x${reason.toString(16).padStart(2, '0')})`;
}
