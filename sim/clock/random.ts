/**
 * Seeded randomness for the simulator: one seed drives everything, and each component takes its own stream with
 * `fork(label)`. A fork's stream depends only on the root seed and the chain of labels, never on how much anyone
 * has drawn, so adding a consumer (or a draw) somewhere does not perturb the others.
 *
 * The generator is pure-rand's xoroshiro128+, seeded with 128 bits from SHA-256(seed, label path).
 */
import { createHash } from 'node:crypto';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { ClockError } from './errors.js';

/** A seed: an integer or a string (e.g. from a CLI flag or a failing test's report). */
export type Seed = number | bigint | string;

function bad(message: string): ClockError {
  return new ClockError('ERR_RANDOM_BAD_ARGUMENT', message);
}

/** A deterministic random stream. Not cryptographic. */
export class SeededRandom {
  private readonly rng: RandomGenerator;
  private readonly forked = new Set<string>();

  /** The root stream of `seed` (`path` is for forks; leave it empty). */
  constructor(
    /** The seed everything derives from. */
    readonly seed: Seed,
    /** Labels from the root to this stream, e.g. `['fabric', 'link-0']`. */
    readonly path: readonly string[] = [],
  ) {
    // Length-prefix each part so ('ab','c') and ('a','bc') differ.
    const hash = createHash('sha256');
    for (const part of [`${typeof seed}:${String(seed)}`, ...path]) {
      hash.update(`${Buffer.byteLength(part)}:`).update(part);
    }
    const digest = hash.digest();
    const state = [0, 4, 8, 12].map((i) => digest.readInt32BE(i));
    // xoroshiro128+ must not start from all zeros.
    if (!state.some((w) => w !== 0)) state[0] = 1;
    this.rng = xoroshiro128plusFromState(state);
  }

  /** An independent stream for one component; each label may be forked once per stream. */
  fork(label: string): SeededRandom {
    if (this.forked.has(label)) {
      throw new ClockError('ERR_RANDOM_DUPLICATE_FORK', `'${label}' was already forked from [${this.path.join('/')}]`);
    }
    this.forked.add(label);
    return new SeededRandom(this.seed, [...this.path, label]);
  }

  /** A uniform integer in [min, max], both included. */
  int(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max) {
      throw bad(`int(${min}, ${max}) needs safe integers with min <= max`);
    }
    return uniformInt(this.rng, min, max);
  }

  /** A uniform float in [min, max) (default [0, 1)), with 53 bits of randomness. */
  float(min = 0, max = 1): number {
    if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
      throw bad(`float(${min}, ${max}) needs finite bounds with min <= max`);
    }
    return min + (max - min) * uniformFloat64(this.rng);
  }

  /** True with probability `p` (default 0.5). */
  bool(p = 0.5): boolean {
    if (!(p >= 0 && p <= 1)) throw bad(`bool(${p}) needs a probability in [0, 1]`);
    return uniformFloat64(this.rng) < p;
  }

  /** One element of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw bad('pick() from an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }

  /** A uniformly shuffled copy of `items` (Fisher-Yates); the input is left alone. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const a = out[i] as T;
      out[i] = out[j] as T;
      out[j] = a;
    }
    return out;
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    if (!Number.isSafeInteger(n) || n < 0) throw bad(`bytes(${n}) needs a non-negative integer`);
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) {
      const word = Buffer.alloc(4);
      word.writeInt32BE(this.rng.next(), 0);
      word.copy(out, i, 0, Math.min(4, n - i));
    }
    return out;
  }
}
