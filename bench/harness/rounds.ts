/**
 * Side-by-side rounds: every side runs once per round, and the order rotates from round to round (AB, BA, AB...)
 * so a slow drift of the machine (another engineer's test suite starting) does not land on one side only.
 */
import { summarize, type Summary } from './stats.js';

/** What one run measured: named figures (`iops`, `cpuUsPerOp`...). */
export type Figures = Readonly<Record<string, number>>;

/** One contender: measures once. */
export interface Side {
  readonly name: string;
  run(round: number): Promise<Figures>;
}

/** Each figure of a side, summarized over the rounds. */
export type SideSummary = Readonly<Record<string, Summary>>;

/** Runs `rounds` rounds of every side, rotating the order; returns each side's summaries, by side name. */
export async function runRounds(
  sides: readonly Side[],
  rounds: number,
  onMeasure?: (side: string, round: number, figures: Figures) => void,
): Promise<Map<string, SideSummary>> {
  const values = new Map<string, Map<string, number[]>>(sides.map((s) => [s.name, new Map()]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < sides.length; i++) {
      const side = sides[(i + round) % sides.length]!;
      const figures = await side.run(round);
      const bySide = values.get(side.name)!;
      for (const [name, value] of Object.entries(figures)) bySide.set(name, [...(bySide.get(name) ?? []), value]);
      onMeasure?.(side.name, round, figures);
    }
  }
  return new Map(
    [...values].map(([side, figures]) => [
      side,
      Object.fromEntries([...figures].map(([name, v]) => [name, summarize(v)])),
    ]),
  );
}

/** The summary of `figure` for `side`; throws when it was never measured (a bug in the bench). */
export function figure(summaries: Map<string, SideSummary>, side: string, name: string): Summary {
  const s = summaries.get(side)?.[name];
  if (s === undefined) throw new Error(`no ${name} measured for ${side}`);
  return s;
}
