/**
 * A latency histogram with bounded memory and bounded relative error: buckets grow geometrically by 1 %, so a
 * percentile is reported within 1 % of the true value whatever the range (1 µs to an hour fits in ~2,200
 * counters). Values are microseconds.
 */

/** Relative width of a bucket. */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets: [0, 1) µs, then [1.01^(i-1), 1.01^i) up to about an hour. */
const BUCKETS = 2200;

/** Counts of latencies, for percentiles. */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = 0;

  /** Records one latency in microseconds (negative and non-finite values count as 0 and the top, respectively). */
  record(micros: number): void {
    const value = Number.isNaN(micros) || micros < 0 ? 0 : micros;
    let index = value < 1 ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(value) / LOG_GROWTH));
    // Math.log rounds: make sure the value lies below its bucket's upper edge (and at or above the one before).
    if (index > 0 && index < BUCKETS - 1 && GROWTH ** index <= value) index++;
    else if (index > 1 && GROWTH ** (index - 1) > value) index--;
    this.#counts[index] = (this.#counts[index] ?? 0) + 1;
    this.#count++;
    this.#sum += Number.isFinite(value) ? value : 0;
    this.#min = Math.min(this.#min, value);
    this.#max = Math.max(this.#max, value);
  }

  /** Number of values recorded. */
  get count(): number {
    return this.#count;
  }

  /** Smallest and largest values recorded (0 when empty). */
  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  get max(): number {
    return this.#max;
  }

  /** Arithmetic mean (0 when empty). */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /**
   * The value at or below which `percent` % of the values lie: the upper edge of the bucket holding that rank,
   * never above the largest value seen. 0 when empty.
   */
  percentile(percent: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, percent)) / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] ?? 0;
      if (seen >= rank) {
        // The last bucket is open-ended: everything above about an hour.
        const upper = i === 0 ? 1 : i === BUCKETS - 1 ? this.#max : GROWTH ** i;
        return Math.max(this.min, Math.min(upper, this.#max));
      }
    }
    return this.#max;
  }
}
