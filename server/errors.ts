/** Errors of the runnable target server: configuration it cannot serve, portals it cannot open, CLI usage. */
import { IserError } from '../protocol/errors.js';

/** Stable codes of {@link TargetServerError}. */
export type TargetServerErrorCode =
  /** A portal's transport is not available here (e.g. iSER without a Verbs provider). */
  | 'ERR_SERVER_TRANSPORT'
  /** The server was used after close(). */
  | 'ERR_SERVER_CLOSED'
  /** A login did not finish within the login timeout. */
  | 'ERR_SERVER_LOGIN_TIMEOUT'
  /** The command line could not be understood. */
  | 'ERR_SERVER_USAGE'
  /** A LUN's backend could not be opened (the cause says why: a missing directory, a bad size...). */
  | 'ERR_SERVER_BACKEND';

/** A target server failure. */
export class TargetServerError extends IserError<TargetServerErrorCode> {}
