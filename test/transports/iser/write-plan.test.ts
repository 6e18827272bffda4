import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planWrite } from '../../../transports/iser/write-plan.js';

const arbShape = fc
  .record({
    chunkLengths: fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 6 }),
    immediate: fc.double({ min: 0, max: 1, noNaN: true }),
    unsolicited: fc.double({ min: 0, max: 1, noNaN: true }),
    maxSegmentLength: fc.integer({ min: 1, max: 3000 }),
  })
  .map((r) => {
    const total = r.chunkLengths.reduce((a, b) => a + b, 0);
    const immediateLength = Math.floor(total * r.immediate);
    const unsolicitedDataOutLength = Math.floor((total - immediateLength) * r.unsolicited);
    return { ...r, total, immediateLength, unsolicitedDataOutLength };
  });

describe('planWrite (the Write VA rule)', () => {
  it('covers every byte exactly once: immediate, then Data-Outs in order, then the solicited rest', () => {
    fc.assert(
      fc.property(arbShape, (shape) => {
        const plan = planWrite(shape);
        const pieces = [
          ...(plan.immediate === undefined ? [] : [plan.immediate]),
          ...plan.dataOuts,
          ...(plan.solicited === undefined ? [] : [plan.solicited]),
        ];
        let at = 0;
        for (const piece of pieces) {
          expect(piece.offset).toBe(at);
          expect(piece.length).toBeGreaterThan(0);
          at += piece.length;
        }
        expect(at).toBe(shape.total);
        // The solicited part (what the Write STag/VA advertises) starts at the first byte not sent unsolicited.
        if (plan.solicited !== undefined) {
          expect(plan.solicited.offset).toBe(shape.immediateLength + shape.unsolicitedDataOutLength);
        } else {
          expect(shape.immediateLength + shape.unsolicitedDataOutLength).toBe(shape.total);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('Data-Outs never exceed the target’s RecvDataSegmentLength nor cross a chunk; located pieces point into their chunk', () => {
    fc.assert(
      fc.property(arbShape, (shape) => {
        const plan = planWrite(shape);
        const starts: number[] = [];
        let total = 0;
        for (const length of shape.chunkLengths) {
          starts.push(total);
          total += length;
        }
        for (const piece of plan.dataOuts) {
          expect(piece.length).toBeLessThanOrEqual(shape.maxSegmentLength);
          expect(piece.chunk).toBeDefined();
        }
        for (const piece of [...plan.dataOuts, plan.immediate, plan.solicited]) {
          if (piece?.chunk === undefined) continue;
          const start = starts[piece.chunk] ?? -1;
          expect(start + piece.chunkOffset).toBe(piece.offset);
          expect(piece.chunkOffset + piece.length).toBeLessThanOrEqual(shape.chunkLengths[piece.chunk] ?? -1);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('marks a piece that spans chunks (it has no single address: the caller bounces it)', () => {
    const plan = planWrite({
      chunkLengths: [100, 100],
      immediateLength: 150,
      unsolicitedDataOutLength: 0,
      maxSegmentLength: 8192,
    });
    expect(plan.immediate).toEqual({ offset: 0, length: 150, chunk: undefined, chunkOffset: 0 });
    expect(plan.solicited).toEqual({ offset: 150, length: 50, chunk: 1, chunkOffset: 50 });
  });
});
