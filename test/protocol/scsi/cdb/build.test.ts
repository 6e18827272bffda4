import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as cdb from '../../../../protocol/scsi/cdb/build.js';
import { decodeCdb } from '../../../../protocol/scsi/cdb/decode.js';
import type { DecodedCdb } from '../../../../protocol/scsi/cdb/types.js';
import { ScsiDecodeError, ScsiEncodeError } from '../../../../protocol/scsi/errors.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const lba32 = fc.bigInt({ min: 0n, max: 0xffff_ffffn });
const lba64 = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });
const protect = fc.integer({ min: 0, max: 7 });
const group = fc.integer({ min: 0, max: 31 });
const bool = fc.boolean();

/** A builder, an arbitrary of its full input, and the decoded form that input must produce. */
interface Case<T> {
  readonly name: string;
  readonly arb: fc.Arbitrary<T>;
  readonly build: (input: T) => Buffer;
  readonly expected: (input: T) => DecodedCdb;
}

function rwCase(
  kind: 'read' | 'write',
  length: 10 | 12 | 16,
): Case<{
  lba: bigint;
  blocks: number;
  dpo: boolean;
  fua: boolean;
  rarc: boolean;
  protect: number;
  group: number;
}> {
  const build = {
    read: { 10: cdb.read10, 12: cdb.read12, 16: cdb.read16 },
    write: { 10: cdb.write10, 12: cdb.write12, 16: cdb.write16 },
  }[kind][length];
  return {
    name: `${kind}${length}`,
    arb: fc.record({
      lba: length === 16 ? lba64 : lba32,
      blocks: length === 10 ? u16 : u32,
      dpo: bool,
      fua: bool,
      rarc: kind === 'read' ? bool : fc.constant(false),
      protect,
      group,
    }),
    build: (input) => build(input),
    expected: (input) => {
      if (kind === 'read') return { command: 'read', cdbLength: length, ...input };
      const { rarc: _rarc, ...rest } = input;
      return { command: 'write', cdbLength: length, ...rest };
    },
  };
}

