import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../protocol/pdu/crc32c.js';
import {
  dataDigest,
  fastCrc32c,
  headerDigest,
  NATIVE_CRC32C_THRESHOLD,
  nativeCrc32cAvailable,
  readDigest,
  writeDigest,
} from '../../../protocol/pdu/digest.js';

describe('digests', () => {
  it('loads the native CRC32C on this machine (it is a dependency with a prebuilt binary)', () => {
    expect(nativeCrc32cAvailable).toBe(true);
  });

  it('fastCrc32c equals the reference on both sides of the native threshold, chained or not', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: NATIVE_CRC32C_THRESHOLD - 8, max: NATIVE_CRC32C_THRESHOLD + 8 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 255 }),
        (length, seed, fill) => {
          const bytes = Buffer.alloc(length, fill);
          expect(fastCrc32c(bytes)).toBe(crc32c(bytes));
          expect(fastCrc32c(bytes, seed)).toBe(crc32c(bytes, seed));
        },
      ),
      { numRuns: 100 },
    );
    const big = Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 31) & 0xff));
    expect(fastCrc32c(big)).toBe(crc32c(big));
  });

  it('data digest covers the data and its zero padding, across chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 5 }), (chunks) => {
        const joined = Buffer.concat(chunks);
        const padded = Buffer.concat([joined, Buffer.alloc((4 - (joined.length % 4)) % 4)]);
        expect(dataDigest(chunks)).toBe(crc32c(padded));
      }),
      { numRuns: 200 },
    );
  });

  it('header digest is CRC32C of the header', () => {
    const header = Buffer.alloc(48, 7);
    expect(headerDigest(header)).toBe(crc32c(header));
  });

  it('puts the digest on the wire least-significant byte first', () => {
    const out = Buffer.alloc(4);
    writeDigest(out, 0, 0xd9963a56);
    expect(out.toString('hex')).toBe('563a96d9');
    expect(readDigest(out, 0)).toBe(0xd9963a56);
  });
});
