import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCmMad, encodeCmMad } from '../../../sim/roce/cm-mad.js';
import type { CmMra } from '../../../sim/roce/cm-mra.js';
import { arbCmMra } from '../../support/arbitraries/roce.js';
import { asIba, f32, f8, ibaGet, mloc, type LayoutRow } from './iba-fields.js';

// Table 107 as Linux ibta_vol1_c12.h locates it.
const MRA_LAYOUT: readonly LayoutRow<CmMra>[] = [
  ['LOCAL_COMM_ID', f32(0, 32), (m) => m.localCommId],
  ['REMOTE_COMM_ID', f32(4, 32), (m) => m.remoteCommId],
  ['MESSAGE_MRAED', f8(8, 2), (m) => m.messageMraed],
  ['SERVICE_TIMEOUT', f8(9, 5), (m) => m.serviceTimeout],
  ['PRIVATE_DATA', mloc(10, 222), (m) => m.privateData],
];

describe('CM MRA', () => {
  it('puts message MRAed and service timeout in the top bits of bytes 8 and 9', () => {
    const mad = encodeCmMad({
      tid: 1n,
      message: {
        kind: 'MRA',
        localCommId: 1,
        remoteCommId: 2,
        messageMraed: 1,
        serviceTimeout: 31,
        privateData: Buffer.alloc(0),
      },
    });
    expect(mad.readUInt16BE(16)).toBe(0x0011);
    expect(mad.subarray(24 + 8, 24 + 10).toString('hex')).toBe('40f8');
  });

  it('lays out every field as ibta_vol1_c12.h says, and round-trips', () => {
    fc.assert(
      fc.property(arbCmMra, (mra) => {
        const mad = encodeCmMad({ tid: 4n, message: mra });
        for (const [name, where, value] of MRA_LAYOUT) {
          expect([name, ibaGet(mad, where)]).toEqual([name, asIba(value(mra))]);
        }
        expect(decodeCmMad(mad).message).toEqual(mra);
      }),
      { numRuns: 150 },
    );
  });
});