const cases: Case<never>[] = [
  {
    name: 'test unit ready',
    arb: fc.constant(undefined),
    build: () => cdb.testUnitReady(),
    expected: () => ({ command: 'test-unit-ready' }),
  },
  {
    name: 'inquiry',
    arb: fc.record({ evpd: bool, pageCode: u8, allocationLength: u16 }),
    build: (i: { evpd: boolean; pageCode: number; allocationLength: number }) => cdb.inquiry(i),
    expected: (i: object) => ({ command: 'inquiry', ...i }) as DecodedCdb,
  },
  {
    name: 'request sense',
    arb: fc.record({ desc: bool, allocationLength: u8 }),
    build: (i: { desc: boolean; allocationLength: number }) => cdb.requestSense(i),
    expected: (i: object) => ({ command: 'request-sense', ...i }) as DecodedCdb,
  },
  {
    name: 'report luns',
    arb: fc.record({ selectReport: u8, allocationLength: u32 }),
    build: (i: { selectReport: number; allocationLength: number }) => cdb.reportLuns(i),
    expected: (i: object) => ({ command: 'report-luns', ...i }) as DecodedCdb,
  },
  {
    name: 'read capacity 10',
    arb: fc.record({ lba: lba32, pmi: bool }),
    build: (i: { lba: bigint; pmi: boolean }) => cdb.readCapacity10(i),
    expected: (i: object) => ({ command: 'read-capacity-10', ...i }) as DecodedCdb,
  },
  {
    name: 'read capacity 16',
    arb: fc.record({ lba: lba64, pmi: bool, allocationLength: u32 }),
    build: (i: { lba: bigint; pmi: boolean; allocationLength: number }) => cdb.readCapacity16(i),
    expected: (i: object) => ({ command: 'read-capacity-16', ...i }) as DecodedCdb,
  },
  {
    name: 'read6',
    arb: fc.record({ lba: fc.bigInt({ min: 0n, max: 0x1f_ffffn }), blocks: fc.integer({ min: 1, max: 256 }) }),
    build: (i: { lba: bigint; blocks: number }) => cdb.read6(i),
    expected: (i: object) =>
      ({
        command: 'read',
        cdbLength: 6,
        dpo: false,
        fua: false,
        rarc: false,
        protect: 0,
        group: 0,
        ...i,
      }) as DecodedCdb,
  },
  {
    name: 'write6',
    arb: fc.record({ lba: fc.bigInt({ min: 0n, max: 0x1f_ffffn }), blocks: fc.integer({ min: 1, max: 256 }) }),
    build: (i: { lba: bigint; blocks: number }) => cdb.write6(i),
    expected: (i: object) =>
      ({ command: 'write', cdbLength: 6, dpo: false, fua: false, protect: 0, group: 0, ...i }) as DecodedCdb,
  },
  ...([10, 12, 16] as const).flatMap((n) => [rwCase('read', n), rwCase('write', n)]),
  ...(['write-and-verify', 'verify'] as const).map((command) => ({
    name: command,
    arb: fc.constantFrom(10 as const, 12 as const, 16 as const).chain((cdbLength) =>
      fc.record({
        cdbLength: fc.constant(cdbLength),
        lba: cdbLength === 16 ? lba64 : lba32,
        blocks: cdbLength === 10 ? u16 : u32,
        dpo: bool,
        bytchk: fc.integer({ min: 0, max: 3 }),
        protect,
        group,
      }),
    ),
    build: (i: Parameters<typeof cdb.verify>[0]) => (command === 'verify' ? cdb.verify(i) : cdb.writeAndVerify(i)),
    expected: (i: object) => ({ command, ...i }) as DecodedCdb,
  })),
  {
    name: 'compare and write',
    arb: fc.record({ lba: lba64, blocks: u8, dpo: bool, fua: bool, protect, group }),
    build: (i: Parameters<typeof cdb.compareAndWrite>[0]) => cdb.compareAndWrite(i),
    expected: (i: object) => ({ command: 'compare-and-write', ...i }) as DecodedCdb,
  },
  {
    name: 'pre-fetch',
    arb: fc.constantFrom(10 as const, 16 as const).chain((cdbLength) =>
      fc.record({
        cdbLength: fc.constant(cdbLength),
        lba: cdbLength === 16 ? lba64 : lba32,
        blocks: cdbLength === 10 ? u16 : u32,
        immed: bool,
        group,
      }),
    ),
    build: (i: Parameters<typeof cdb.preFetch>[0]) => cdb.preFetch(i),
    expected: (i: object) => ({ command: 'pre-fetch', ...i }) as DecodedCdb,
  },
  {
    name: 'synchronize cache',
    arb: fc.constantFrom(10 as const, 16 as const).chain((cdbLength) =>
      fc.record({
        cdbLength: fc.constant(cdbLength),
        lba: cdbLength === 16 ? lba64 : lba32,
        blocks: cdbLength === 10 ? u16 : u32,
        immed: bool,
        syncNv: bool,
        group,
      }),
    ),
    build: (i: Parameters<typeof cdb.synchronizeCache>[0]) => cdb.synchronizeCache(i),
    expected: (i: object) => ({ command: 'synchronize-cache', ...i }) as DecodedCdb,
  },
  {
    name: 'write same',
    arb: fc.constantFrom(10 as const, 16 as const).chain((cdbLength) =>
      fc.record({
        cdbLength: fc.constant(cdbLength),
        lba: cdbLength === 16 ? lba64 : lba32,
        blocks: cdbLength === 10 ? u16 : u32,
        protect,
        anchor: bool,
        unmap: bool,
        ndob: cdbLength === 16 ? bool : fc.constant(false),
        pbdata: bool,
        lbdata: bool,
        group,
      }),
    ),
    build: (i: Parameters<typeof cdb.writeSame>[0]) => cdb.writeSame(i),
    expected: (i: object) => ({ command: 'write-same', ...i }) as DecodedCdb,
  },
  {
    name: 'unmap',
    arb: fc.record({ anchor: bool, group, parameterListLength: u16 }),
    build: (i: Parameters<typeof cdb.unmap>[0]) => cdb.unmap(i),
    expected: (i: object) => ({ command: 'unmap', ...i }) as DecodedCdb,
  },
  {
    name: 'get lba status',
    arb: fc.record({ lba: lba64, allocationLength: u32 }),
    build: (i: Parameters<typeof cdb.getLbaStatus>[0]) => cdb.getLbaStatus(i),
    expected: (i: object) => ({ command: 'get-lba-status', ...i }) as DecodedCdb,
  },
  {
    name: 'mode sense',
    arb: fc.constantFrom(6 as const, 10 as const).chain((cdbLength) =>
      fc.record({
        cdbLength: fc.constant(cdbLength),
        dbd: bool,
        llbaa: cdbLength === 10 ? bool : fc.constant(false),
        pageControl: fc.integer({ min: 0, max: 3 }),
        pageCode: fc.integer({ min: 0, max: 0x3f }),
        subpageCode: u8,
        allocationLength: cdbLength === 6 ? u8 : u16,
      }),
    ),
    build: (i: Parameters<typeof cdb.modeSense>[0]) => cdb.modeSense(i),
    expected: (i: object) => ({ command: 'mode-sense', ...i }) as DecodedCdb,
  },
  {
    name: 'mode select',
    arb: fc.constantFrom(6 as const, 10 as const).chain((cdbLength) =>
      fc.record({
        cdbLength: fc.constant(cdbLength),
        pf: bool,
        sp: bool,
        parameterListLength: cdbLength === 6 ? u8 : u16,
      }),
    ),
    build: (i: Parameters<typeof cdb.modeSelect>[0]) => cdb.modeSelect(i),
    expected: (i: object) => ({ command: 'mode-select', ...i }) as DecodedCdb,
  },
  {
    name: 'start stop unit',
    arb: fc.record({
      immed: bool,
      powerConditionModifier: fc.integer({ min: 0, max: 15 }),
      powerCondition: fc.integer({ min: 0, max: 15 }),
      noFlush: bool,
      loej: bool,
      start: bool,
    }),
    build: (i: Parameters<typeof cdb.startStopUnit>[0]) => cdb.startStopUnit(i),
    expected: (i: object) => ({ command: 'start-stop-unit', ...i }) as DecodedCdb,
  },
  {
    name: 'report supported operation codes',
    arb: fc.record({
      rctd: bool,
      reportingOptions: fc.integer({ min: 0, max: 7 }),
      requestedOpcode: u8,
      requestedServiceAction: u16,
      allocationLength: u32,
    }),
    build: (i: Parameters<typeof cdb.reportSupportedOperationCodes>[0]) => cdb.reportSupportedOperationCodes(i),
    expected: (i: object) => ({ command: 'report-supported-operation-codes', ...i }) as DecodedCdb,
  },
  {
    name: 'persistent reserve in',
    arb: fc.record({ serviceAction: fc.integer({ min: 0, max: 31 }), allocationLength: u16 }),
    build: (i: Parameters<typeof cdb.persistentReserveIn>[0]) => cdb.persistentReserveIn(i),
    expected: (i: object) => ({ command: 'persistent-reserve-in', ...i }) as DecodedCdb,
  },
  {
    name: 'persistent reserve out',
    arb: fc.record({
      serviceAction: fc.integer({ min: 0, max: 31 }),
      scope: fc.integer({ min: 0, max: 15 }),
      type: fc.integer({ min: 0, max: 15 }),
      parameterListLength: u32,
    }),
    build: (i: Parameters<typeof cdb.persistentReserveOut>[0]) => cdb.persistentReserveOut(i),
    expected: (i: object) => ({ command: 'persistent-reserve-out', ...i }) as DecodedCdb,
  },
] as unknown as Case<never>[];

