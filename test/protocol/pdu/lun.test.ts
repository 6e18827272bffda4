import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  flatLun,
  lunFromNumber,
  lunToNumber,
  parseLun,
  PduEncodeError,
  peripheralLun,
} from '../../../protocol/pdu/index.js';

describe('LUN addressing (SAM)', () => {
  it('encodes peripheral and flat LUNs in the first two bytes', () => {
    expect(lunFromNumber(0)).toBe(0n);
    expect(lunFromNumber(5).toString(16).padStart(16, '0')).toBe('0005000000000000');
    expect(lunFromNumber(256).toString(16).padStart(16, '0')).toBe('4100000000000000');
    expect(flatLun(0x3fff).toString(16)).toBe('7fff000000000000');
    expect(peripheralLun(2, 1).toString(16).padStart(16, '0')).toBe('0102000000000000');
  });

  it('round-trips every LUN number 0..16383', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x3fff }), (n) => {
        expect(lunToNumber(lunFromNumber(n))).toBe(n);
        expect(lunToNumber(flatLun(n))).toBe(n);
      }),
      { numRuns: 300 },
    );
  });

  it('parses the addressing method and keeps other forms raw', () => {
    expect(parseLun(peripheralLun(7, 3))).toEqual({ method: 'peripheral', bus: 3, lun: 7 });
    expect(parseLun(flatLun(300))).toEqual({ method: 'flat', lun: 300 });
    expect(parseLun(0x8001000000000000n)).toEqual({ method: 'other', raw: 0x8001000000000000n });
    expect(parseLun(0x0001000000000001n)).toEqual({ method: 'other', raw: 0x0001000000000001n });
    expect(lunToNumber(peripheralLun(7, 3))).toBeUndefined();
  });

  it('refuses numbers outside the addressing method', () => {
    expect(() => lunFromNumber(16384)).toThrow(PduEncodeError);
    expect(() => peripheralLun(256)).toThrow(PduEncodeError);
    expect(() => peripheralLun(1, 64)).toThrow(PduEncodeError);
    expect(() => flatLun(-1)).toThrow(PduEncodeError);
  });
});
