import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FETH_BYTES, readFeth, writeFeth } from '../../../sim/roce/feth.js';
import { arbFeth } from '../../support/arbitraries/roce.js';

describe('FETH', () => {
  it('puts placement type in bits 3:0 and selectivity in bits 5:4', () => {
    const out = Buffer.alloc(FETH_BYTES);
    writeFeth({ placementType: 2, selectivity: 1 }, out, 0);
    expect(out.readUInt32BE(0)).toBe(0x12);
  });

  it('round-trips and ignores reserved bits', () => {
    fc.assert(
      fc.property(arbFeth, fc.integer({ min: 0, max: 2 ** 26 - 1 }), (feth, reserved) => {
        const out = Buffer.alloc(FETH_BYTES);
        writeFeth(feth, out, 0);
        out.writeUInt32BE((out.readUInt32BE(0) | (reserved << 6)) >>> 0, 0);
        expect(readFeth(out)).toEqual(feth);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects short input', () => {
    expect(() => readFeth(Buffer.alloc(3))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }));
  });
});
