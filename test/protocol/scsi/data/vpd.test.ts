import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBlockDeviceCharacteristics,
  decodeBlockLimits,
  decodeDeviceIdentification,
  decodeLogicalBlockProvisioning,
  decodeSupportedVpdPages,
  decodeUnitSerialNumber,
  decodeVpdHeader,
  encodeBlockDeviceCharacteristics,
  encodeBlockLimits,
  encodeDeviceIdentification,
  encodeLogicalBlockProvisioning,
  encodeSupportedVpdPages,
  encodeUnitSerialNumber,
} from '../../../../protocol/scsi/data/vpd.js';
import { ScsiDecodeError } from '../../../../protocol/scsi/errors.js';
import { expectOnlyDecodeErrors } from '../hostile.js';

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

const arbDesignator = fc.record({
  protocolIdentifier: fc.integer({ min: 0, max: 15 }),
  codeSet: fc.integer({ min: 0, max: 15 }),
  piv: fc.boolean(),
  association: fc.integer({ min: 0, max: 3 }),
  designatorType: fc.integer({ min: 0, max: 15 }),
  designator: bytes(40),
});

const arbBlockLimits = fc.record({
  wsnz: fc.boolean(),
  maxCompareAndWriteLength: fc.integer({ min: 0, max: 255 }),
  optimalTransferLengthGranularity: fc.integer({ min: 0, max: 0xffff }),
  maxTransferLength: u32,
  optimalTransferLength: u32,
  maxPrefetchLength: u32,
  maxUnmapLbaCount: u32,
  maxUnmapBlockDescriptorCount: u32,
  optimalUnmapGranularity: u32,
  unmapGranularityAlignmentValid: fc.boolean(),
  unmapGranularityAlignment: fc.integer({ min: 0, max: 0x7fff_ffff }),
  maxWriteSameLength: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
});

const arbCharacteristics = fc.record({
  mediumRotationRate: fc.integer({ min: 0, max: 0xffff }),
  productType: fc.integer({ min: 0, max: 255 }),
  wabereq: fc.integer({ min: 0, max: 3 }),
  wacereq: fc.integer({ min: 0, max: 3 }),
  nominalFormFactor: fc.integer({ min: 0, max: 15 }),
  fuab: fc.boolean(),
  vbuls: fc.boolean(),
});

const arbProvisioning = fc.record({
  thresholdExponent: fc.integer({ min: 0, max: 255 }),
  lbpu: fc.boolean(),
  lbpws: fc.boolean(),
  lbpws10: fc.boolean(),
  lbprz: fc.boolean(),
  anchorSupported: fc.boolean(),
  dp: fc.boolean(),
  provisioningType: fc.integer({ min: 0, max: 7 }),
});

describe('VPD pages', () => {
  it('round-trip', () => {
    const runs = { numRuns: 200 };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), (pages) => {
        expect(decodeSupportedVpdPages(encodeSupportedVpdPages([...pages]))).toEqual([...pages]);
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('A', 'z', '0', '-', '.'), maxLength: 40 }), (serial) => {
        expect(decodeUnitSerialNumber(encodeUnitSerialNumber(serial))).toBe(serial);
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.array(arbDesignator, { maxLength: 6 }), (ds) => {
        expect(decodeDeviceIdentification(encodeDeviceIdentification(ds))).toEqual(ds);
      }),
      runs,
    );
    fc.assert(
      fc.property(arbBlockLimits, (bl) => {
        const page = encodeBlockLimits(bl);
        expect(page.length).toBe(64);
        expect(decodeBlockLimits(page)).toEqual(bl);
      }),
      runs,
    );
    fc.assert(
      fc.property(arbCharacteristics, (c) => {
        expect(decodeBlockDeviceCharacteristics(encodeBlockDeviceCharacteristics(c))).toEqual(c);
      }),
      runs,
    );
    fc.assert(
      fc.property(arbProvisioning, (p) => {
        expect(decodeLogicalBlockProvisioning(encodeLogicalBlockProvisioning(p))).toEqual(p);
      }),
      runs,
    );
  });

  it('write the header: qualifier/type byte, page code, page length', () => {
    const page = encodeUnitSerialNumber('ABC', 0x7f);
    expect(decodeVpdHeader(page)).toEqual({ qualifier: 3, deviceType: 0x1f, pageCode: 0x80, pageLength: 3 });
  });

  it('refuse a page with another page code', () => {
    expect(() => decodeBlockLimits(encodeUnitSerialNumber('x'))).toThrow(ScsiDecodeError);
  });

  it('drop a designator the allocation length cut', () => {
    const page = encodeDeviceIdentification([
      {
        protocolIdentifier: 0,
        codeSet: 1,
        piv: false,
        association: 0,
        designatorType: 3,
        designator: Buffer.alloc(8, 1),
      },
      {
        protocolIdentifier: 0,
        codeSet: 2,
        piv: false,
        association: 0,
        designatorType: 1,
        designator: Buffer.alloc(8, 2),
      },
    ]);
    expect(decodeDeviceIdentification(page.subarray(0, page.length - 1))).toHaveLength(1);
  });

  it('throw only ScsiDecodeError on hostile bytes', () => {
    expectOnlyDecodeErrors(decodeSupportedVpdPages);
    expectOnlyDecodeErrors(decodeUnitSerialNumber);
    expectOnlyDecodeErrors(
      decodeDeviceIdentification,
      fc.array(arbDesignator, { maxLength: 4 }).map((d) => encodeDeviceIdentification(d)),
    );
    expectOnlyDecodeErrors(
      decodeBlockLimits,
      arbBlockLimits.map((b) => encodeBlockLimits(b)),
    );
    expectOnlyDecodeErrors(
      decodeBlockDeviceCharacteristics,
      arbCharacteristics.map((c) => encodeBlockDeviceCharacteristics(c)),
    );
    expectOnlyDecodeErrors(
      decodeLogicalBlockProvisioning,
      arbProvisioning.map((p) => encodeLogicalBlockProvisioning(p)),
    );
  });
});
