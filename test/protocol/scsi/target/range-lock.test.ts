import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RangeLock } from '../../../../protocol/scsi/target/range-lock.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RangeLock', () => {
  it('lets disjoint ranges and shared holders in at once', async () => {
    const lock = new RangeLock();
    const a = await lock.acquire(0, 10, true);
    const b = await lock.acquire(10, 10, true);
    const c = await lock.acquire(20, 5, false);
    const d = await lock.acquire(20, 5, false);
    expect(lock.size).toBe(4);
    for (const release of [a, b, c, d]) release();
    expect(lock.size).toBe(0);
  });

  it('makes overlapping requests wait, in arrival order', async () => {
    const lock = new RangeLock();
    const order: string[] = [];
    const first = await lock.acquire(0, 10, false);
    const writer = lock.acquire(5, 10, true).then((release) => {
      order.push('writer');
      return release;
    });
    const reader = lock.acquire(12, 1, false).then((release) => {
      order.push('reader');
      return release;
    });
    await tick();
    expect(order).toEqual([]); // the reader overlaps the waiting writer, so it queues behind it
    first();
    const releaseWriter = await writer;
    await tick();
    expect(order).toEqual(['writer']);
    releaseWriter();
    (await reader)();
    expect(order).toEqual(['writer', 'reader']);
    expect(lock.size).toBe(0);
  });

  it('never lets an exclusive holder overlap another holder (random schedules)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            lba: fc.integer({ min: 0, max: 20 }),
            blocks: fc.integer({ min: 0, max: 6 }),
            exclusive: fc.boolean(),
            hold: fc.integer({ min: 0, max: 3 }),
          }),
          { maxLength: 12 },
        ),
        async (requests) => {
          const lock = new RangeLock();
          const held: { start: number; end: number; exclusive: boolean }[] = [];
          await Promise.all(
            requests.map(async (r) => {
              const release = await lock.acquire(r.lba, r.blocks, r.exclusive);
              const mine = { start: r.lba, end: r.lba + r.blocks, exclusive: r.exclusive };
              for (const other of held) {
                if (r.blocks === 0) break; // an empty range overlaps nothing
                const overlap = other.start < mine.end && mine.start < other.end;
                expect(overlap && (other.exclusive || mine.exclusive)).toBe(false);
              }
              if (r.blocks > 0) held.push(mine);
              for (let i = 0; i < r.hold; i++) await tick();
              held.splice(held.indexOf(mine), 1);
              release();
              release(); // releasing twice is harmless
            }),
          );
          expect(lock.size).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('merges overlapping ranges of one request instead of waiting for itself', async () => {
    const lock = new RangeLock();
    const release = await lock.acquireAll(
      [
        { lba: 0, blocks: 6 },
        { lba: 2, blocks: 2 },
        { lba: 6, blocks: 1 },
      ],
      true,
    );
    expect(lock.size).toBe(1);
    release();
    expect(lock.size).toBe(0);
  });

  it('acquires several ranges in LBA order', async () => {
    const lock = new RangeLock();
    const release = await lock.acquireAll(
      [
        { lba: 30, blocks: 2 },
        { lba: 0, blocks: 2 },
        { lba: 10, blocks: 0 },
      ],
      true,
    );
    expect(lock.size).toBe(2);
    let granted = false;
    void lock.acquire(1, 1, false).then(() => {
      granted = true;
    });
    await tick();
    expect(granted).toBe(false);
    release();
    await tick();
    expect(granted).toBe(true);
  });
});
