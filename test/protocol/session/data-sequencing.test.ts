import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  commandDataViolation,
  commandFinalBit,
  dataInPlan,
  dataOutPlan,
  r2tRanges,
  segmentTransfer,
  unsolicitedEnd,
  unsolicitedLengths,
  unsolicitedLengthsViolation,
  type DataPduPlan,
  type UnsolicitedParams,
} from '../../../protocol/session/data-sequencing.js';
import {
  ChunkCursor,
  copyChunksInto,
  sliceChunks,
  totalLength,
} from '../../../protocol/session/data-sequencing-chunks.js';

const MAX_DSL = 0xffffff;

/** Every legal combination of the keys the unsolicited rules read (FirstBurstLength ≤ MaxBurstLength). */
const arbParams = fc
  .record({
    immediateData: fc.boolean(),
    initialR2T: fc.boolean(),
    maxBurstLength: fc.integer({ min: 512, max: MAX_DSL }),
    burstFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    initiatorMrdsl: fc.integer({ min: 512, max: MAX_DSL }),
    targetMrdsl: fc.integer({ min: 512, max: MAX_DSL }),
  })
  .map((r) => ({
    immediateData: r.immediateData,
    initialR2T: r.initialR2T,
    maxBurstLength: r.maxBurstLength,
    firstBurstLength: Math.max(512, Math.floor(r.maxBurstLength * r.burstFraction)),
    maxRecvDataSegmentLength: { initiator: r.initiatorMrdsl, target: r.targetMrdsl },
  }));

const arbEdtl = fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }));

/** Throws (once, with a message) unless `plans` cut [offset, offset+length) by the rules; plain checks keep it fast. */
function checkPlan(
  plans: readonly DataPduPlan[],
  offset: number,
  length: number,
  maxSeg: number,
  maxBurst: number,
  firstSN: number,
): void {
  const fail = (i: number, why: string): never => {
    throw new Error(`PDU ${i} of ${plans.length}: ${why} (${JSON.stringify(plans[i])})`);
  };
  let at = offset;
  let inBurst = 0;
  plans.forEach((p, i) => {
    if (p.bufferOffset !== at) fail(i, `offset should be ${at}`);
    if (p.length <= 0 || p.length > maxSeg) fail(i, `length outside 1..${maxSeg}`);
    if (p.dataSN !== (firstSN + i) >>> 0) fail(i, 'DataSN not consecutive');
    at += p.length;
    inBurst += p.length;
    if (inBurst > maxBurst) fail(i, `burst exceeds ${maxBurst}`);
    // F exactly where a burst is full or the transfer ends; no short PDU before a burst end.
    const shouldEnd = inBurst === maxBurst || at === offset + length;
    if (p.final !== shouldEnd) fail(i, `F should be ${shouldEnd}`);
    if (!p.final && p.length !== Math.min(maxSeg, maxBurst - (inBurst - p.length))) fail(i, 'short PDU mid-burst');
    if (p.final) inBurst = 0;
  });
  expect(at).toBe(offset + length);
  if (length > 0) expect(plans.at(-1)?.final).toBe(true);
}

