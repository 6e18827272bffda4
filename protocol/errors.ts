/**
 * One error base class for the whole stack, with stable string codes (in the manner of undici's errors).
 *
 * A user should always learn *why* something failed: every error carries a `code` that scripts can match on,
 * a message a person can read, and, where the RFCs define one, the protocol value (Reject reason, login
 * status, TMF response, SCSI sense, `ibv_wc_status`).
 *
 * Each layer declares its own codes next to its code (e.g. `protocol/pdu/errors.ts`); this file only holds the
 * base class and the codes every layer shares.
 */

/** Options accepted by every {@link IserError}. */
export interface IserErrorOptions {
  /** The underlying error, if this one wraps another. */
  readonly cause?: unknown;
}

/** Base class of every error this package throws on purpose. */
export class IserError<Code extends string = string> extends Error {
  /** A stable, documented identifier, e.g. `ERR_PDU_TRUNCATED`. */
  readonly code: Code;

  constructor(code: Code, message: string, options?: IserErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** True when `err` is an {@link IserError}, optionally with the given code. */
export function isIserError(err: unknown, code?: string): err is IserError {
  return err instanceof IserError && (code === undefined || err.code === code);
}
