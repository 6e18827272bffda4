/**
 * How a property is declared: its group, name, the RFC section it checks, a generator of inputs and a check that
 * throws (a {@link ConformanceViolation}, or any error: a timeout, a failed command) when the target breaks the
 * rule. The runner turns it into a fast-check property, bounds it and reports it.
 */
import fc from 'fast-check';
import { isIserError } from '../protocol/errors.js';
import type { RunContext, SuiteContext } from './context.js';

/** The property groups, in the order they run. */
export const PROPERTY_GROUPS = ['negotiation', 'sequencing', 'data', 'task-management', 'faults'] as const;

/** One of {@link PROPERTY_GROUPS}. */
export type PropertyGroup = (typeof PROPERTY_GROUPS)[number];

/** A property with its input type. */
export interface PropertySpec<T> {
  readonly group: PropertyGroup;
  /** Short, kebab-case; the property's id is `group/name`. */
  readonly name: string;
  /** The rule's source, e.g. `RFC 7143 §4.2.2.1`. */
  readonly rfc: string;
  /** The rule, in one sentence. */
  readonly title: string;
  /** Most runs (inputs) per property within a full budget. */
  readonly runs: number;
  /** It uses the LUN (default true): when the LUN cannot be probed it fails with the probe's error. */
  readonly needsLun?: boolean;
  /** Why it cannot run against this target (undefined: it can). */
  skip?(suite: SuiteContext): string | undefined;
  /** The inputs. `replayPath` is fast-check's hint for replaying command sequences. */
  arbitrary(suite: SuiteContext, replayPath: string | undefined): fc.Arbitrary<T>;
  /**
   * Inputs that run before the generated ones, whatever the budget leaves: the cases a run must always
   * exercise (a short budget on a loaded machine may otherwise allow only a few random inputs).
   */
  examples?(suite: SuiteContext): readonly T[];
  /** Checks one input; throws when the rule does not hold. */
  check(run: RunContext, input: T): Promise<void>;
  /** How big an input is (commands in a sequence, PDUs...), so reports can say the counterexample is short. */
  size?(input: T): number;
}

/** A property with its input type erased, as the registry and runner hold it. */
export interface ConformanceProperty {
  readonly id: string;
  readonly group: PropertyGroup;
  readonly name: string;
  readonly rfc: string;
  readonly title: string;
  readonly runs: number;
  readonly needsLun: boolean;
  skip(suite: SuiteContext): string | undefined;
  /** Runs fast-check on this property with the runner's parameters and wrapper. */
  check(suite: SuiteContext, params: CheckParameters): Promise<CheckOutcome>;
}

/** What the runner asks of fast-check. */
export interface CheckParameters {
  readonly seed: number;
  readonly numRuns: number;
  readonly path?: string;
  readonly replayPath?: string;
  /**
   * Wall-clock time (ms since the epoch) after which inputs are no longer run (they pass unrun, so shrinking ends
   * with the smallest counterexample found so far). Checked between runs: a run in progress always finishes, so
   * two runs never overlap (fast-check's own time limit abandons a run mid-way).
   */
  readonly deadline: number;
  /** Wraps each run (starts and ends its exchange, drives the clock, closes its sessions). */
  readonly wrap: (run: (context: RunContext) => Promise<void>) => Promise<void>;
}

/** What fast-check found, input type erased. */
export interface CheckOutcome {
  readonly failed: boolean;
  readonly interrupted: boolean;
  readonly numRuns: number;
  readonly numShrinks: number;
  readonly seed: number;
  readonly path: string | undefined;
  readonly counterexample: string | undefined;
  readonly counterexampleSize: number | undefined;
  readonly replayPath: string | undefined;
  readonly error: unknown;
}

/** Counts the items of an input: an array's length, an iterable's items (fc.commands), else 1. */
function defaultSize(input: unknown): number {
  if (Array.isArray(input)) return input.length;
  if (input !== null && typeof input === 'object' && Symbol.iterator in input) {
    return [...(input as Iterable<unknown>)].length;
  }
  return 1;
}

/** Erases a property's input type for the registry. */
export function defineProperty<T>(spec: PropertySpec<T>): ConformanceProperty {
  return {
    id: `${spec.group}/${spec.name}`,
    group: spec.group,
    name: spec.name,
    rfc: spec.rfc,
    title: spec.title,
    runs: spec.runs,
    needsLun: spec.needsLun ?? true,
    skip: (suite) => spec.skip?.(suite),
    async check(suite, params) {
      let executed = 0;
      let cut = false;
      const property = fc.asyncProperty(spec.arbitrary(suite, params.replayPath), async (input) => {
        if (Date.now() >= params.deadline) {
          cut = true;
          return;
        }
        executed += 1;
        try {
          await params.wrap((run) => spec.check(run, input));
        } catch (err) {
          // A run the budget cut short proves nothing either way: it counts as not run.
          if (isIserError(err, 'ERR_CONFORMANCE_BUDGET')) {
            cut = true;
            executed -= 1;
            return;
          }
          throw err;
        }
      });
      // A replay (path) must meet exactly the inputs it names, so examples only lead fresh runs.
      const examples = params.path === undefined ? (spec.examples?.(suite) ?? []) : [];
      const details = await fc.check(property, {
        seed: params.seed,
        numRuns: params.numRuns,
        ...(params.path === undefined ? {} : { path: params.path }),
        ...(examples.length === 0 ? {} : { examples: examples.map((e): [T] => [e]) }),
      });
      const input = details.counterexample?.[0];
      const text = details.counterexample === null || input === undefined ? undefined : fc.stringify(input);
      const replay = text === undefined ? undefined : /replayPath="([^"]*)"/.exec(text)?.[1];
      return {
        failed: details.failed,
        interrupted: cut,
        numRuns: details.failed ? details.numRuns : executed,
        numShrinks: details.numShrinks,
        seed: details.seed,
        path: details.counterexamplePath ?? undefined,
        counterexample: text,
        counterexampleSize: input === undefined ? undefined : (spec.size ?? defaultSize)(input),
        replayPath: replay,
        error: details.errorInstance,
      };
    },
  };
}
