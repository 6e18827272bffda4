import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeStandardInquiry,
  encodeStandardInquiry,
  type StandardInquiry,
} from '../../../../protocol/scsi/data/inquiry.js';
import { ScsiEncodeError } from '../../../../protocol/scsi/errors.js';
import { expectOnlyDecodeErrors } from '../hostile.js';

const ascii = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });

const arbStandardInquiry: fc.Arbitrary<StandardInquiry> = fc.record({
  qualifier: fc.integer({ min: 0, max: 7 }),
  deviceType: fc.integer({ min: 0, max: 31 }),
  removable: fc.boolean(),
  version: fc.integer({ min: 0, max: 255 }),
  normaca: fc.boolean(),
  hisup: fc.boolean(),
  responseDataFormat: fc.integer({ min: 0, max: 15 }),
  sccs: fc.boolean(),
  acc: fc.boolean(),
  tpgs: fc.integer({ min: 0, max: 3 }),
  thirdPartyCopy: fc.boolean(),
  protect: fc.boolean(),
  encserv: fc.boolean(),
  multip: fc.boolean(),
  cmdque: fc.boolean(),
  vendor: ascii(8),
  product: ascii(16),
  revision: ascii(4),
  versionDescriptors: fc.array(fc.integer({ min: 1, max: 0xffff }), { maxLength: 8 }),
});

describe('standard INQUIRY data', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(arbStandardInquiry, (inq) => {
        const bytes = encodeStandardInquiry(inq);
        expect(bytes.length).toBe(96);
        expect(bytes[4]).toBe(91);
        expect(decodeStandardInquiry(bytes)).toEqual(inq);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes a 36-byte (allocation-length cut) answer without version descriptors', () => {
    fc.assert(
      fc.property(arbStandardInquiry, (inq) => {
        const decoded = decodeStandardInquiry(encodeStandardInquiry(inq).subarray(0, 36));
        expect(decoded).toEqual({ ...inq, versionDescriptors: [] });
      }),
      { numRuns: 50 },
    );
  });

  it('refuses identification strings that are not printable ASCII or too long', () => {
    fc.assert(
      fc.property(arbStandardInquiry, (inq) => {
        expect(() => encodeStandardInquiry({ ...inq, vendor: 'TOO-LONG-VENDOR' })).toThrow(ScsiEncodeError);
        expect(() => encodeStandardInquiry({ ...inq, product: 'caf\u00e9' })).toThrow(ScsiEncodeError);
      }),
      { numRuns: 5 },
    );
  });

  it('throws only ScsiDecodeError on hostile bytes', () => {
    expectOnlyDecodeErrors(decodeStandardInquiry, arbStandardInquiry.map(encodeStandardInquiry));
  });
});
