import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SerialNumberError } from '../../../protocol/pdu/errors.js';
import {
  serialAdd,
  serialDiff,
  serialGe,
  serialGt,
  serialInWindow,
  serialLe,
  serialLt,
} from '../../../protocol/pdu/serial.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const step = fc.integer({ min: 1, max: 0x7fffffff });

describe('serial number arithmetic (RFC 1982, 32 bits)', () => {
  it('wraps around: 0xffffffff + 1 = 0, and 0 is after 0xffffffff', () => {
    expect(serialAdd(0xffffffff, 1)).toBe(0);
    expect(serialLt(0xffffffff, 0)).toBe(true);
    expect(serialGt(0, 0xffffffff)).toBe(true);
    expect(serialDiff(0, 0xffffffff)).toBe(1);
    expect(serialDiff(0xffffffff, 0)).toBe(-1);
  });

  it('s < s + n for every n in 1..2^31-1, and the diff is n', () => {
    fc.assert(
      fc.property(u32, step, (s, n) => {
        const t = serialAdd(s, n);
        expect(serialLt(s, t)).toBe(true);
        expect(serialGt(t, s)).toBe(true);
        expect(serialLe(s, t)).toBe(true);
        expect(serialGe(t, s)).toBe(true);
        expect(serialGt(s, t)).toBe(false);
        expect(serialDiff(t, s)).toBe(n);
      }),
      { numRuns: 500 },
    );
  });

  it('is antisymmetric and equal numbers are neither less nor greater', () => {
    fc.assert(
      fc.property(u32, u32, (a, b) => {
        expect(serialLt(a, b) && serialLt(b, a)).toBe(false);
        if (a === b)
          expect([serialLt(a, b), serialGt(a, b), serialLe(a, b), serialGe(a, b)]).toEqual([false, false, true, true]);
        else expect(serialLt(a, b)).toBe(serialGt(b, a));
      }),
      { numRuns: 500 },
    );
  });

  it('leaves numbers exactly 2^31 apart unordered, as RFC 1982 does', () => {
    expect(serialLt(0, 0x80000000)).toBe(false);
    expect(serialGt(0, 0x80000000)).toBe(false);
    expect(serialLt(0x80000000, 0)).toBe(false);
  });

  it('checks the CmdSN window across the wrap', () => {
    expect(serialInWindow(2, 0xfffffffe, 5)).toBe(true);
    expect(serialInWindow(0xfffffffe, 0xfffffffe, 5)).toBe(true);
    expect(serialInWindow(6, 0xfffffffe, 5)).toBe(false);
    expect(serialInWindow(0xfffffffd, 0xfffffffe, 5)).toBe(false);
  });

  it('refuses undefined operations with SerialNumberError', () => {
    expect(() => serialAdd(1, 0x80000000)).toThrow(SerialNumberError);
    expect(() => serialAdd(1, -1)).toThrow(SerialNumberError);
    expect(() => serialLt(-1, 0)).toThrow(SerialNumberError);
    expect(() => serialDiff(2 ** 32, 0)).toThrow(SerialNumberError);
    expect(() => serialLe(1.5, 1.5)).toThrow(SerialNumberError);
  });
});
