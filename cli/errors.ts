/** Errors the command line itself decides (everything else comes typed from the layers below). */
import { IserError, type IserErrorOptions } from '../protocol/errors.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';

/** Stable codes of {@link CliError}. */
export type CliErrorCode =
  /** A flag or argument is malformed or missing. */
  | 'ERR_CLI_USAGE'
  /** What was asked needs something this build or machine lacks (e.g. an RDMA device for iser://). */
  | 'ERR_CLI_UNSUPPORTED'
  /** Data read back differs from what was written. */
  | 'ERR_CLI_DATA_MISMATCH'
  /** A local file could not be opened, read or written. */
  | 'ERR_CLI_FILE'
  /** The target did not answer a command within --command-timeout. */
  | 'ERR_CLI_TIMEOUT';

const EXIT_OF: Readonly<Record<CliErrorCode, ExitCodeValue>> = {
  ERR_CLI_USAGE: ExitCode.Usage,
  ERR_CLI_UNSUPPORTED: ExitCode.Connection,
  ERR_CLI_DATA_MISMATCH: ExitCode.DataMismatch,
  ERR_CLI_FILE: ExitCode.LocalIo,
  ERR_CLI_TIMEOUT: ExitCode.Connection,
};

/** An error of the command line, with the exit code it ends the process with. */
export class CliError extends IserError<CliErrorCode> {
  /** How the process ends. */
  readonly exitCode: ExitCodeValue;

  constructor(code: CliErrorCode, message: string, options?: IserErrorOptions) {
    super(code, message, options);
    this.exitCode = EXIT_OF[code];
  }
}

/** Throws a usage error. */
export function usage(message: string): never {
  throw new CliError('ERR_CLI_USAGE', message);
}
