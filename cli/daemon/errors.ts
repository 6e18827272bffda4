/** Errors of `iser daemon` and `iser ctl`, with the exit code each ends `iser` with. */
import { IserError, type IserErrorOptions } from '../../protocol/errors.js';
import { ExitCode, type ExitCodeValue } from '../exit-codes.js';
import type { DaemonReplyCode } from './protocol.js';

/** Stable codes of {@link DaemonError}. */
export type DaemonErrorCode =
  | DaemonReplyCode
  /** Another daemon already serves the control socket. */
  | 'ERR_DAEMON_RUNNING'
  /** The control socket or its directory cannot be used (wrong owner, permissions, path). */
  | 'ERR_DAEMON_SOCKET'
  /** `iser ctl`: no daemon answers on the control socket. */
  | 'ERR_DAEMON_NOT_RUNNING'
  /** `iser ctl`: the daemon's reply was not understood. */
  | 'ERR_DAEMON_BAD_REPLY';

const EXIT_OF: Readonly<Record<DaemonErrorCode, ExitCodeValue>> = {
  ERR_DAEMON_BAD_REQUEST: ExitCode.Usage,
  ERR_DAEMON_NO_SESSION: ExitCode.Usage,
  ERR_DAEMON_EXISTS: ExitCode.Usage,
  ERR_DAEMON_BUSY: ExitCode.Usage,
  ERR_DAEMON_ISER_UNAVAILABLE: ExitCode.Connection,
  ERR_DAEMON_LOGIN: ExitCode.Connection,
  ERR_DAEMON_INTERNAL: ExitCode.Internal,
  ERR_DAEMON_RUNNING: ExitCode.Connection,
  ERR_DAEMON_SOCKET: ExitCode.LocalIo,
  ERR_DAEMON_NOT_RUNNING: ExitCode.Connection,
  ERR_DAEMON_BAD_REPLY: ExitCode.Internal,
};

/** An error of the daemon or its control client. */
export class DaemonError extends IserError<DaemonErrorCode> {
  /** How `iser` ends. */
  readonly exitCode: ExitCodeValue;

  constructor(code: DaemonErrorCode, message: string, options?: IserErrorOptions & { exitCode?: ExitCodeValue }) {
    super(code, message, options);
    this.exitCode = options?.exitCode ?? EXIT_OF[code];
  }
}
