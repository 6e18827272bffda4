/**
 * Error codes of the in-memory fabric (`sim/fabric`) itself.
 *
 * Failures of verbs calls made through the fabric's providers are {@link VerbsError}s, exactly as any provider
 * throws them; the codes here are for misuse of the simulator: a malformed fault plan or link model, an unknown host.
 */
import { IserError } from '../../protocol/errors.js';

/** Stable codes thrown by `sim/fabric`. */
export type FabricErrorCode =
  /** A fault plan that does not parse (unknown rule kind, negative time, missing field). */
  | 'ERR_FABRIC_FAULT_PLAN'
  /** A link model or fabric option out of range (negative latency, zero bandwidth, bad host name). */
  | 'ERR_FABRIC_CONFIG'
  /** A host, connection or counter set the fabric does not know. */
  | 'ERR_FABRIC_UNKNOWN';

/** An error raised by the fabric simulator for misuse of the simulator itself. */
export class FabricError extends IserError<FabricErrorCode> {}
