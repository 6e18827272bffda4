/**
 * Errors of the public initiator API. Login failures are the login layer's `LoginError` (with the RFC status),
 * command and session failures the session layer's `InitiatorSessionError` or the SCSI layer's
 * `ScsiStatusError`; this file holds what only the API itself decides.
 */
import { IserError } from '../errors.js';

/** Stable codes of {@link InitiatorError}. */
export type InitiatorErrorCode =
  /** An iscsi:// or iser:// URL is malformed or names something this stack cannot use. */
  | 'ERR_INITIATOR_BAD_URL'
  /** Options passed to login() or discover() are invalid. */
  | 'ERR_INITIATOR_BAD_OPTIONS'
  /** An argument of a LUN method is invalid (e.g. data that is not a whole number of blocks). */
  | 'ERR_INITIATOR_BAD_ARGUMENT'
  /** The login did not finish in time. */
  | 'ERR_INITIATOR_LOGIN_TIMEOUT'
  /** The connection closed or failed during login. */
  | 'ERR_INITIATOR_CONNECTION_CLOSED'
  /** The target redirected the login more times than allowed. */
  | 'ERR_INITIATOR_TOO_MANY_REDIRECTS'
  /** The target's answer (e.g. SendTargets text, parameter data) could not be understood. */
  | 'ERR_INITIATOR_BAD_RESPONSE';

/** An error of the public initiator API. */
export class InitiatorError extends IserError<InitiatorErrorCode> {}
