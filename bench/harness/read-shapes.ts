/** The read loads every side runs: the same three shapes iscsi-perf runs (bench/peers/iscsi-perf.ts). */

/** One load: transfer size, requests in flight, random or sequential LBAs. */
export interface ReadShape {
  /** Short key for tables and JSON: `4k-rand-qd1`. */
  readonly key: string;
  readonly label: string;
  readonly blockBytes: number;
  readonly queueDepth: number;
  readonly random: boolean;
}

export const READ_SHAPES: readonly ReadShape[] = [
  { key: '4k-rand-qd1', label: '4 KiB random read, QD 1', blockBytes: 4096, queueDepth: 1, random: true },
  { key: '4k-rand-qd32', label: '4 KiB random read, QD 32', blockBytes: 4096, queueDepth: 32, random: true },
  { key: '1m-seq-qd8', label: '1 MiB sequential read, QD 8', blockBytes: 1 << 20, queueDepth: 8, random: false },
];

/** The shapes whose keys are listed (all when `keys` is undefined), in table order. */
export function pickShapes(keys: readonly string[] | undefined): readonly ReadShape[] {
  if (keys === undefined) return READ_SHAPES;
  const unknown = keys.filter((k) => !READ_SHAPES.some((s) => s.key === k));
  if (unknown.length > 0) throw new RangeError(`unknown shape ${unknown.join(', ')}`);
  return READ_SHAPES.filter((s) => keys.includes(s.key));
}
