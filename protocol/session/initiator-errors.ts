/**
 * Errors of the initiator's session layer. A SCSI status other than GOOD is not here: it is the SCSI layer's
 * {@link ScsiStatusError} (status + decoded sense). Everything the session itself decides — a task aborted by a
 * TMF, a PDU the target rejected, a lost connection, recovery that ran out of time — is an
 * {@link InitiatorSessionError} with a stable code and, where the RFC defines one, the protocol value.
 */
import { IserError, type IserErrorOptions } from '../errors.js';
import { rejectReasonName } from '../pdu/reject-reason.js';
import { TaskManagementResponse } from '../pdu/task-management.js';

/** Stable codes of {@link InitiatorSessionError}. */
export type InitiatorSessionErrorCode =
  /** A task ended without status: aborted by a TMF (ours or the target's), or by its caller. */
  | 'ERR_SESSION_TASK_ABORTED'
  /** The target answered a PDU with Reject (RFC 7143 §11.17); `rejectReason` says why. */
  | 'ERR_SESSION_REJECTED'
  /** A task management request did not complete; `tmfResponse` is the target's answer (RFC 7143 §11.6.1). */
  | 'ERR_SESSION_TMF_FAILED'
  /** The connection failed while a request that cannot be reissued (ping, TMF, text, logout) was outstanding. */
  | 'ERR_SESSION_CONNECTION_LOST'
  /** Our keepalive NOP-Out went unanswered: the connection is considered dead. */
  | 'ERR_SESSION_NOP_TIMEOUT'
  /** A StatSN gap did not close in time: a status was lost (at ERL 0, a connection failure). */
  | 'ERR_SESSION_STATSN_GAP'
  /** The target broke a full-feature-phase rule (e.g. a login response, a bad text exchange). */
  | 'ERR_SESSION_PROTOCOL'
  /** Session recovery did not reinstate the session within DefaultTime2Wait + DefaultTime2Retain. */
  | 'ERR_SESSION_RECOVERY_TIMEOUT'
  /** Session recovery met a login failure that retrying cannot fix (e.g. authentication). */
  | 'ERR_SESSION_RECOVERY_FAILED'
  /** The session was logged out (or is logging out) before the request completed. */
  | 'ERR_SESSION_LOGGED_OUT'
  /** The target answered the Logout Request with a failure (`logoutResponse`, RFC 7143 §11.15.1). */
  | 'ERR_SESSION_LOGOUT_FAILED'
  /** The target did not answer the Logout Request in time; the connection was closed anyway. */
  | 'ERR_SESSION_LOGOUT_TIMEOUT'
  /** The SCSI Response said "target failure" (iSCSI Response 0x01, or a vendor code); no SCSI status. */
  | 'ERR_SESSION_TARGET_FAILURE'
  /** The session has failed or was closed: it takes no new requests. */
  | 'ERR_SESSION_CLOSED'
  /** The caller asked for something impossible (bad lengths, unknown task, duplicate request id). */
  | 'ERR_SESSION_BAD_REQUEST';

/** Options of an {@link InitiatorSessionError}. */
export interface InitiatorSessionErrorOptions extends IserErrorOptions {
  /** Reject reason (RFC 7143 §11.17.1), for ERR_SESSION_REJECTED. */
  readonly rejectReason?: number;
  /** Opcode of the rejected PDU, for ERR_SESSION_REJECTED. */
  readonly rejectedOpcode?: number;
  /** TMF response (RFC 7143 §11.6.1), for ERR_SESSION_TMF_FAILED. */
  readonly tmfResponse?: number;
  /** Logout response (RFC 7143 §11.15.1), for ERR_SESSION_LOGOUT_FAILED. */
  readonly logoutResponse?: number;
  /** iSCSI service response byte, for ERR_SESSION_TARGET_FAILURE. */
  readonly serviceResponse?: number;
}

/** An error the initiator's session layer reports for a request, or for the session itself. */
export class InitiatorSessionError extends IserError<InitiatorSessionErrorCode> {
  /** Reject reason, when the target rejected the request. */
  readonly rejectReason: number | undefined;
  /** Opcode of the rejected PDU, when the target rejected the request. */
  readonly rejectedOpcode: number | undefined;
  /** The target's TMF response, when a task management request failed. */
  readonly tmfResponse: number | undefined;
  /** The target's logout response, when a logout failed. */
  readonly logoutResponse: number | undefined;
  /** The iSCSI service response of a SCSI Response that carried no status. */
  readonly serviceResponse: number | undefined;

  constructor(code: InitiatorSessionErrorCode, message: string, options: InitiatorSessionErrorOptions = {}) {
    super(code, message, options);
    this.rejectReason = options.rejectReason;
    this.rejectedOpcode = options.rejectedOpcode;
    this.tmfResponse = options.tmfResponse;
    this.logoutResponse = options.logoutResponse;
    this.serviceResponse = options.serviceResponse;
  }
}

const tmfResponseNames = new Map<number, string>(
  Object.entries(TaskManagementResponse).map(([name, code]) => [code, name]),
);

/** The RFC name of a TMF response byte, or `Unknown(n)`. */
export function tmfResponseName(response: number): string {
  return tmfResponseNames.get(response) ?? `Unknown(${response})`;
}

/** The error for a PDU the target rejected. */
export function rejectedError(what: string, reason: number, opcode: number): InitiatorSessionError {
  return new InitiatorSessionError(
    'ERR_SESSION_REJECTED',
    `the target rejected ${what}: ${rejectReasonName(reason)} (RFC 7143 §11.17.1)`,
    { rejectReason: reason, rejectedOpcode: opcode },
  );
}