describe('CDB builders', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s round-trips through decodeCdb', (_name, c) => {
    fc.assert(
      fc.property(c.arb, (input) => {
        expect(decodeCdb(c.build(input))).toEqual(c.expected(input));
      }),
      { numRuns: 200 },
    );
  });

  it('puts READ(10) fields where SBC-3 table 70 says', () => {
    const bytes = cdb.read10({ lba: 0x01020304, blocks: 0x0506, dpo: true, fua: true, group: 7 });
    expect([...bytes]).toEqual([0x28, 0x18, 1, 2, 3, 4, 7, 5, 6, 0]);
  });

  it('encodes 256 blocks as 0 in READ(6), as SBC-3 requires', () => {
    expect(cdb.read6({ lba: 0x1fffff, blocks: 256 })).toEqual(Buffer.from([0x08, 0x1f, 0xff, 0xff, 0x00, 0x00]));
  });

  it('refuses values that do not fit their field', () => {
    expect(() => cdb.read6({ lba: 0x200000, blocks: 1 })).toThrow(ScsiEncodeError);
    expect(() => cdb.read6({ lba: 0, blocks: 0 })).toThrow(ScsiEncodeError);
    expect(() => cdb.read10({ lba: 0x1_0000_0000n, blocks: 1 })).toThrow(ScsiEncodeError);
    expect(() => cdb.read10({ lba: 0, blocks: 0x10000 })).toThrow(ScsiEncodeError);
    expect(() => cdb.read16({ lba: -1, blocks: 1 })).toThrow(ScsiEncodeError);
    expect(() => cdb.read16({ lba: 1.5, blocks: 1 })).toThrow(ScsiEncodeError);
    expect(() => cdb.compareAndWrite({ lba: 0, blocks: 256 })).toThrow(ScsiEncodeError);
    expect(() => cdb.writeSame({ cdbLength: 10, lba: 0, blocks: 1, ndob: true })).toThrow(ScsiEncodeError);
    expect(() => cdb.modeSense({ cdbLength: 6, pageCode: 0x40 })).toThrow(ScsiEncodeError);
  });
});

describe('decodeCdb', () => {
  it('throws only ScsiDecodeError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), (bytes) => {
        try {
          decodeCdb(Buffer.from(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(ScsiDecodeError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('reports unknown operation codes and service actions without throwing', () => {
    expect(decodeCdb(Buffer.from([0x37, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toEqual({ command: 'unknown', opcode: 0x37 });
    expect(decodeCdb(Buffer.concat([Buffer.from([0x9e, 0x11]), Buffer.alloc(14)]))).toEqual({
      command: 'unknown',
      opcode: 0x9e,
      serviceAction: 0x11,
    });
  });

  it('refuses a CDB shorter than its group code says', () => {
    expect(() => decodeCdb(Buffer.from([0x28, 0, 0]))).toThrow(ScsiDecodeError);
  });
});
