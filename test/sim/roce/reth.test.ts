import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readReth, RETH_BYTES, writeReth } from '../../../sim/roce/reth.js';
import { arbReth } from '../../support/arbitraries/roce.js';

describe('RETH', () => {
  it('lays out VA, R_Key and DMA length big-endian', () => {
    const out = Buffer.alloc(RETH_BYTES);
    writeReth({ va: 0x0102030405060708n, rkey: 0x1122_3344, length: 0x0000_1000 }, out, 0);
    expect(out.toString('hex')).toBe('01020304050607081122334400001000');
  });

  it('round-trips at any offset', () => {
    fc.assert(
      fc.property(arbReth, fc.nat(8), (reth, offset) => {
        const out = Buffer.alloc(offset + RETH_BYTES);
        writeReth(reth, out, offset);
        expect(readReth(out, offset)).toEqual(reth);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects short input and oversized fields', () => {
    expect(() => readReth(Buffer.alloc(15))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }));
    const out = Buffer.alloc(RETH_BYTES);
    expect(() => {
      writeReth({ va: 1n << 64n, rkey: 0, length: 0 }, out, 0);
    }).toThrow(expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }));
    expect(() => {
      writeReth({ va: 0n, rkey: 0, length: 2 ** 32 }, out, 0);
    }).toThrow(expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }));
  });
});
