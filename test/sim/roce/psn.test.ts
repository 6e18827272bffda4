import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPsn, psnAdd, psnCompare, psnDiff, psnInWindow, PSN_MASK } from '../../../sim/roce/psn.js';
import { arbUint } from '../../support/arbitraries/roce.js';

describe('PSN arithmetic', () => {
  it('wraps at 2^24 in both directions', () => {
    expect(psnAdd(PSN_MASK, 1)).toBe(0);
    expect(psnAdd(0, -1)).toBe(PSN_MASK);
    expect(psnAdd(0xfffffe, 5)).toBe(3);
    expect(isPsn(PSN_MASK)).toBe(true);
    expect(isPsn(PSN_MASK + 1)).toBe(false);
    expect(isPsn(-1)).toBe(false);
  });

  it("compares like rxe's (s32)((a - b) << 8)", () => {
    expect(psnCompare(1, 0)).toBe(1);
    expect(psnCompare(0, 1)).toBe(-1);
    expect(psnCompare(0, PSN_MASK)).toBe(1); // 0 comes right after 0xFFFFFF
    expect(psnCompare(PSN_MASK, 0)).toBe(-1);
    expect(psnCompare(7, 7)).toBe(0);
    expect(psnDiff(0x000002, 0xfffffe)).toBe(4);
    expect(psnDiff(0x800000, 0)).toBe(-0x800000); // exactly half way reads as "before"
    fc.assert(
      fc.property(arbUint(24), arbUint(24), (a, b) => {
        const rxe = ((a - b) << 8) | 0;
        expect(psnCompare(a, b)).toBe(Math.sign(rxe));
      }),
      { numRuns: 500 },
    );
  });

  it('adds and diffs consistently within half the space', () => {
    fc.assert(
      fc.property(arbUint(24), fc.integer({ min: -(2 ** 23), max: 2 ** 23 - 1 }), (a, n) => {
        const b = psnAdd(a, n);
        expect(isPsn(b)).toBe(true);
        expect(psnDiff(b, a)).toBe(n);
        expect(psnCompare(b, a)).toBe(Math.sign(n));
      }),
      { numRuns: 500 },
    );
  });

  it('knows a window across the wrap', () => {
    expect(psnInWindow(PSN_MASK, PSN_MASK - 1, 3)).toBe(true);
    expect(psnInWindow(0, PSN_MASK - 1, 3)).toBe(true);
    expect(psnInWindow(1, PSN_MASK - 1, 3)).toBe(false);
    expect(psnInWindow(PSN_MASK - 2, PSN_MASK - 1, 3)).toBe(false);
    fc.assert(
      fc.property(
        arbUint(24),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 0, max: 2000 }),
        (first, count, k) => {
          expect(psnInWindow(psnAdd(first, k), first, count)).toBe(k < count);
        },
      ),
      { numRuns: 300 },
    );
  });
});
