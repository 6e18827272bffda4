/**
 * Errors of the LUN backends: bad backend specs and sizes, calls outside the medium, and I/O failures (which
 * carry the errno name of the underlying Node error).
 */
import { IserError, type IserErrorOptions } from '../protocol/errors.js';

/** Stable codes of {@link BackendError}. */
export type BackendErrorCode =
  /** A backend spec string (`mem:256M`, `file:/path[:size]`) could not be parsed. */
  | 'ERR_BACKEND_SPEC'
  /** A size is zero, not a multiple of the block size, too large, or unknown (empty file, no size given). */
  | 'ERR_BACKEND_SIZE'
  /** A read, write or unmap outside the medium, or a write whose length is not whole blocks. */
  | 'ERR_BACKEND_RANGE'
  /** The operating system refused an operation (see `errno`). */
  | 'ERR_BACKEND_IO'
  /** The backend was used after `close()`. */
  | 'ERR_BACKEND_CLOSED';

/** Options of a {@link BackendError}. */
export interface BackendErrorOptions extends IserErrorOptions {
  /** The errno name (`ENOSPC`, `EIO`, ...) of the Node error behind an I/O failure. */
  readonly errno?: string;
}

/** A backend could not be built or could not do what it was asked. */
export class BackendError extends IserError<BackendErrorCode> {
  /** The errno name of the Node error behind an `ERR_BACKEND_IO`, when there was one. */
  readonly errno: string | undefined;

  constructor(code: BackendErrorCode, message: string, options?: BackendErrorOptions) {
    super(code, message, options);
    this.errno = options?.errno;
  }
}

/** Wraps a Node fs error as ERR_BACKEND_IO, keeping its errno name. */
export function ioError(what: string, cause: unknown): BackendError {
  const errno =
    typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string'
      ? cause.code
      : undefined;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new BackendError('ERR_BACKEND_IO', `${what}: ${reason}`, { cause, ...(errno !== undefined && { errno }) });
}
