import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCmMad, encodeCmMad } from '../../../sim/roce/cm-mad.js';
import { arbCmDrep, arbCmDreq } from '../../support/arbitraries/roce.js';
import { f32, ibaGet, mloc } from './iba-fields.js';

describe('CM DREQ and DREP', () => {
  it('lay out DREQ as Table 112 (remote QPN in the top 24 bits of word 8) and round-trip', () => {
    fc.assert(
      fc.property(arbCmDreq, (dreq) => {
        const mad = encodeCmMad({ tid: 10n, message: dreq });
        expect(mad.readUInt16BE(16)).toBe(0x0015);
        expect(ibaGet(mad, f32(0, 32))).toBe(dreq.localCommId);
        expect(ibaGet(mad, f32(4, 32))).toBe(dreq.remoteCommId);
        expect(ibaGet(mad, f32(8, 24))).toBe(dreq.remoteQpn);
        expect(mad[24 + 11]).toBe(0);
        expect(ibaGet(mad, mloc(12, 220))).toEqual(dreq.privateData);
        expect(decodeCmMad(mad).message).toEqual(dreq);
      }),
      { numRuns: 100 },
    );
  });

  it('lay out DREP as Table 113 (224 bytes of private data) and round-trip', () => {
    fc.assert(
      fc.property(arbCmDrep, (drep) => {
        const mad = encodeCmMad({ tid: 11n, message: drep });
        expect(mad.readUInt16BE(16)).toBe(0x0016);
        expect(ibaGet(mad, mloc(8, 224))).toEqual(drep.privateData);
        expect(decodeCmMad(mad).message).toEqual(drep);
      }),
      { numRuns: 100 },
    );
  });
});
