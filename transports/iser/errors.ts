/**
 * Errors of the iSER transport. Every failure is an {@link IserTransportError} with a stable code; a failed work
 * completion also carries its `ibv_wc_status` and the operation it belonged to, and the message says what that
 * means for iSER (whose STag, which offset), never just "CQ error".
 */
import { IserError, type IserErrorOptions } from '../../protocol/errors.js';
import type { WcStatus } from '../verbs.js';

/** Stable codes of {@link IserTransportError}. */
export type IserTransportErrorCode =
  /** connect(): the target refused the RDMA connection (CM REJ), e.g. its listener is closing. */
  | 'ERR_ISER_CONNECT_REJECTED'
  /** connect(): no RDMA connection (unreachable, address or route error, CM timeout). */
  | 'ERR_ISER_CONNECT_FAILED'
  /** listen(): the portal could not be bound. */
  | 'ERR_ISER_LISTEN_FAILED'
  /** enable(): the login did not negotiate RDMAExtensions=Yes, so the peer does not speak iSER. */
  | 'ERR_ISER_NOT_NEGOTIATED'
  /** A work request completed with an error status (the message names the operation and the status). */
  | 'ERR_ISER_COMPLETION'
  /** The peer broke an iSER rule: bad iSER header, Data-In or R2T received, solicited Data-Out, bad STag use... */
  | 'ERR_ISER_PROTOCOL'
  /** The peer disconnected or the connection was lost. */
  | 'ERR_ISER_CONNECTION_LOST'
  /** The connection is closed: new operations are refused and pending ones fail with this. */
  | 'ERR_ISER_CLOSED'
  /** Memory could not be registered, or a resource bound was reached. */
  | 'ERR_ISER_RESOURCES'
  /** An option is outside what the transport allows (e.g. a maxReceiveDataSegmentLength above the 256 KiB cap). */
  | 'ERR_ISER_CONFIG'
  /**
   * enable(): the login settled a receive data segment (our own RDSL key) larger than this side's
   * maxReceiveDataSegmentLength: the session offered more than the transport was configured to receive.
   */
  | 'ERR_ISER_RECEIVE_LIMIT'
  /** A data transfer was asked for before `enable()`. */
  | 'ERR_ISER_NOT_ENABLED'
  /** The operation belongs to the other role (e.g. `putData` on an initiator connection). */
  | 'ERR_ISER_ROLE'
  /** The caller misused the interface (a data PDU passed to sendControl, a reused ITT, a range outside EDTL). */
  | 'ERR_ISER_USAGE'
  /** getData/putData: the task was finished (`taskDone`) while its data was still moving. */
  | 'ERR_ISER_TASK_DONE';

/** Options of an {@link IserTransportError}. */
export interface IserTransportErrorOptions extends IserErrorOptions {
  /** The `ibv_wc_status` of the failed completion or QP error, if any. */
  readonly wcStatus?: WcStatus;
  /** What the failed work request was doing (e.g. `RDMA Read from the initiator`). */
  readonly operation?: string;
}

/** Any failure of the iSER transport. */
export class IserTransportError extends IserError<IserTransportErrorCode> {
  /** The `ibv_wc_status` that caused it, if a completion or QP error did. */
  readonly wcStatus: WcStatus | undefined;
  /** The operation that failed, if one did. */
  readonly operation: string | undefined;

  constructor(code: IserTransportErrorCode, message: string, options?: IserTransportErrorOptions) {
    super(code, message, options);
    this.wcStatus = options?.wcStatus;
    this.operation = options?.operation;
  }
}

/** Shorthand for an {@link IserTransportError}. */
export function iserError(
  code: IserTransportErrorCode,
  message: string,
  options?: IserTransportErrorOptions,
): IserTransportError {
  return new IserTransportError(code, message, options);
}

/** What a completion status means, in a few words, for the messages users read. */
export function explainStatus(status: WcStatus): string {
  switch (status) {
    case 'REM_ACCESS_ERR':
      return 'the remote key, address range or access rights did not allow it';
    case 'REM_INV_REQ_ERR':
      return 'the peer refused the request (e.g. a Send larger than its receive buffer)';
    case 'LOC_LEN_ERR':
      return 'a message was larger than the buffer it had to land in';
    case 'LOC_PROT_ERR':
      return 'a local buffer was not (or no longer) registered';
    case 'RETRY_EXC_ERR':
      return 'the peer stopped answering (transport retries exhausted)';
    case 'RNR_RETRY_EXC_ERR':
      return 'the peer had no receive buffer posted for too long';
    case 'REM_OP_ERR':
      return 'the peer could not carry out the operation';
    case 'WR_FLUSH_ERR':
      return 'the connection was already in error';
    default:
      return 'the work request failed';
  }
}
