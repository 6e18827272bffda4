/**
 * Error codes of the virtual clock and seeded randomness.
 */
import { IserError } from '../../protocol/errors.js';

/** Stable codes thrown by `sim/clock`. */
export type ClockErrorCode =
  /** A run fired its maximum number of timer events: a runaway simulation (e.g. an endless interval). */
  | 'ERR_CLOCK_MAX_EVENTS'
  /** The next timer lies beyond the run's virtual-time budget. */
  | 'ERR_CLOCK_MAX_VIRTUAL_TIME'
  /** `runUntil(predicate)` found no timer left and the predicate still false: the simulation is stuck. */
  | 'ERR_CLOCK_IDLE'
  /** A run was started while another run on the same scheduler was still in progress. */
  | 'ERR_CLOCK_REENTRANT'
  /** A time or duration was negative, not finite, or in the past. */
  | 'ERR_CLOCK_BAD_ARGUMENT'
  /** A random-number request made no sense (empty pick, min > max, p outside [0, 1]). */
  | 'ERR_RANDOM_BAD_ARGUMENT'
  /** The same label was forked twice from one stream: the two consumers would share their randomness. */
  | 'ERR_RANDOM_DUPLICATE_FORK';

/** Where a run stood when it stopped with an error. */
export interface ClockErrorDetails {
  /** Virtual time (ms) when the error was raised. */
  readonly nowMs?: number;
  /** Timer events fired by the run so far. */
  readonly events?: number;
}

/** An error raised by the virtual clock or the seeded random source. */
export class ClockError extends IserError<ClockErrorCode> {
  /** Virtual time (ms) when raised, for run errors. */
  readonly nowMs: number | undefined;
  /** Events fired by the failing run, for run errors. */
  readonly events: number | undefined;

  constructor(code: ClockErrorCode, message: string, details: ClockErrorDetails = {}) {
    super(code, message);
    this.nowMs = details.nowMs;
    this.events = details.events;
  }
}
