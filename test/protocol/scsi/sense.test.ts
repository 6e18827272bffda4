import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScsiDecodeError, ScsiEncodeError } from '../../../protocol/scsi/errors.js';
import { AdditionalSense, SenseKey } from '../../../protocol/scsi/sense-codes.js';
import {
  decodeSense,
  describeSense,
  encodeSense,
  senseData,
  type SenseData,
  type SenseKeySpecific,
} from '../../../protocol/scsi/sense.js';

/** A sense-key-specific value of the kind the decoder infers from `key`. */
function arbSks(key: number): fc.Arbitrary<SenseKeySpecific> {
  switch (key) {
    case SenseKey.IllegalRequest:
      return fc.record(
        {
          kind: fc.constant('field-pointer' as const),
          inCdb: fc.boolean(),
          bitPointer: fc.integer({ min: 0, max: 7 }),
          fieldPointer: fc.integer({ min: 0, max: 0xffff }),
        },
        { requiredKeys: ['kind', 'inCdb', 'fieldPointer'] },
      );
    case SenseKey.NotReady:
    case SenseKey.NoSense:
      return fc.record({ kind: fc.constant('progress' as const), progress: fc.integer({ min: 0, max: 0xffff }) });
    case SenseKey.RecoveredError:
    case SenseKey.MediumError:
    case SenseKey.HardwareError:
      return fc.record({ kind: fc.constant('retry-count' as const), count: fc.integer({ min: 0, max: 0xffff }) });
    default:
      return fc.record({ kind: fc.constant('raw' as const), value: fc.integer({ min: 0, max: 0x7f_ffff }) });
  }
}

const arbFixed: fc.Arbitrary<SenseData> = fc.integer({ min: 0, max: 15 }).chain((key) =>
  fc.record(
    {
      format: fc.constant('fixed' as const),
      deferred: fc.boolean(),
      key: fc.constant(key),
      asc: fc.integer({ min: 0, max: 255 }),
      ascq: fc.integer({ min: 0, max: 255 }),
      information: fc.bigInt({ min: 0n, max: 0xffff_ffffn }),
      commandSpecific: fc.bigInt({ min: 1n, max: 0xffff_ffffn }),
      senseKeySpecific: arbSks(key),
      fru: fc.integer({ min: 1, max: 255 }),
      filemark: fc.boolean(),
      eom: fc.boolean(),
      ili: fc.boolean(),
    },
    { requiredKeys: ['format', 'deferred', 'key', 'asc', 'ascq', 'filemark', 'eom', 'ili'] },
  ),
);

const arbDescriptor: fc.Arbitrary<SenseData> = fc.integer({ min: 0, max: 15 }).chain((key) =>
  fc.record(
    {
      format: fc.constant('descriptor' as const),
      deferred: fc.boolean(),
      key: fc.constant(key),
      asc: fc.integer({ min: 0, max: 255 }),
      ascq: fc.integer({ min: 0, max: 255 }),
      information: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
      commandSpecific: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
      senseKeySpecific: arbSks(key),
      fru: fc.integer({ min: 1, max: 255 }),
      filemark: fc.boolean(),
      eom: fc.boolean(),
      ili: fc.boolean(),
      otherDescriptors: fc.array(
        fc.record({
          type: fc.integer({ min: 6, max: 255 }),
          data: fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    },
    { requiredKeys: ['format', 'deferred', 'key', 'asc', 'ascq', 'filemark', 'eom', 'ili'] },
  ),
);

describe('sense data', () => {
  it('round-trips fixed format', () => {
    fc.assert(
      fc.property(arbFixed, (sense) => {
        const bytes = encodeSense(sense);
        expect(bytes.length).toBe(18);
        expect(decodeSense(bytes)).toEqual(sense);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips descriptor format', () => {
    fc.assert(
      fc.property(arbDescriptor, (sense) => {
        expect(decodeSense(encodeSense(sense))).toEqual(sense);
      }),
      { numRuns: 500 },
    );
  });

  it('lays out a fixed-format ILLEGAL REQUEST with a field pointer as SPC-4 table 53 says', () => {
    const bytes = encodeSense(
      senseData({
        key: SenseKey.IllegalRequest,
        asc: 0x24,
        ascq: 0x00,
        senseKeySpecific: { kind: 'field-pointer', inCdb: true, bitPointer: 7, fieldPointer: 1 },
      }),
    );
    expect([...bytes]).toEqual([0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0xcf, 0x00, 0x01]);
  });

  it('lays out a descriptor-format MISCOMPARE with the information descriptor first', () => {
    const bytes = encodeSense(
      senseData({ key: SenseKey.Miscompare, asc: 0x1d, ascq: 0, information: 0x1234n }, 'descriptor'),
    );
    expect([...bytes]).toEqual([0x72, 0x0e, 0x1d, 0, 0, 0, 0, 12, 0x00, 0x0a, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34]);
  });

  it('refuses an information value a fixed-format field cannot hold', () => {
    const sense = senseData({ key: SenseKey.Miscompare, asc: 0x1d, ascq: 0, information: 1n << 32n });
    expect(() => encodeSense(sense)).toThrow(ScsiEncodeError);
  });

  it('reads short fixed-format sense (ADDITIONAL SENSE LENGTH cut) without inventing fields', () => {
    const bytes = Buffer.from([0xf0, 0, 0x06, 0, 0, 0, 7, 0]);
    const sense = decodeSense(bytes);
    expect(sense).toMatchObject({ key: SenseKey.UnitAttention, asc: 0, ascq: 0, information: 7n });
    expect(sense.senseKeySpecific).toBeUndefined();
  });

  it('throws only ScsiDecodeError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeSense(Buffer.from(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(ScsiDecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('throws only ScsiDecodeError on mutated valid sense data', () => {
    fc.assert(
      fc.property(
        fc.oneof(arbFixed, arbDescriptor),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (sense, mutations, cut) => {
          const bytes = Buffer.from(encodeSense(sense));
          for (const [at, value] of mutations) bytes[at % bytes.length] = value;
          try {
            decodeSense(bytes.subarray(0, cut % (bytes.length + 1)));
          } catch (err) {
            expect(err).toBeInstanceOf(ScsiDecodeError);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('rejects response codes other than 70h-73h', () => {
    expect(() => decodeSense(Buffer.from([0x7f, 0, 0, 0, 0, 0, 0, 0]))).toThrow(ScsiDecodeError);
    expect(() => decodeSense(Buffer.alloc(0))).toThrow(ScsiDecodeError);
  });

  it('describes sense data for people', () => {
    const sense = senseData({
      key: SenseKey.IllegalRequest,
      asc: AdditionalSense.InvalidFieldInCdb >> 8,
      ascq: 0,
      senseKeySpecific: { kind: 'field-pointer', inCdb: true, fieldPointer: 2 },
    });
    expect(describeSense(sense)).toBe('IllegalRequest InvalidFieldInCdb (CDB byte 2)');
  });
});
