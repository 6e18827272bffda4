/**
 * Side-by-side rounds: every side runs once per round, and the order rotates from round to round (AB, BA, AB...)
 * so a slow drift of the machine (another engineer's test suite starting) does not land on one side only.
 */
import { summarize, type Summary } from './stats.js';

/** One contender: measures once and returns its figure (higher is better). */
export interface Side {
  readonly name: string;
  run(round: number): Promise<number>;
}

/** Runs `rounds` rounds of every side, rotating the order; returns each side's summary, by name. */
export async function runRounds(
  sides: readonly Side[],
  rounds: number,
  onMeasure?: (side: string, round: number, value: number) => void,
): Promise<Map<string, Summary>> {
  const values = new Map<string, number[]>(sides.map((s) => [s.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < sides.length; i++) {
      const side = sides[(i + round) % sides.length]!;
      const value = await side.run(round);
      values.get(side.name)!.push(value);
      onMeasure?.(side.name, round, value);
    }
  }
  return new Map([...values].map(([name, v]) => [name, summarize(v)]));
}
