/**
 * Errors of the target's session layer. Whatever ends a connection or a session carries a stable code, so the
 * server can log *why* (an initiator that broke a rule, a keepalive that went unanswered, a logout, a reset).
 */
import { IserError, type IserErrorOptions } from '../errors.js';

/** Stable codes of {@link TargetSessionError}. */
export type TargetSessionErrorCode =
  /** The initiator broke a full-feature-phase rule the RFC answers with a dropped connection. */
  | 'ERR_TARGET_SESSION_PROTOCOL'
  /** Our NOP-In ping went unanswered: the connection is considered dead. */
  | 'ERR_TARGET_SESSION_NOP_TIMEOUT'
  /** The initiator logged the connection or the session out. */
  | 'ERR_TARGET_SESSION_LOGGED_OUT'
  /** We asked for a logout (Async Message) and the deadline passed. */
  | 'ERR_TARGET_SESSION_LOGOUT_TIMEOUT'
  /** A new login with the same ISID replaced the session (RFC 7143 §6.3.5). */
  | 'ERR_TARGET_SESSION_REINSTATED'
  /** A new login with the same CID replaced the connection. */
  | 'ERR_TARGET_SESSION_CONNECTION_REPLACED'
  /** TARGET COLD RESET (ours or another session's) drops every connection. */
  | 'ERR_TARGET_SESSION_TARGET_RESET'
  /** Moving a task's data failed (the transport broke, or timed out waiting for Data-Out). */
  | 'ERR_TARGET_SESSION_TRANSPORT'
  /** The initiator left too many statuses unacknowledged (ExpStatSN): memory stays bounded. */
  | 'ERR_TARGET_SESSION_STATUS_BACKLOG'
  /** The target is shutting down. */
  | 'ERR_TARGET_SESSION_SHUTDOWN'
  /** The session's own settings are unusable (not the initiator's fault). */
  | 'ERR_TARGET_SESSION_BAD_CONFIG'
  /** The machine was driven out of order (an unknown connection, an event after the session ended). */
  | 'ERR_TARGET_SESSION_STATE';

/** Options of a {@link TargetSessionError}. */
export interface TargetSessionErrorOptions extends IserErrorOptions {
  /** The Reject reason (RFC 7143 §11.17.1) sent before the connection was dropped, if any. */
  readonly rejectReason?: number;
}

/** Why the target session ended a connection, a session or a call. */
export class TargetSessionError extends IserError<TargetSessionErrorCode> {
  /** The Reject reason sent, when one was. */
  readonly rejectReason: number | undefined;

  constructor(code: TargetSessionErrorCode, message: string, options?: TargetSessionErrorOptions) {
    super(code, message, options);
    this.rejectReason = options?.rejectReason;
  }
}
