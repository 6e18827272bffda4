import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLbaStatus, encodeLbaStatus } from '../../../../protocol/scsi/data/lba-status.js';
import { expectOnlyDecodeErrors } from '../hostile.js';

const arbDescriptors = fc.array(
  fc.record({
    lba: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
    blocks: fc.integer({ min: 0, max: 0xffff_ffff }),
    status: fc.integer({ min: 0, max: 15 }),
  }),
  { maxLength: 10 },
);

describe('GET LBA STATUS data', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(arbDescriptors, (descriptors) => {
        expect(decodeLbaStatus(encodeLbaStatus(descriptors))).toEqual({
          parameterDataLength: 4 + 16 * descriptors.length,
          descriptors,
        });
      }),
    );
  });

  it('throws only ScsiDecodeError on hostile bytes', () => {
    expectOnlyDecodeErrors(decodeLbaStatus, arbDescriptors.map(encodeLbaStatus));
  });
});
