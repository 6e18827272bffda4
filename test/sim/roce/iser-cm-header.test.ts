import { describe, expect, it } from 'vitest';
import { decodeIserCmHeader, encodeIserCmHeader } from '../../../sim/roce/iser-cm-header.js';

describe('iser_cm_hdr', () => {
  it('encodes the flags the Linux initiator and LIO isert send', () => {
    expect(encodeIserCmHeader({ zbvaNotSupported: true, sendWithInvalidateNotSupported: true }).toString('hex')).toBe(
      'c0000000',
    );
    expect(encodeIserCmHeader({ zbvaNotSupported: true, sendWithInvalidateNotSupported: false }).toString('hex')).toBe(
      '80000000',
    );
    expect(encodeIserCmHeader({ zbvaNotSupported: false, sendWithInvalidateNotSupported: true })[0]).toBe(0x40);
  });

  it('decodes every flags byte, ignoring reserved bits as isert does', () => {
    for (let flags = 0; flags < 256; flags++) {
      const decoded = decodeIserCmHeader(Buffer.from([flags, 0xff, 0xff, 0xff]));
      expect(decoded).toEqual({
        zbvaNotSupported: (flags & 0x80) !== 0,
        sendWithInvalidateNotSupported: (flags & 0x40) !== 0,
      });
      expect(encodeIserCmHeader(decoded)[0]).toBe(flags & 0xc0);
    }
    expect(() => decodeIserCmHeader(Buffer.alloc(3))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }));
  });
});
