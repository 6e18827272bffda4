import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCmMad, encodeCmMad } from '../../../sim/roce/cm-mad.js';
import { arbCmRtu } from '../../support/arbitraries/roce.js';
import { f32, ibaGet, mloc } from './iba-fields.js';

describe('CM RTU', () => {
  it('carries the two comm IDs and 224 bytes of private data, and round-trips', () => {
    fc.assert(
      fc.property(arbCmRtu, (rtu) => {
        const mad = encodeCmMad({ tid: 9n, message: rtu });
        expect(mad.readUInt16BE(16)).toBe(0x0014);
        expect(ibaGet(mad, f32(0, 32))).toBe(rtu.localCommId);
        expect(ibaGet(mad, f32(4, 32))).toBe(rtu.remoteCommId);
        expect(ibaGet(mad, mloc(8, 224))).toEqual(rtu.privateData);
        expect(decodeCmMad(mad).message).toEqual(rtu);
      }),
      { numRuns: 100 },
    );
  });
});