describe('unsolicitedLengths', () => {
  it('RFC 7143 defaults: 8 KiB immediate, no unsolicited Data-Out', () => {
    const params: UnsolicitedParams = {
      immediateData: true,
      initialR2T: true,
      firstBurstLength: 65536,
      maxRecvDataSegmentLength: { initiator: 8192, target: 8192 },
    };
    expect(unsolicitedLengths(params, 1 << 20)).toEqual({ immediateLength: 8192, unsolicitedDataOutLength: 0 });
    expect(unsolicitedLengths({ ...params, initialR2T: false }, 1 << 20)).toEqual({
      immediateLength: 8192,
      unsolicitedDataOutLength: 65536 - 8192,
    });
    expect(unsolicitedLengths({ ...params, immediateData: false, initialR2T: false }, 1000)).toEqual({
      immediateLength: 0,
      unsolicitedDataOutLength: 1000,
    });
    expect(unsolicitedLengths({ ...params, immediateData: false }, 1000)).toEqual({
      immediateLength: 0,
      unsolicitedDataOutLength: 0,
    });
  });

  it('sends as much unsolicited data as allowed and never more, in every parameter combination', () => {
    fc.assert(
      fc.property(arbParams, arbEdtl, (params, edtl) => {
        const lengths = unsolicitedLengths(params, edtl);
        const { immediateLength, unsolicitedDataOutLength } = lengths;
        const firstBurst = Math.min(edtl, params.firstBurstLength);
        expect(immediateLength).toBe(
          params.immediateData ? Math.min(firstBurst, params.maxRecvDataSegmentLength.target) : 0,
        );
        expect(immediateLength + unsolicitedDataOutLength).toBe(params.initialR2T ? immediateLength : firstBurst);
        expect(unsolicitedLengthsViolation(params, edtl, lengths)).toBeUndefined();
        expect(commandFinalBit(lengths)).toBe(unsolicitedDataOutLength === 0);
        // The target, reading the command PDU, expects unsolicited data to end exactly where the initiator stops.
        const end = unsolicitedEnd(params, {
          expectedDataTransferLength: edtl,
          immediateLength,
          final: commandFinalBit(lengths),
        });
        expect(end).toBe(immediateLength + unsolicitedDataOutLength);
      }),
      { numRuns: 500 },
    );
  });

  it('names the rule an initiator breaks', () => {
    const params: UnsolicitedParams = {
      immediateData: false,
      initialR2T: true,
      firstBurstLength: 4096,
      maxRecvDataSegmentLength: { initiator: 8192, target: 2048 },
    };
    expect(unsolicitedLengthsViolation(params, 10000, { immediateLength: 1, unsolicitedDataOutLength: 0 })).toMatch(
      /ImmediateData=No/,
    );
    expect(unsolicitedLengthsViolation(params, 10000, { immediateLength: 0, unsolicitedDataOutLength: 1 })).toMatch(
      /InitialR2T=Yes/,
    );
    const open = { ...params, immediateData: true, initialR2T: false };
    expect(unsolicitedLengthsViolation(open, 10000, { immediateLength: 2049, unsolicitedDataOutLength: 0 })).toMatch(
      /MaxRecvDataSegmentLength/,
    );
    expect(unsolicitedLengthsViolation(open, 10000, { immediateLength: 2048, unsolicitedDataOutLength: 2049 })).toMatch(
      /FirstBurstLength/,
    );
    expect(unsolicitedLengthsViolation(open, 100, { immediateLength: 100, unsolicitedDataOutLength: 1 })).toMatch(
      /exceed the write/,
    );
    expect(unsolicitedLengthsViolation(open, 100, { immediateLength: -1, unsolicitedDataOutLength: 0 })).toMatch(
      /non-negative/,
    );
  });

  it("a command's write data must be EDTL bytes (or none), then follow the unsolicited rules", () => {
    const params: UnsolicitedParams = {
      immediateData: true,
      initialR2T: false,
      firstBurstLength: 4096,
      maxRecvDataSegmentLength: { initiator: 8192, target: 2048 },
    };
    const none = { immediateLength: 0, unsolicitedDataOutLength: 0 };
    expect(commandDataViolation(params, 4096, 4095, none)).toMatch(/writeData holds 4095 bytes but EDTL is 4096/);
    expect(commandDataViolation(params, 4096, 0, none)).toBeUndefined(); // a read: no write data
    expect(commandDataViolation(params, 4096, 4096, none)).toBeUndefined();
    expect(commandDataViolation(params, 4096, 4096, { immediateLength: 2049, unsolicitedDataOutLength: 0 })).toMatch(
      /MaxRecvDataSegmentLength/,
    );
  });

  it('target: rejects commands that break the unsolicited rules', () => {
    const params: UnsolicitedParams = {
      immediateData: false,
      initialR2T: true,
      firstBurstLength: 4096,
      maxRecvDataSegmentLength: { initiator: 8192, target: 8192 },
    };
    const cmd = { expectedDataTransferLength: 10000, immediateLength: 0, final: true };
    expect(unsolicitedEnd(params, cmd)).toBe(0);
    expect(unsolicitedEnd(params, { ...cmd, immediateLength: 10 })).toMatch(/ImmediateData=No/);
    expect(unsolicitedEnd(params, { ...cmd, final: false })).toMatch(/InitialR2T=Yes/);
    const open = { ...params, immediateData: true, initialR2T: false };
    expect(unsolicitedEnd(open, { ...cmd, immediateLength: 10001 })).toMatch(/exceeds EDTL/);
    expect(unsolicitedEnd(open, { ...cmd, immediateLength: 4097 })).toMatch(/FirstBurstLength/);
    expect(unsolicitedEnd(open, { ...cmd, immediateLength: 4096, final: false })).toMatch(/no unsolicited data/);
    expect(unsolicitedEnd(open, { ...cmd, immediateLength: 100, final: false })).toBe(4096);
  });
});

