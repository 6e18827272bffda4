/**
 * Errors of the NBD server. Wire decoders throw only {@link NbdDecodeError}; encoders throw {@link NbdEncodeError}
 * when handed a value that does not fit its field; export and server misuse throws {@link NbdServerError}. A block
 * device may throw {@link BlockDeviceError} to choose the error value the client sees.
 */
import { IserError, type IserErrorOptions } from '../protocol/errors.js';
import { NbdErrno } from './constants.js';

/** Stable codes of {@link NbdDecodeError}. */
export type NbdDecodeErrorCode =
  /** Fewer bytes than the structure needs. */
  | 'ERR_NBD_TRUNCATED'
  /** A magic number is wrong: the byte stream cannot be trusted any more. */
  | 'ERR_NBD_MAGIC'
  /** A length field disagrees with the bytes around it, or exceeds its bound. */
  | 'ERR_NBD_LENGTH'
  /** A string holds a NUL, or is longer than the protocol's 4096 bytes. */
  | 'ERR_NBD_STRING'
  /** A field holds a value the protocol forbids. */
  | 'ERR_NBD_FIELD';

/** Hostile or malformed NBD bytes: the only error an NBD decoder throws. */
export class NbdDecodeError extends IserError<NbdDecodeErrorCode> {}

/** Stable codes of {@link NbdEncodeError}. */
export type NbdEncodeErrorCode = 'ERR_NBD_ENCODE';

/** A value handed to an encoder does not fit its wire field. */
export class NbdEncodeError extends IserError<NbdEncodeErrorCode> {}

/** Stable codes of {@link NbdServerError}. */
export type NbdServerErrorCode =
  /** An export's name, description, size or block sizes are not valid. */
  | 'ERR_NBD_EXPORT'
  /** An export with that name is already served. */
  | 'ERR_NBD_EXPORT_EXISTS'
  /** No export with that name is served. */
  | 'ERR_NBD_NO_EXPORT'
  /** The server was used after `close()`. */
  | 'ERR_NBD_CLOSED'
  /** Listening failed (address in use, bad path, not loopback where loopback was asked). */
  | 'ERR_NBD_LISTEN';

/** The NBD server was configured or used wrongly. */
export class NbdServerError extends IserError<NbdServerErrorCode> {}

/** Stable codes of {@link BlockDeviceError}. */
export type BlockDeviceErrorCode = 'ERR_BLOCK_DEVICE';

/** Options of a {@link BlockDeviceError}. */
export interface BlockDeviceErrorOptions extends IserErrorOptions {
  /** The error value the NBD client is told (default EIO). */
  readonly nbdErrno?: NbdErrno;
}

/** A block device failed; `nbdErrno` is what the NBD client sees. */
export class BlockDeviceError extends IserError<BlockDeviceErrorCode> {
  /** The NBD error value for this failure. */
  readonly nbdErrno: NbdErrno;

  constructor(message: string, options?: BlockDeviceErrorOptions) {
    super('ERR_BLOCK_DEVICE', message, options);
    this.nbdErrno = options?.nbdErrno ?? NbdErrno.EIO;
  }
}

/** Host errno names and the NBD error value each stands for (the spec maps EDQUOT and EFBIG to ENOSPC). */
const ERRNO_NAMES: Readonly<Record<string, NbdErrno>> = {
  EPERM: NbdErrno.EPERM,
  EACCES: NbdErrno.EPERM,
  EROFS: NbdErrno.EPERM,
  EIO: NbdErrno.EIO,
  ENOMEM: NbdErrno.ENOMEM,
  EINVAL: NbdErrno.EINVAL,
  ENOSPC: NbdErrno.ENOSPC,
  EDQUOT: NbdErrno.ENOSPC,
  EFBIG: NbdErrno.ENOSPC,
  EOVERFLOW: NbdErrno.EOVERFLOW,
  ENOTSUP: NbdErrno.ENOTSUP,
  EOPNOTSUPP: NbdErrno.ENOTSUP,
  ESHUTDOWN: NbdErrno.ESHUTDOWN,
};

function stringField(err: object, key: string): string | undefined {
  const value = (err as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The NBD error value for whatever a block device rejected with: a {@link BlockDeviceError}'s own value, else the
 * errno name an error carries (`errno` as the backends set it, or Node's `code`), else EIO.
 */
export function nbdErrnoOf(err: unknown): NbdErrno {
  if (err instanceof BlockDeviceError) return err.nbdErrno;
  if (typeof err === 'object' && err !== null) {
    for (const key of ['errno', 'code']) {
      const name = stringField(err, key);
      const mapped = name === undefined ? undefined : ERRNO_NAMES[name];
      if (mapped !== undefined) return mapped;
    }
  }
  return NbdErrno.EIO;
}
