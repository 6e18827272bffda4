import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AETH_BYTES,
  AETH_CREDITS_UNLIMITED,
  NakCode,
  parseSyndrome,
  readAeth,
  syndromeByte,
  writeAeth,
} from '../../../sim/roce/aeth.js';
import { arbAeth } from '../../support/arbitraries/roce.js';

describe('AETH', () => {
  it('encodes the syndromes rxe sends (roce-rxe.md §3.2)', () => {
    expect(syndromeByte({ kind: 'ack', credits: AETH_CREDITS_UNLIMITED })).toBe(0x1f);
    expect(syndromeByte({ kind: 'rnr-nak', timer: 14 })).toBe(0x2e);
    expect(syndromeByte({ kind: 'nak', code: NakCode.PsnSequenceError })).toBe(0x60);
    expect(syndromeByte({ kind: 'nak', code: NakCode.InvalidRequest })).toBe(0x61);
    expect(syndromeByte({ kind: 'nak', code: NakCode.RemoteAccessError })).toBe(0x62);
    expect(syndromeByte({ kind: 'nak', code: NakCode.RemoteOperationalError })).toBe(0x63);
  });

  it('puts the MSN in the low 24 bits', () => {
    const out = Buffer.alloc(AETH_BYTES);
    writeAeth({ syndrome: { kind: 'ack', credits: 0x1f }, msn: 0x123456 }, out, 0);
    expect(out.toString('hex')).toBe('1f123456');
  });

  it('round-trips', () => {
    fc.assert(
      fc.property(arbAeth, (aeth) => {
        const out = Buffer.alloc(AETH_BYTES);
        writeAeth(aeth, out, 0);
        expect(readAeth(out)).toEqual(aeth);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes every syndrome byte to a known kind or ERR_ROCE_BAD_AETH', () => {
    for (let byte = 0; byte < 256; byte++) {
      const type = byte & 0xe0;
      if (type === 0x00 || type === 0x20 || type === 0x60) {
        expect(syndromeByte(parseSyndrome(byte))).toBe(byte);
      } else {
        expect(() => parseSyndrome(byte)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_AETH' }));
      }
    }
  });

  it('rejects short input and out-of-range values', () => {
    expect(() => readAeth(Buffer.alloc(3))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }));
    expect(() => syndromeByte({ kind: 'nak', code: 32 })).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }),
    );
  });
});