describe('segmentTransfer and the Data-In / Data-Out / R2T plans', () => {
  it('covers exactly the bytes, within every limit, F at each sequence end, DataSN consecutive', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 64, max: 70_000 }),
        fc.integer({ min: 1, max: 300_000 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (offset, length, maxSeg, maxBurst, firstSN) => {
          const plans = [
            ...segmentTransfer({
              offset,
              length,
              maxSegmentLength: maxSeg,
              maxBurstLength: maxBurst,
              firstDataSN: firstSN,
            }),
          ];
          checkPlan(plans, offset, length, maxSeg, maxBurst, firstSN);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('Data-In uses the initiator’s MaxRecvDataSegmentLength and MaxBurstLength; Data-Out the target’s, one sequence from DataSN 0', () => {
    fc.assert(
      fc.property(
        arbParams,
        fc.integer({ min: 0, max: 1 << 20 }),
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 0, max: 1000 }),
        (params, offset, length, firstSN) => {
          const full = {
            ...params,
            maxRecvDataSegmentLength: {
              initiator: Math.min(params.maxRecvDataSegmentLength.initiator, 20_000),
              target: Math.min(params.maxRecvDataSegmentLength.target, 20_000),
            },
          };
          const dataIn = [...dataInPlan(full, offset, length, firstSN)];
          checkPlan(dataIn, offset, length, full.maxRecvDataSegmentLength.initiator, full.maxBurstLength, firstSN);
          const dataOut = [...dataOutPlan(full, offset, length)];
          checkPlan(dataOut, offset, length, full.maxRecvDataSegmentLength.target, Math.max(1, length), 0);
          expect(dataOut.filter((p) => p.final)).toHaveLength(length > 0 ? 1 : 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('tiny limits force many PDUs (512-byte segments)', () => {
    const plans = [
      ...segmentTransfer({
        offset: 0,
        length: 4096,
        maxSegmentLength: 512,
        maxBurstLength: 1536,
        firstDataSN: 0xfffffffe,
      }),
    ];
    expect(plans.map((p) => p.length)).toEqual(Array(8).fill(512));
    expect(plans.map((p) => p.final)).toEqual([false, false, true, false, false, true, false, true]);
    expect(plans.map((p) => p.dataSN)).toEqual([0xfffffffe, 0xffffffff, 0, 1, 2, 3, 4, 5]);
  });

  it('refuses non-positive limits', () => {
    expect(() => [
      ...segmentTransfer({ offset: 0, length: 1, maxSegmentLength: 0, maxBurstLength: 1, firstDataSN: 0 }),
    ]).toThrow(RangeError);
    expect(() => [...r2tRanges({ maxBurstLength: 0 }, 0, 1)]).toThrow(RangeError);
  });

  it('R2T ranges cover exactly the bytes asked, each at most MaxBurstLength', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 512, max: MAX_DSL }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 0, max: 2 ** 24 }),
        (maxBurstLength, offset, length) => {
          let at = offset;
          let count = 0;
          for (const r of r2tRanges({ maxBurstLength }, offset, length)) {
            if (r.offset !== at || r.length <= 0 || r.length > maxBurstLength) {
              throw new Error(`bad R2T range ${JSON.stringify(r)} at ${at}`);
            }
            at += r.length;
            count++;
          }
          expect(at).toBe(offset + length);
          expect(count).toBe(Math.ceil(length / maxBurstLength));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('chunk helpers', () => {
  const arbChunkList = fc.array(
    fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
    { maxLength: 8 },
  );

  it('sliceChunks and ChunkCursor give views of exactly the asked bytes', () => {
    fc.assert(
      fc.property(
        arbChunkList,
        fc.nat(200),
        fc.nat(200),
        fc.array(fc.nat(50), { maxLength: 10 }),
        (chunks, offset, length, steps) => {
          const whole = Buffer.concat(chunks);
          expect(Buffer.concat(sliceChunks(chunks, offset, length))).toEqual(whole.subarray(offset, offset + length));
          const cursor = new ChunkCursor(chunks);
          let at = 0;
          for (const step of steps) {
            const taken = cursor.take(step);
            expect(Buffer.concat(taken)).toEqual(whole.subarray(at, at + step));
            expect(taken.every((c) => c.length > 0)).toBe(true);
            at = Math.min(whole.length, at + step);
            expect(cursor.remaining).toBe(whole.length - at);
          }
          expect(totalLength(chunks)).toBe(whole.length);
          const target = Buffer.alloc(whole.length + 3, 0xee);
          expect(copyChunksInto(chunks, target, 2)).toBe(whole.length);
          expect(target.subarray(2, 2 + whole.length)).toEqual(whole);
          expect(target[1]).toBe(0xee);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('slices are views, not copies', () => {
    const chunk = Buffer.from('abcdef');
    const [view] = sliceChunks([chunk], 1, 3);
    chunk[1] = 0x5a;
    expect(view?.toString()).toBe('Zcd');
  });
});
