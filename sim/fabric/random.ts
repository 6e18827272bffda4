/**
 * The randomness the fabric consumes: any seeded stream with `int`, `float` and `fork` (sim/clock's
 * `SeededRandom` is one). The fabric forks one stream per purpose (keys per host, addresses per connection side,
 * jitter per link direction, faults), so turning jitter on does not change which rkeys a run hands out.
 */

/** A seeded source of random numbers: the only randomness the fabric uses. */
export interface RandomSource {
  /** A uniform integer in [min, max] (both included). */
  int(min: number, max: number): number;
  /** A uniform float in [0, 1). */
  float(): number;
  /** An independent stream, determined by this stream's seed and `label` only. Each label is forked once. */
  fork(label: string): RandomSource;
}
