import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../../sim/roce/crc32.js';
import { arbBytesBetween } from '../../support/arbitraries/roce.js';

describe('table CRC-32', () => {
  it('has the standard check value and the seed rxe starts from', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
    // rxe_icrc.c starts from 0xdebb20e3: the CRC state after 8 bytes of 0xFF.
    expect(~crc32(Buffer.alloc(8, 0xff)) >>> 0).toBe(0xdebb20e3);
  });

  it("agrees with Node's zlib.crc32, in one piece and continued", () => {
    fc.assert(
      fc.property(arbBytesBetween(0, 300), arbBytesBetween(0, 50), (a, b) => {
        expect(crc32(a)).toBe(zlibCrc32(a));
        expect(crc32(b, crc32(a))).toBe(zlibCrc32(Buffer.concat([a, b])));
      }),
      { numRuns: 300 },
    );
  });
});
