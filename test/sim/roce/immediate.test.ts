import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readU32Header, writeU32Header } from '../../../sim/roce/immediate.js';
import { arbUint } from '../../support/arbitraries/roce.js';

describe('ImmDt and IETH', () => {
  it('carry a big-endian u32 unchanged', () => {
    const out = Buffer.alloc(4);
    writeU32Header('ImmDt', 0xdeadbeef, out, 0);
    expect(out.toString('hex')).toBe('deadbeef');
    fc.assert(
      fc.property(arbUint(32), (v) => {
        writeU32Header('IETH', v, out, 0);
        expect(readU32Header('IETH', out)).toBe(v);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects short input and values beyond 32 bits', () => {
    expect(() => readU32Header('ImmDt', Buffer.alloc(3))).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }),
    );
    expect(() => {
      writeU32Header('IETH', 2 ** 32, Buffer.alloc(4), 0);
    }).toThrow(expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }));
  });
});
