/**
 * Errors of the iSCSI/TCP transport. Every failure is a {@link TcpTransportError} with a stable code; a protocol
 * violation by the peer also carries the Reject reason RFC 7143 §11.17.1 names for it, where one applies.
 */
import { IserError, type IserErrorOptions } from '../../protocol/errors.js';
import type { RejectReason } from '../../protocol/pdu/index.js';

/** Stable codes of {@link TcpTransportError}. */
export type TcpTransportErrorCode =
  /** connect(): the peer refused the connection (ECONNREFUSED). */
  | 'ERR_TCP_CONNECT_REFUSED'
  /** connect(): no connection within the timeout. */
  | 'ERR_TCP_CONNECT_TIMEOUT'
  /** connect(): any other failure (unreachable, unresolvable, ...). */
  | 'ERR_TCP_CONNECT_FAILED'
  /** listen(): the portal could not be bound (EADDRINUSE, EACCES, ...). */
  | 'ERR_TCP_LISTEN_FAILED'
  /** The socket failed after it was connected (reset, broken pipe, ...). */
  | 'ERR_TCP_CONNECTION_LOST'
  /** The connection is closed: new operations are refused and pending ones fail with this. */
  | 'ERR_TCP_CLOSED'
  /** The byte stream cannot be framed any more (header digest, oversized PDU, undefined opcode, ...). */
  | 'ERR_TCP_FRAMING'
  /** A data digest did not match; at ErrorRecoveryLevel 0 the connection is dropped. */
  | 'ERR_TCP_DATA_DIGEST'
  /** The peer broke a data transfer rule (unknown ITT or TTT, offset outside the buffer, Data-In DataSN gap, ...). */
  | 'ERR_TCP_PROTOCOL'
  /**
   * getData (target): a Data-Out of the task came out of DataSN order; the task's data-out is lost (ErrorRecoveryLevel
   * 0), the PDU is rejected and the connection stays up.
   */
  | 'ERR_TCP_DATA_SEQUENCE'
  /** A data transfer was asked for before `enable()`. */
  | 'ERR_TCP_NOT_ENABLED'
  /** The operation belongs to the other role (e.g. `putData` on an initiator connection). */
  | 'ERR_TCP_ROLE'
  /** The caller misused the interface (a data PDU passed to sendControl, a reused ITT, a range outside EDTL). */
  | 'ERR_TCP_USAGE'
  /** getData: the solicited Data-Out did not arrive in time. */
  | 'ERR_TCP_DATA_TIMEOUT'
  /** getData: the task was finished (`taskDone`) while its data was still awaited. */
  | 'ERR_TCP_TASK_DONE';

/** Options of a {@link TcpTransportError}. */
export interface TcpTransportErrorOptions extends IserErrorOptions {
  /** The Reject reason a target would answer the offending PDU with. */
  readonly rejectReason?: RejectReason;
  /** The header (BHS+AHS) of the offending PDU, when there is one. */
  readonly header?: Buffer;
}

/** Any failure of the iSCSI/TCP transport (and of the in-memory pair that mimics it). */
export class TcpTransportError extends IserError<TcpTransportErrorCode> {
  /** The Reject reason (RFC 7143 §11.17.1) that applies, if any. */
  readonly rejectReason: RejectReason | undefined;
  /** The offending PDU's header, if any. */
  readonly header: Buffer | undefined;

  constructor(code: TcpTransportErrorCode, message: string, options?: TcpTransportErrorOptions) {
    super(code, message, options);
    this.rejectReason = options?.rejectReason;
    this.header = options?.header;
  }
}
