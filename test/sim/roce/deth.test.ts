import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DETH_BYTES, GSI_QKEY, readDeth, writeDeth } from '../../../sim/roce/deth.js';
import { arbDeth } from '../../support/arbitraries/roce.js';

describe('DETH', () => {
  it('lays out the GSI Q_Key and SrcQP 1 as ib_mad sends them', () => {
    const out = Buffer.alloc(DETH_BYTES);
    writeDeth({ qkey: GSI_QKEY, srcQp: 1 }, out, 0);
    expect(out.toString('hex')).toBe('8001000000000001');
  });

  it('round-trips and ignores the reserved byte', () => {
    fc.assert(
      fc.property(arbDeth, fc.integer({ min: 0, max: 255 }), (deth, reserved) => {
        const out = Buffer.alloc(DETH_BYTES);
        writeDeth(deth, out, 0);
        expect(out[4]).toBe(0);
        out[4] = reserved;
        expect(readDeth(out)).toEqual(deth);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects short input', () => {
    expect(() => readDeth(Buffer.alloc(7))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }));
  });
});
