import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import CRC32C from 'crc-32/crc32c.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cOfChunks } from '../../../protocol/pdu/crc32c.js';

/** The wire bytes RFC 3720 appendix B.4 lists (least-significant byte first) as a number. */
function fromWire(hexBytes: string): number {
  return Buffer.from(hexBytes.replaceAll(' ', ''), 'hex').readUInt32LE(0);
}

describe('crc32c', () => {
  it('gives the CRC32C check value for "123456789"', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  // RFC 3720 appendix B.4 "CRC Examples" (RFC 7143 keeps CRC32C and drops the appendix).
  it.each([
    ['32 bytes of zeroes', Buffer.alloc(32), 'aa 36 91 8a'],
    ['32 bytes of ones', Buffer.alloc(32, 0xff), '43 ab a8 62'],
    ['32 bytes of incrementing 00..1f', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), '4e 79 dd 46'],
    ['32 bytes of decrementing 1f..00', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), '5c db 3f 11'],
    [
      'an iSCSI Read (10) command PDU',
      Buffer.from(
        '01c00000 00000000 00000000 00000000 14000000 00000400 00000014 00000018 28000000 00000000 02000000 00000000'.replaceAll(
          ' ',
          '',
        ),
        'hex',
      ),
      '56 3a 96 d9',
    ],
  ])('matches RFC 3720 B.4 for %s', (_name, bytes, wire) => {
    expect(crc32c(bytes)).toBe(fromWire(wire));
    // Double-check the RFC values against two independent implementations.
    expect(nativeCrc32c(bytes)).toBe(fromWire(wire));
    expect(CRC32C.buf(bytes) >>> 0).toBe(fromWire(wire));
  });

  it('agrees with @node-rs/crc32 and crc-32 on random bytes of every length around the 16-byte block', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const expected = nativeCrc32c(bytes);
        expect(crc32c(bytes)).toBe(expected);
        expect(CRC32C.buf(bytes) >>> 0).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('continues across calls: crc(b, crc(a)) = crc(a ++ b), and over a chunk list without concatenating', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 }), (chunks) => {
        const whole = crc32c(Buffer.concat(chunks));
        expect(crc32cOfChunks(chunks)).toBe(whole);
        let running = 0;
        for (const c of chunks) running = crc32c(c, running);
        expect(running).toBe(whole);
      }),
      { numRuns: 200 },
    );
  });

  it('changes when any single bit flips', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (bytes, at, bit) => {
          const flipped = Buffer.from(bytes);
          const index = at % flipped.length;
          flipped[index] = (flipped[index] ?? 0) ^ (1 << bit);
          expect(crc32c(flipped)).not.toBe(crc32c(bytes));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('returns 0 for no bytes and the empty chunk list', () => {
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32cOfChunks([])).toBe(0);
  });
});
