import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAhs, encodeAhs, PduDecodeError, PduEncodeError } from '../../../protocol/pdu/index.js';

const arbSegment = fc.record({
  type: fc.integer({ min: 0, max: 63 }),
  specific: fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
});

describe('AHS', () => {
  it('round-trips segment lists, each padded to 4 bytes', () => {
    fc.assert(
      fc.property(fc.array(arbSegment, { maxLength: 6 }), (segments) => {
        const bytes = encodeAhs(segments);
        expect(bytes.length % 4).toBe(0);
        expect(decodeAhs(bytes)).toEqual(segments);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an AHSLength that overruns the AHS, and a total over 1020 bytes', () => {
    expect(() => decodeAhs(Buffer.from([0, 9, 1, 0, 0, 0, 0, 0]))).toThrow(PduDecodeError);
    expect(() => decodeAhs(Buffer.from([0, 0]))).toThrow(PduDecodeError);
    expect(() => encodeAhs([{ type: 1, specific: Buffer.alloc(1018) }])).toThrow(PduEncodeError);
    expect(encodeAhs([{ type: 1, specific: Buffer.alloc(1017) }])).toHaveLength(1020);
  });

  it('only ever throws PduDecodeError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeAhs(Buffer.from(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(PduDecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
