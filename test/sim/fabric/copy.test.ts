/**
 * The fabric's one data movement: gathering from one segment list and scattering into another.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copySegments } from '../../../sim/fabric/copy.js';
import type { Segment } from '../../../sim/fabric/copy.js';

/** Splits `[0, total)` of a fresh buffer into segments at `cuts` (offset by a gap so offsets matter). */
function segmentsOver(buffer: Buffer, gap: number, lengths: readonly number[]): Segment[] {
  let offset = gap;
  return lengths.map((length) => {
    const segment = { buffer, offset, length };
    offset += length + gap;
    return segment;
  });
}

function flatten(segments: readonly Segment[]): Buffer {
  return Buffer.concat(segments.map((s) => s.buffer.subarray(s.offset, s.offset + s.length)));
}

describe('copySegments', () => {
  it('moves the first n bytes in order, touching nothing else, in one call per piece', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 3 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (srcLengths, dstLengths, gap, fraction) => {
          const srcTotal = srcLengths.reduce((a, b) => a + b, 0);
          const dstTotal = dstLengths.reduce((a, b) => a + b, 0);
          const n = Math.floor(Math.min(srcTotal, dstTotal) * fraction);
          const src = Buffer.alloc(srcTotal + gap * (srcLengths.length + 1));
          for (let i = 0; i < src.length; i++) src[i] = (i * 37 + 1) & 0xff;
          const dst = Buffer.alloc(dstTotal + gap * (dstLengths.length + 1), 0xee);
          const source = segmentsOver(src, gap, srcLengths);
          const dest = segmentsOver(dst, gap, dstLengths);
          const calls = copySegments(source, dest, n);
          const landed = flatten(dest);
          expect(landed.subarray(0, n).equals(flatten(source).subarray(0, n))).toBe(true);
          expect(landed.subarray(n).every((b) => b === 0xee)).toBe(true);
          // Gaps between segments are untouched.
          const inside = new Set(dest.flatMap((s) => [...Array(s.length).keys()].map((k) => s.offset + k)));
          dst.forEach((b, i) => {
            if (!inside.has(i)) expect(b).toBe(0xee);
          });
          // One call per piece: at most one per segment boundary crossed, never one for nothing.
          expect(calls).toBeLessThanOrEqual(srcLengths.length + dstLengths.length - 1);
          if (n === 0) expect(calls).toBe(0);
          else expect(calls).toBeGreaterThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('throws a RangeError when the lists are shorter than the copy', () => {
    const s = [{ buffer: Buffer.alloc(4), offset: 0, length: 4 }];
    expect(() => copySegments(s, [{ buffer: Buffer.alloc(2), offset: 0, length: 2 }], 3)).toThrow(RangeError);
  });
});
