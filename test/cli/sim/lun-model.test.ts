/**
 * The LUN model of `iser sim`: what a sequence of writes leaves reads back clean; an older content of a block is a
 * lost acknowledged write, anything else corruption; a failed write's blocks may hold either content and settle on
 * the first read. The range lock never lets a write overlap another operation in flight.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimLunModel } from '../../../cli/sim/lun-model.js';
import { RangeLock } from '../../../cli/sim/range-lock.js';

const BLOCKS = 64;

const arbWrites = fc.array(
  fc
    .tuple(fc.integer({ min: 0, max: BLOCKS - 1 }), fc.integer({ min: 1, max: 8 }), fc.boolean())
    .map(([lba, blocks, ok]) => ({ lba, blocks: Math.min(blocks, BLOCKS - lba), ok })),
  { minLength: 1, maxLength: 30 },
);

describe('SimLunModel', () => {
  it('reads back what acknowledged writes left, with no mismatch', () => {
    fc.assert(
      fc.property(arbWrites, fc.constantFrom(512, 4096), (writes, blockSize) => {
        const model = new SimLunModel(BLOCKS, blockSize, 7, 'lun-0');
        const disk = Buffer.alloc(BLOCKS * blockSize);
        for (const w of writes.filter((x) => x.ok)) {
          const id = model.newWrite();
          model.contents(w.lba, w.blocks, id).copy(disk, w.lba * blockSize);
          model.acknowledged(w.lba, w.blocks, id);
        }
        expect(model.check(0, disk)).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it('calls an older content of a block a lost write, and foreign bytes corruption', () => {
    const model = new SimLunModel(BLOCKS, 512, 3, 'lun-0');
    const first = model.newWrite();
    const old = model.contents(10, 2, first);
    model.acknowledged(10, 2, first);
    const second = model.newWrite();
    model.acknowledged(10, 2, second);
    expect(model.check(10, old)).toEqual([
      { lba: 10, kind: 'lost-write', expected: [second], found: first },
      { lba: 11, kind: 'lost-write', expected: [second], found: first },
    ]);
    expect(model.check(10, Buffer.alloc(512))).toEqual([{ lba: 10, kind: 'lost-write', expected: [second], found: 0 }]);
    const other = new SimLunModel(BLOCKS, 512, 4, 'lun-0').contents(10, 1, first);
    expect(model.check(10, other)[0]).toMatchObject({ kind: 'corrupt' });
    // A block's content written at another LBA is corruption too (misdirected write).
    expect(model.check(10, model.contents(12, 1, second))[0]).toMatchObject({ kind: 'corrupt' });
    expect(model.check(20, Buffer.alloc(512, 1))[0]).toMatchObject({ kind: 'corrupt', expected: [0] });
  });

  it('accepts either content after a failed write, then only the one a read saw', () => {
    const model = new SimLunModel(BLOCKS, 512, 3, 'lun-0');
    const a = model.newWrite();
    model.acknowledged(0, 1, a);
    const b = model.newWrite();
    model.failed(0, 1, b);
    expect(model.check(0, model.contents(0, 1, b))).toEqual([]);
    expect(model.check(0, model.contents(0, 1, a))).toEqual([{ lba: 0, kind: 'lost-write', expected: [b], found: a }]);
  });
});

describe('RangeLock', () => {
  it('never holds a write together with an overlapping operation', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            lba: fc.integer({ min: 0, max: 30 }),
            blocks: fc.integer({ min: 1, max: 5 }),
            write: fc.boolean(),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        async (ops) => {
          const lock = new RangeLock();
          const held = new Set<{ lba: number; end: number; write: boolean }>();
          await Promise.all(
            ops.map(async (op, i) => {
              const release = await lock.acquire(op.lba, op.blocks, op.write);
              const me = { lba: op.lba, end: op.lba + op.blocks, write: op.write };
              for (const h of held) {
                const overlap = h.lba < me.end && me.lba < h.end;
                expect(overlap && (h.write || me.write)).toBe(false);
              }
              held.add(me);
              // Hold for a few turns of the microtask queue, some longer than others.
              for (let t = 0; t < (i % 3) + 1; t++) await Promise.resolve();
              held.delete(me);
              release();
            }),
          );
          expect(held.size).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
