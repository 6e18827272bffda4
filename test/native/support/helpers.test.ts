/** The guest tests' pure helpers, on the host: how I/O is split, and which dmesg lines count as trouble. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../sim/clock/random.js';
import { newErrorLines } from './guest.js';
import { randomExtents } from './verified-io.js';

describe('randomExtents', () => {
  it('tiles [0, blocks) exactly, each extent within [min, max] (the last may be shorter), same seed same split', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 2048 }),
        (seed, blocks, min, extra) => {
          const max = min + extra;
          const extents = randomExtents(new SeededRandom(seed), blocks, min, max);
          const sorted = [...extents].sort((a, b) => a.lba - b.lba);
          let next = 0;
          for (const e of sorted) {
            expect(e.lba).toBe(next);
            expect(e.blocks).toBeGreaterThan(0);
            expect(e.blocks).toBeLessThanOrEqual(max);
            if (e.lba + e.blocks < blocks) expect(e.blocks).toBeGreaterThanOrEqual(min);
            next += e.blocks;
          }
          expect(next).toBe(blocks);
          expect(randomExtents(new SeededRandom(seed), blocks, min, max)).toEqual(extents);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('newErrorLines', () => {
  const before = ['[ 1.0] rxe0: added eth0', '[ 2.0] scsi host0: iSCSI Initiator over iSER'];

  it('reports only new lines of the watched subsystems that speak of trouble', () => {
    const after = [
      ...before,
      '[ 3.0] sd 0:0:0:0: [sda] 98304 512-byte logical blocks',
      '[ 3.1] sd 0:0:0:0: Power-on or device reset occurred',
      '[ 4.0] iser: iser_err_comp: command failure: local protection error',
      '[ 5.0] random: crng init done',
    ];
    expect(newErrorLines(before, after)).toEqual([
      '[ 4.0] iser: iser_err_comp: command failure: local protection error',
    ]);
  });

  it('finds where a wrapped ring buffer resumes', () => {
    const after = [before[1] ?? '', '[ 6.0] I/O error, dev sda, sector 0 op 0x0:(READ)'];
    expect(newErrorLines(before, after)).toEqual(['[ 6.0] I/O error, dev sda, sector 0 op 0x0:(READ)']);
  });
});
