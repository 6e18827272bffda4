/**
 * Errors of the native layer. Verbs failures become {@link VerbsError}s (the codes of `transports/verbs.ts`)
 * carrying the errno name rdma-core reported; what the addon offers beyond the Verbs interface (socket options)
 * fails with {@link NativeError}.
 */
import { IserError } from '../protocol/errors.js';
import { VerbsError, type VerbsErrorCode } from '../transports/verbs.js';
import { addonErrorInfo } from './addon.js';

/** Stable codes of {@link NativeError}. */
export type NativeErrorCode =
  /** The addon cannot be used here; the message is probe()'s reason. */
  | 'ERR_NATIVE_UNAVAILABLE'
  /** A system call made for the caller (e.g. setsockopt) failed; `errno` names why. */
  | 'ERR_NATIVE_SYSCALL';

/** A failure of the native layer outside the Verbs interface. */
export class NativeError extends IserError<NativeErrorCode> {
  /** errno name, e.g. `ENOPROTOOPT`. */
  readonly errno: string | undefined;
  /** The call that failed, e.g. `setsockopt`. */
  readonly syscall: string | undefined;

  constructor(
    code: NativeErrorCode,
    message: string,
    options?: { readonly errno?: string; readonly syscall?: string; readonly cause?: unknown },
  ) {
    super(code, message, options);
    this.errno = options?.errno;
    this.syscall = options?.syscall;
  }
}

/** Wraps an addon error as a {@link VerbsError} with `code`, keeping its errno name and the call that failed. */
export function verbsError(code: VerbsErrorCode, what: string, err: unknown): VerbsError {
  const info = addonErrorInfo(err);
  return new VerbsError(code, `${what}: ${info.message}`, {
    ...(info.errno !== undefined && { errno: info.errno }),
    cause: err,
  });
}

/** Runs an addon call, turning what it throws into a {@link VerbsError} with `code`. */
export function callVerbs<T>(code: VerbsErrorCode, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw verbsError(code, what, err);
  }
}
