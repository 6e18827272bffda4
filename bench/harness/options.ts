/**
 * Command-line budget of a benchmark: `--seconds N` per measured case (default a few seconds), `--rounds N`
 * alternating rounds per case (medians need at least three to mean anything).
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** How long a benchmark may run. */
export interface BenchBudget {
  /** Seconds per measured case (per side, per round). */
  readonly seconds: number;
  /** Rounds per case; the sides alternate within and across rounds. */
  readonly rounds: number;
}

/** Parses `--seconds` and `--rounds` from `argv`, with the given defaults; throws on anything else. */
export function parseBudget(argv: readonly string[], defaults: BenchBudget): BenchBudget {
  const { values } = parseArgs({
    args: [...argv],
    options: { seconds: { type: 'string' }, rounds: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const positive = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new RangeError(`--${name} must be a positive number, got "${text}"`);
    return n;
  };
  return {
    seconds: positive('seconds', values.seconds, defaults.seconds),
    rounds: Math.round(positive('rounds', values.rounds, defaults.rounds)),
  };
}

/** True when this module is the program being run (not imported by bench/run.ts or a test). */
export function isMain(importMetaUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && importMetaUrl === pathToFileURL(entry).href;
}
