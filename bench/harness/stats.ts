/** Medians and spreads of repeated rounds: a median shrugs off the one round another process disturbed. */

/** Rounds of one figure, summarized. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Number of rounds. */
  readonly n: number;
  /** (max - min) / median: how far apart the rounds were, relative to the median. */
  readonly spread: number;
  readonly values: readonly number[];
}

/** Median, range and relative spread of `values` (at least one). */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError('summarize needs at least one value');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted.at(-1)!;
  return { median, min, max, n: values.length, spread: median > 0 ? (max - min) / median : 0, values };
}

/** The ratio of two medians; NaN when the denominator is not positive. */
export function ratio(numerator: Summary, denominator: Summary): number {
  return denominator.median > 0 ? numerator.median / denominator.median : Number.NaN;
}

/** `12.3k`, `456`, `1.23M`: figures at a glance. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  if (abs >= 100) return value.toFixed(0);
  return value.toFixed(abs >= 10 ? 1 : 2);
}

/** `±6%`: half the range relative to the median. */
export function formatSpread(s: Summary): string {
  return `±${((s.spread / 2) * 100).toFixed(0)}%`;
}

/** `1.23x`. */
export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a';
}
