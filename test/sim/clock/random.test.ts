import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClockError } from '../../../sim/clock/errors.js';
import { SeededRandom } from '../../../sim/clock/random.js';

const draw = (r: SeededRandom): unknown[] => [
  r.int(0, 1_000_000),
  r.float(),
  r.bool(0.3),
  r.bytes(7).toString('hex'),
  r.pick(['a', 'b', 'c']),
  r.shuffle([1, 2, 3, 4, 5]),
  r.int(-(2 ** 50), 2 ** 50),
];

describe('SeededRandom', () => {
  it('gives the same sequence for the same seed', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.string()), (seed) => {
        expect(draw(new SeededRandom(seed))).toEqual(draw(new SeededRandom(seed)));
      }),
      { numRuns: 50 },
    );
  });

  it('pins the stream of seed 42, so a change to the derivation (which changes every trace) is noticed', () => {
    const r = new SeededRandom(42);
    expect([r.int(0, 999), r.int(0, 999), r.int(0, 999), r.bytes(6).toString('hex')]).toEqual([
      902,
      404,
      196,
      '1028cc6e8076',
    ]);
  });

  it('gives different sequences for different seeds, and tells 1 from "1"', () => {
    const ints = (seed: number | string): number[] => {
      const r = new SeededRandom(seed);
      return Array.from({ length: 8 }, () => r.int(0, 2 ** 31));
    };
    expect(ints(1)).not.toEqual(ints(2));
    expect(ints(1)).not.toEqual(ints('1'));
  });

  it('forks streams that do not depend on draws or other forks elsewhere', () => {
    const quiet = new SeededRandom(7);
    const alone = draw(quiet.fork('fabric'));

    const busy = new SeededRandom(7);
    busy.int(0, 10);
    const other = busy.fork('roce');
    other.bytes(100);
    const fabric = busy.fork('fabric');
    busy.float();
    expect(draw(fabric)).toEqual(alone);
    expect(draw(other)).not.toEqual(alone);
    // Nested labels are paths: 'a'/'bc' is not 'ab'/'c'.
    expect(draw(new SeededRandom(7).fork('a').fork('bc'))).not.toEqual(draw(new SeededRandom(7).fork('ab').fork('c')));
    expect(fabric.path).toEqual(['fabric']);
  });

  it('refuses to fork the same label twice from one stream', () => {
    const r = new SeededRandom(1);
    r.fork('x');
    expect(() => r.fork('x')).toThrow(expect.objectContaining({ code: 'ERR_RANDOM_DUPLICATE_FORK' }));
  });

  it('stays inside the requested ranges', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: -1000, max: 1000 }), fc.nat(1000), (seed, min, span) => {
        const r = new SeededRandom(seed);
        const n = r.int(min, min + span);
        expect(n).toBeGreaterThanOrEqual(min);
        expect(n).toBeLessThanOrEqual(min + span);
        const f = r.float(min, min + span);
        expect(f >= min && (span === 0 ? f === min : f < min + span)).toBe(true);
        expect(r.bytes(span % 13)).toHaveLength(span % 13);
        expect([...r.shuffle([1, 2, 3, 4])].sort()).toEqual([1, 2, 3, 4]);
        expect(r.bool(0)).toBe(false);
        expect(r.bool(1)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('is roughly uniform (deterministic for a fixed seed, so never flaky)', () => {
    const r = new SeededRandom('uniformity');
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) buckets[r.int(0, 9)]!++;
    for (const b of buckets) {
      expect(b).toBeGreaterThan(850);
      expect(b).toBeLessThan(1150);
    }
    let trues = 0;
    for (let i = 0; i < 10_000; i++) if (r.bool(0.25)) trues++;
    expect(trues).toBeGreaterThan(2300);
    expect(trues).toBeLessThan(2700);
  });

  it('rejects nonsense with a typed error', () => {
    const r = new SeededRandom(0);
    for (const bad of [
      () => r.int(2, 1),
      () => r.int(0.5, 1),
      () => r.pick([]),
      () => r.bool(1.5),
      () => r.bytes(-1),
      () => r.float(1, 0),
    ]) {
      expect(bad).toThrow(ClockError);
    }
  });
});
