/** Errors of the conformance suite itself (not findings about a target: those are property results). */
import { IserError } from '../protocol/errors.js';

/** Stable codes of {@link ConformanceError}. */
export type ConformanceErrorCode =
  /** runConformance() or the CLI got options it cannot use. */
  | 'ERR_CONFORMANCE_BAD_OPTIONS'
  /** A step of a property did not finish within its bound. */
  | 'ERR_CONFORMANCE_TIMEOUT'
  /** The property's wall-clock budget ran out in the middle of a run (the run is dropped, not counted). */
  | 'ERR_CONFORMANCE_BUDGET'
  /** The target could not be reached or set up for the suite. */
  | 'ERR_CONFORMANCE_TARGET'
  /** A property does not hold: the target (or our initiator) broke the rule the property checks. */
  | 'ERR_CONFORMANCE_VIOLATION';

/** An error of the conformance suite. */
export class ConformanceError extends IserError<ConformanceErrorCode> {}

/** A property found a deviation; `rfc` names the rule broken. Thrown inside a run, reported as a failure. */
export class ConformanceViolation extends IserError<'ERR_CONFORMANCE_VIOLATION'> {
  /** The RFC section (or standard) of the rule. */
  readonly rfc: string;

  constructor(rfc: string, message: string) {
    super('ERR_CONFORMANCE_VIOLATION', message);
    this.rfc = rfc;
  }
}

/** Fails the run with a {@link ConformanceViolation} unless `condition` holds. */
export function expectThat(condition: boolean, rfc: string, message: () => string): asserts condition {
  if (!condition) throw new ConformanceViolation(rfc, message());
}
