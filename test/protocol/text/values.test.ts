import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatBase64,
  formatHex,
  isSpecialAnswer,
  parseBinary,
  parseBoolean,
  parseList,
  parseNumberInRange,
  parseNumerical,
} from '../../../protocol/text/values.js';

describe('value formats (RFC 7143 §6.1)', () => {
  it('reads numbers as decimal-constants or hex-constants', () => {
    expect(parseNumerical('0')).toBe(0n);
    expect(parseNumerical('8192')).toBe(8192n);
    expect(parseNumerical('0x2000')).toBe(8192n);
    expect(parseNumerical('0X2000')).toBe(8192n);
    expect(parseNumerical('18446744073709551615')).toBe(2n ** 64n - 1n);
  });

  it.each(['', '08192', '-1', '+1', '1.5', '0x', '0xg', ' 1', '1e3', '18446744073709551616', 'Yes'])(
    'refuses %j as a numerical-value',
    (text) => {
      expect(parseNumerical(text)).toBeUndefined();
    },
  );

  it('round-trips numbers in both notations and checks ranges', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (n) => {
        expect(parseNumerical(n.toString())).toBe(n);
        expect(parseNumerical(`0x${n.toString(16)}`)).toBe(n);
      }),
      { numRuns: 200 },
    );
    expect(parseNumberInRange('511', 512, 1024)).toBeUndefined();
    expect(parseNumberInRange('0x200', 512, 1024)).toBe(512);
    expect(parseNumberInRange('1025', 512, 1024)).toBeUndefined();
  });

  it('reads booleans exactly as Yes and No', () => {
    expect(parseBoolean('Yes')).toBe(true);
    expect(parseBoolean('No')).toBe(false);
    expect(parseBoolean('yes')).toBeUndefined();
    expect(parseBoolean('1')).toBeUndefined();
  });

  it('round-trips binary values as hex and base64 constants', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (raw) => {
        const bytes = Buffer.from(raw);
        expect(parseBinary(formatHex(bytes), 64)?.equals(bytes)).toBe(true);
        expect(parseBinary(formatBase64(bytes), 64)?.equals(bytes)).toBe(true);
        expect(parseBinary(formatHex(bytes), bytes.length - 1)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it('gives an odd hex-constant its implicit leading zero nibble, and refuses impossible base64 lengths', () => {
    expect(parseBinary('0xabc', 2)).toEqual(Buffer.from([0x0a, 0xbc]));
    // 5 base64 digits (4k+1) cannot encode whole bytes.
    expect(parseBinary('0bAAAAA', 10)).toBeUndefined();
    expect(parseBinary('0bAA=', 10)).toBeUndefined();
    expect(parseBinary('abc', 10)).toBeUndefined();
  });

  it('splits lists at commas and refuses empty or oversized items', () => {
    expect(parseList('CRC32C,None')).toEqual(['CRC32C', 'None']);
    expect(parseList('None')).toEqual(['None']);
    expect(parseList('')).toBeUndefined();
    expect(parseList('CRC32C,,None')).toBeUndefined();
    expect(parseList(`${'a'.repeat(256)},None`)).toBeUndefined();
  });

  it('knows the reserved answers', () => {
    expect(['Reject', 'Irrelevant', 'NotUnderstood'].every(isSpecialAnswer)).toBe(true);
    expect(isSpecialAnswer('None')).toBe(false);
  });
});
