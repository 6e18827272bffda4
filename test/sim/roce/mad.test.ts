import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CmAttributeId,
  MAD_HEADER_BYTES,
  readMadHeader,
  writeMadHeader,
  type MadHeader,
} from '../../../sim/roce/mad.js';
import { arbU64, arbUint } from '../../support/arbitraries/roce.js';

const arbHeader: fc.Arbitrary<MadHeader> = fc.record({
  baseVersion: arbUint(8),
  mgmtClass: arbUint(8),
  classVersion: arbUint(8),
  method: arbUint(8),
  status: arbUint(16),
  classSpecific: arbUint(16),
  tid: arbU64,
  attributeId: arbUint(16),
  attributeModifier: arbUint(32),
});

describe('MAD common header', () => {
  it('lays out the 24 bytes as IBA 13.4.2', () => {
    const out = Buffer.alloc(MAD_HEADER_BYTES);
    writeMadHeader(
      {
        baseVersion: 1,
        mgmtClass: 0x07,
        classVersion: 2,
        method: 0x03,
        status: 0x1234,
        classSpecific: 0x5678,
        tid: 0x0102030405060708n,
        attributeId: CmAttributeId.REQ,
        attributeModifier: 0xa0b0c0d0,
      },
      out,
    );
    expect(out.toString('hex')).toBe('01070203' + '1234' + '5678' + '0102030405060708' + '0010' + '0000' + 'a0b0c0d0');
  });

  it('round-trips and ignores the reserved word', () => {
    fc.assert(
      fc.property(arbHeader, (hdr) => {
        const out = Buffer.alloc(MAD_HEADER_BYTES);
        writeMadHeader(hdr, out);
        out.writeUInt16BE(0xffff, 18);
        expect(readMadHeader(out)).toEqual(hdr);
      }),
      { numRuns: 200 },
    );
  });

  it('has the CM attribute IDs of IBA Table 104', () => {
    expect(CmAttributeId).toMatchObject({
      ClassPortInfo: 0x0001,
      REQ: 0x0010,
      MRA: 0x0011,
      REJ: 0x0012,
      REP: 0x0013,
      RTU: 0x0014,
      DREQ: 0x0015,
      DREP: 0x0016,
      SIDR_REQ: 0x0017,
      SIDR_REP: 0x0018,
    });
    expect(() => readMadHeader(Buffer.alloc(23))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }));
  });
});
