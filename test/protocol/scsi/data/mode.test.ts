import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeCachingPage,
  decodeControlPage,
  decodeModeParameters,
  encodeModeParameters,
  type ModeParameters,
} from '../../../../protocol/scsi/data/mode.js';
import { ScsiDecodeError, ScsiEncodeError } from '../../../../protocol/scsi/errors.js';
import { expectOnlyDecodeErrors } from '../hostile.js';

const arbPage = fc.oneof(
  fc.record({
    pageCode: fc.integer({ min: 0, max: 0x3e }),
    subpageCode: fc.constant(0),
    spf: fc.constant(false),
    ps: fc.boolean(),
    data: fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
  }),
  fc.record({
    pageCode: fc.integer({ min: 0, max: 0x3e }),
    subpageCode: fc.integer({ min: 0, max: 255 }),
    spf: fc.constant(true),
    ps: fc.boolean(),
    data: fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
  }),
);

function arbParams(cdbLength: 6 | 10): fc.Arbitrary<ModeParameters> {
  return fc.boolean().chain((long) => {
    const longLba = cdbLength === 10 && long;
    return fc.record({
      mediumType: fc.integer({ min: 0, max: 255 }),
      deviceSpecific: fc.integer({ min: 0, max: 255 }),
      longLba: fc.constant(longLba),
      blockDescriptors: fc.array(
        fc.record({
          blocks: longLba
            ? fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn })
            : fc.bigInt({ min: 0n, max: 0xffff_ffffn }),
          blockLength: fc.integer({ min: 0, max: longLba ? 0xffff_ffff : 0xff_ffff }),
        }),
        { maxLength: 2 },
      ),
      pages: fc.array(arbPage, { maxLength: 4 }),
    });
  });
}

describe('mode parameter lists', () => {
  for (const cdbLength of [6, 10] as const) {
    it(`round-trip for ${cdbLength}-byte CDBs, with page offsets`, () => {
      fc.assert(
        fc.property(arbParams(cdbLength), fc.boolean(), (params, forSelect) => {
          const bytes = encodeModeParameters(params, cdbLength, forSelect);
          const decoded = decodeModeParameters(bytes, cdbLength, forSelect);
          expect(decoded.truncated).toBe(false);
          expect(decoded.modeDataLength).toBe(forSelect ? 0 : bytes.length - (cdbLength === 6 ? 1 : 2));
          expect({ ...decoded, pages: decoded.pages.map(({ offset: _offset, ...page }) => page) }).toMatchObject(
            params,
          );
          for (const page of decoded.pages) expect(bytes[page.offset]! & 0x3f).toBe(page.pageCode);
        }),
        { numRuns: 300 },
      );
    });

    it(`flags a list cut inside a page (${cdbLength})`, () => {
      const params: ModeParameters = {
        mediumType: 0,
        deviceSpecific: 0,
        longLba: false,
        blockDescriptors: [],
        pages: [{ pageCode: 8, subpageCode: 0, spf: false, ps: false, data: Buffer.alloc(18) }],
      };
      const bytes = encodeModeParameters(params, cdbLength, true);
      const decoded = decodeModeParameters(bytes.subarray(0, bytes.length - 1), cdbLength, true);
      expect(decoded.truncated).toBe(true);
      expect(decoded.pages).toHaveLength(0);
    });
  }

  it('refuses what a 6-byte header cannot say', () => {
    const params: ModeParameters = { mediumType: 0, deviceSpecific: 0, longLba: true, blockDescriptors: [], pages: [] };
    expect(() => encodeModeParameters(params, 6)).toThrow(ScsiEncodeError);
  });

  it('refuses a block descriptor length that is not a whole number of descriptors', () => {
    expect(() => decodeModeParameters(Buffer.from([3, 0, 0, 5, 0, 0, 0, 0, 0]), 6)).toThrow(ScsiDecodeError);
  });

  it('reads the caching and control pages', () => {
    const caching = {
      pageCode: 8,
      subpageCode: 0,
      spf: false,
      ps: false,
      data: Buffer.from([0x04, ...Buffer.alloc(17)]),
    };
    expect(decodeCachingPage(caching)).toEqual({ wce: true, rcd: false });
    const control = {
      pageCode: 0x0a,
      subpageCode: 0,
      spf: false,
      ps: false,
      data: Buffer.from([0x06, 0x10, 0x08, 0x40, 0, 0, 0xff, 0xff, 0, 0]),
    };
    expect(decodeControlPage(control)).toEqual({
      tst: 0,
      dSense: true,
      queueAlgorithmModifier: 1,
      qerr: 0,
      swp: true,
      tas: true,
      busyTimeoutPeriod: 0xffff,
    });
  });

  it('throws only ScsiDecodeError on hostile bytes', () => {
    for (const cdbLength of [6, 10] as const) {
      expectOnlyDecodeErrors(
        (b) => decodeModeParameters(b, cdbLength),
        arbParams(cdbLength).map((p) => encodeModeParameters(p, cdbLength)),
      );
      expectOnlyDecodeErrors((b) => decodeModeParameters(b, cdbLength, true));
    }
  });
});
