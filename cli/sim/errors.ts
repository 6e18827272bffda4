/** Errors of `iser sim` that the scenario schema should have made impossible (reaching one is a bug). */
import { IserError } from '../../protocol/errors.js';

/** Stable codes of {@link SimError}. */
export type SimErrorCode =
  /** A fault the scenario's transport cannot carry out. */
  | 'ERR_SIM_UNSUPPORTED'
  /** An initiator or LUN index outside the scenario. */
  | 'ERR_SIM_NO_SUCH';

/** Something the scenario asked for does not exist in the world built from it. */
export class SimError extends IserError<SimErrorCode> {}
