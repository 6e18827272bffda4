import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCmMad, encodeCmMad } from '../../../sim/roce/cm-mad.js';
import type { CmSidrRep, CmSidrReq } from '../../../sim/roce/cm-sidr.js';
import { arbCmSidrRep, arbCmSidrReq } from '../../support/arbitraries/roce.js';
import { asIba, f16, f32, f64, f8, ibaGet, mloc, type LayoutRow } from './iba-fields.js';

const padTo = (buf: Buffer, n: number): Buffer => Buffer.concat([buf, Buffer.alloc(n - buf.length)]);

// Tables 119 and 120 as Linux ibta_vol1_c12.h locates them.
const SIDR_REQ_LAYOUT: readonly LayoutRow<CmSidrReq>[] = [
  ['REQUESTID', f32(0, 32), (m) => m.requestId],
  ['PARTITION_KEY', f16(4, 16), (m) => m.pkey],
  ['SERVICEID', f64(8), (m) => m.serviceId],
  ['PRIVATE_DATA', mloc(16, 216), (m) => m.privateData],
];
const SIDR_REP_LAYOUT: readonly LayoutRow<CmSidrRep>[] = [
  ['REQUESTID', f32(0, 32), (m) => m.requestId],
  ['STATUS', f8(4, 8), (m) => m.status],
  ['ADDITIONAL_INFORMATION_LENGTH', f8(5, 8), (m) => m.additionalInfo.length],
  ['VENDOR_ID_H', f16(6, 16), (m) => m.vendorId >> 8],
  ['QPN', f32(8, 24), (m) => m.qpn],
  ['VENDOR_ID_L', f8(11, 8), (m) => m.vendorId & 0xff],
  ['SERVICEID', f64(12), (m) => m.serviceId],
  ['Q_KEY', f32(20, 32), (m) => m.qkey],
  ['ADDITIONAL_INFORMATION', mloc(24, 72), (m) => padTo(m.additionalInfo, 72)],
  ['PRIVATE_DATA', mloc(96, 136), (m) => m.privateData],
];

describe('CM SIDR_REQ and SIDR_REP', () => {
  it('lay out every field as ibta_vol1_c12.h says, and round-trip', () => {
    fc.assert(
      fc.property(arbCmSidrReq, arbCmSidrRep, (req, rep) => {
        const reqMad = encodeCmMad({ tid: 1n, message: req });
        expect(reqMad.readUInt16BE(16)).toBe(0x0017);
        for (const [name, where, value] of SIDR_REQ_LAYOUT) {
          expect([name, ibaGet(reqMad, where)]).toEqual([name, asIba(value(req))]);
        }
        expect(decodeCmMad(reqMad).message).toEqual(req);
        const repMad = encodeCmMad({ tid: 1n, message: rep });
        expect(repMad.readUInt16BE(16)).toBe(0x0018);
        for (const [name, where, value] of SIDR_REP_LAYOUT) {
          expect([name, ibaGet(repMad, where)]).toEqual([name, asIba(value(rep))]);
        }
        expect(decodeCmMad(repMad).message).toEqual(rep);
      }),
      { numRuns: 100 },
    );
  });

  it('rejects an additional-information length beyond 72', () => {
    const mad = encodeCmMad({ tid: 1n, message: fc.sample(arbCmSidrRep, { numRuns: 1, seed: 1 })[0]! });
    mad[24 + 5] = 73;
    expect(() => decodeCmMad(mad)).toThrow(expect.objectContaining({ code: 'ERR_CM_BAD_LENGTH' }));
  });
});
