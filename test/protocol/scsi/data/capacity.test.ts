import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeReadCapacity10,
  decodeReadCapacity16,
  encodeReadCapacity10,
  encodeReadCapacity16,
} from '../../../../protocol/scsi/data/capacity.js';
import { expectOnlyDecodeErrors } from '../hostile.js';

const arbRc16 = fc.record({
  returnedLba: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
  blockLength: fc.integer({ min: 0, max: 0xffff_ffff }),
  protectionType: fc.integer({ min: 0, max: 7 }),
  protectionEnabled: fc.boolean(),
  protectionIntervalExponent: fc.integer({ min: 0, max: 15 }),
  lbppbe: fc.integer({ min: 0, max: 15 }),
  lbpme: fc.boolean(),
  lbprz: fc.boolean(),
  lowestAlignedLba: fc.integer({ min: 0, max: 0x3fff }),
});

describe('READ CAPACITY data', () => {
  it('round-trips (10)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff }), (lba, len) => {
        expect(decodeReadCapacity10(encodeReadCapacity10({ returnedLba: lba, blockLength: len }))).toEqual({
          returnedLba: lba,
          blockLength: len,
        });
      }),
    );
  });

  it('round-trips (16) and puts LBPME/LBPRZ in byte 14', () => {
    fc.assert(
      fc.property(arbRc16, (rc) => {
        expect(decodeReadCapacity16(encodeReadCapacity16(rc))).toEqual(rc);
      }),
    );
    const bytes = encodeReadCapacity16({
      returnedLba: 99n,
      blockLength: 512,
      protectionType: 0,
      protectionEnabled: false,
      protectionIntervalExponent: 0,
      lbppbe: 3,
      lbpme: true,
      lbprz: true,
      lowestAlignedLba: 0,
    });
    expect([...bytes.subarray(8, 16)]).toEqual([0, 0, 2, 0, 0, 3, 0xc0, 0]);
  });

  it('throws only ScsiDecodeError on hostile bytes', () => {
    expectOnlyDecodeErrors(decodeReadCapacity10);
    expectOnlyDecodeErrors(decodeReadCapacity16, arbRc16.map(encodeReadCapacity16));
  });
});
