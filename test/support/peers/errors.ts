/**
 * Errors of the peer harness (tgt, libiscsi tools). They subclass the stack's {@link IserError} so a test can match
 * on a stable `code` whether the failure came from our code or from a peer we drove.
 */
import { IserError, type IserErrorOptions } from '../../../protocol/errors.js';

/** Stable codes of {@link PeerError}. */
export const PeerErrorCode = {
  /** A program could not be started (not installed, not executable). */
  Spawn: 'ERR_PEER_SPAWN',
  /** A program ran longer than its bound and was killed. */
  Timeout: 'ERR_PEER_TIMEOUT',
  /** A program exited with a status that means failure. */
  Exit: 'ERR_PEER_EXIT',
  /** A program's output did not have the shape we parse. */
  Parse: 'ERR_PEER_PARSE',
  /** A daemon (tgtd) did not come up, or came up wrong. */
  Start: 'ERR_PEER_START',
  /** A caller passed options the harness cannot honour. */
  BadOption: 'ERR_PEER_BAD_OPTION',
} as const;

/** One of {@link PeerErrorCode}. */
export type PeerErrorCode = (typeof PeerErrorCode)[keyof typeof PeerErrorCode];

/** Extra facts a {@link PeerError} can carry about the program that failed. */
export interface PeerErrorOptions extends IserErrorOptions {
  /** Exit status, when the program exited. */
  readonly exitCode?: number | null;
  /** The tail of what the program printed on stderr, for the message reader. */
  readonly stderr?: string;
}

/** A failure of a peer program or of the harness driving it. */
export class PeerError extends IserError<PeerErrorCode> {
  /** Exit status of the program, when it exited. */
  readonly exitCode: number | null | undefined;
  /** The tail of the program's stderr. */
  readonly stderr: string | undefined;

  constructor(code: PeerErrorCode, message: string, options?: PeerErrorOptions) {
    super(code, message, options);
    this.exitCode = options?.exitCode;
    this.stderr = options?.stderr;
  }
}
