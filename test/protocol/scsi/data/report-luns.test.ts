import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeReportLuns, encodeReportLuns } from '../../../../protocol/scsi/data/report-luns.js';
import { ScsiDecodeError } from '../../../../protocol/scsi/errors.js';
import { expectOnlyDecodeErrors } from '../hostile.js';

const arbLuns = fc.array(fc.integer({ min: 0, max: 0x3fff }), { maxLength: 40 });

describe('REPORT LUNS data', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(arbLuns, (luns) => {
        expect(decodeReportLuns(encodeReportLuns(luns))).toEqual({ luns, otherLuns: [], listLength: 8 * luns.length });
      }),
    );
  });

  it('keeps the declared list length when the allocation length cut the list', () => {
    const data = decodeReportLuns(encodeReportLuns([0, 1, 2, 3]).subarray(0, 16 + 4));
    expect(data).toEqual({ luns: [0], otherLuns: [], listLength: 32 });
  });

  it('keeps LUNs in other address methods raw', () => {
    const buf = encodeReportLuns([5, 6]);
    buf[16] = 0xc1; // extended addressing (a well-known LUN)
    expect(decodeReportLuns(buf).otherLuns).toHaveLength(1);
  });

  it('refuses a list length that is not a multiple of 8', () => {
    expect(() => decodeReportLuns(Buffer.from([0, 0, 0, 7, 0, 0, 0, 0]))).toThrow(ScsiDecodeError);
  });

  it('throws only ScsiDecodeError on hostile bytes', () => {
    expectOnlyDecodeErrors(decodeReportLuns, arbLuns.map(encodeReportLuns));
  });
});
