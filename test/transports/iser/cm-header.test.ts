import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeIserCmHeader,
  encodeIserCmHeader,
  ISER_CM_HEADER_LENGTH,
  ISER_SEND_W_INV_NOT_SUPPORTED,
  ISER_ZBVA_NOT_SUPPORTED,
} from '../../../transports/iser/cm-header.js';

describe('iser_cm_hdr', () => {
  it('encodes the flags Linux uses: 0xC0 and 0x80 in byte 0, three zero reserved bytes', () => {
    expect(encodeIserCmHeader({ zbvaNotSupported: true, sendWithInvalidateNotSupported: true })).toEqual(
      Buffer.from([0xc0, 0, 0, 0]),
    );
    expect(encodeIserCmHeader({ zbvaNotSupported: true, sendWithInvalidateNotSupported: false })).toEqual(
      Buffer.from([0x80, 0, 0, 0]),
    );
    expect(ISER_ZBVA_NOT_SUPPORTED | ISER_SEND_W_INV_NOT_SUPPORTED).toBe(0xc0);
  });

  it('round-trips every flag combination', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), (zbva, inv) => {
        const header = { zbvaNotSupported: zbva, sendWithInvalidateNotSupported: inv };
        expect(decodeIserCmHeader(encodeIserCmHeader(header))).toEqual(header);
      }),
    );
  });

  it('ignores reserved bits and trailing bytes, and reads missing private data as no header (tgt sends none)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: ISER_CM_HEADER_LENGTH, maxLength: 56 }), (bytes) => {
        const decoded = decodeIserCmHeader(Buffer.from(bytes));
        expect(decoded).toEqual({
          zbvaNotSupported: ((bytes[0] ?? 0) & 0x80) !== 0,
          sendWithInvalidateNotSupported: ((bytes[0] ?? 0) & 0x40) !== 0,
        });
      }),
      { numRuns: 200 },
    );
    expect(decodeIserCmHeader(Buffer.alloc(0))).toBeUndefined();
    expect(decodeIserCmHeader(Buffer.from([0xc0, 0, 0]))).toBeUndefined();
  });
});
