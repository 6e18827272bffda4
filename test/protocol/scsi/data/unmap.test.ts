import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUnmapParameterList, encodeUnmapParameterList } from '../../../../protocol/scsi/data/unmap.js';
import { ScsiEncodeError } from '../../../../protocol/scsi/errors.js';
import { expectOnlyDecodeErrors } from '../hostile.js';

const arbDescriptors = fc.array(
  fc.record({
    lba: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
    blocks: fc.integer({ min: 0, max: 0xffff_ffff }),
  }),
  { maxLength: 20 },
);

describe('UNMAP parameter list', () => {
  it('round-trips with consistent lengths', () => {
    fc.assert(
      fc.property(arbDescriptors, (descriptors) => {
        const bytes = encodeUnmapParameterList(descriptors);
        expect(decodeUnmapParameterList(bytes)).toEqual({
          dataLength: bytes.length - 2,
          descriptorDataLength: bytes.length - 8,
          descriptors,
        });
      }),
    );
  });

  it('refuses descriptors that do not fit', () => {
    expect(() => encodeUnmapParameterList([{ lba: -1n, blocks: 1 }])).toThrow(ScsiEncodeError);
    expect(() => encodeUnmapParameterList([{ lba: 0n, blocks: 2 ** 32 }])).toThrow(ScsiEncodeError);
  });

  it('throws only ScsiDecodeError on hostile bytes', () => {
    expectOnlyDecodeErrors(decodeUnmapParameterList, arbDescriptors.map(encodeUnmapParameterList));
  });
});
