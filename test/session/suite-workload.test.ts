/**
 * The session suite's own checks must be able to fail: the seeded workload and its model, run against a fake LUN
 * in memory, report a lost write, a flipped byte, a misplaced write and a torn aborted write — and pass on a
 * faithful LUN, with the same operations for the same seed.
 */
import { asyncScheduler, defer, from, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { LbaInput } from '../../protocol/scsi/cdb/build.js';
import { LunModel } from '../support/session-suite/lun-model.js';
import {
  runWorkload,
  verifyRegion,
  WorkloadGenerator,
  type BlockLun,
  type WorkloadOptions,
} from '../support/session-suite/workload.js';

const BLOCK = 512;
const BLOCKS = 4096; // 2 MiB

type Fault = 'none' | 'drop-one-write' | 'flip-one-read' | 'shift-one-write';

/** A LUN in memory whose operations finish on a later turn (so they overlap), with one optional fault. */
class FakeLun implements BlockLun {
  readonly image = Buffer.alloc(BLOCK * BLOCKS);
  writes = 0;
  reads = 0;
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly fault: Fault) {}

  read(lba: LbaInput, blocks: number): Observable<Buffer> {
    return this.#later(() => {
      const start = Number(lba) * BLOCK;
      const data = Buffer.from(this.image.subarray(start, start + blocks * BLOCK));
      if (this.fault === 'flip-one-read' && this.reads++ === 5) data[data.length - 1] = (data.at(-1) ?? 0) ^ 1;
      return data;
    });
  }

  write(lba: LbaInput, data: Buffer | readonly Buffer[]): Observable<void> {
    return this.#later(() => {
      const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data);
      const n = this.writes++;
      if (this.fault === 'drop-one-write' && n === 3) return;
      const shift = this.fault === 'shift-one-write' && n === 3 && Number(lba) > 0 ? -1 : 0;
      bytes.copy(this.image, (Number(lba) + shift) * BLOCK);
    });
  }

  #later<T>(run: () => T): Observable<T> {
    return defer(() => {
      this.inFlight += 1;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      return from(
        new Promise<T>((resolve) => {
          setImmediate(() => {
            this.inFlight -= 1;
            resolve(run());
          });
        }),
      );
    });
  }
}

const options = (seed: string): WorkloadOptions => ({
  seed,
  ops: 200,
  queueDepth: 8,
  maxOpBytes: 64 * 1024,
  scheduler: asyncScheduler,
  opTimeoutMs: 5000,
});

async function run(fault: Fault, seed = 'fake'): Promise<{ clean: boolean; problems: string[] }> {
  const lun = new FakeLun(fault);
  const model = new LunModel(BLOCK, BLOCKS);
  const report = await runWorkload(lun, model, options(seed));
  expect(report.failures).toEqual([]);
  expect(report.ops).toBe(200);
  expect(report.maxInFlight).toBeGreaterThan(1);
  const problems = await verifyRegion(
    lun,
    model,
    { lba: 0, blocks: BLOCKS },
    { queueDepth: 4, scheduler: asyncScheduler, opTimeoutMs: 5000 },
  );
  return { clean: report.mismatches.length === 0 && problems.length === 0, problems };
}

describe('session suite workload and model', () => {
  it('pass on a faithful LUN', async () => {
    expect(await run('none')).toEqual({ clean: true, problems: [] });
  });

  it.each<Fault>(['drop-one-write', 'flip-one-read', 'shift-one-write'])('catch a LUN that does %s', async (fault) => {
    expect((await run(fault)).clean).toBe(false);
  });

  it('make the same operations for the same seed, and others for another', () => {
    const a = new WorkloadGenerator('s', BLOCK, { lba: 8, blocks: 1000 }, 1 << 20, 0.5);
    const b = new WorkloadGenerator('s', BLOCK, { lba: 8, blocks: 1000 }, 1 << 20, 0.5);
    const c = new WorkloadGenerator('t', BLOCK, { lba: 8, blocks: 1000 }, 1 << 20, 0.5);
    const seqA = Array.from({ length: 200 }, (_, i) => a.next(i));
    expect(seqA).toEqual(Array.from({ length: 200 }, (_, i) => b.next(i)));
    expect(seqA).not.toEqual(Array.from({ length: 200 }, (_, i) => c.next(i)));
    for (const op of seqA) {
      expect(op.blocks).toBeGreaterThanOrEqual(1);
      expect(op.lba).toBeGreaterThanOrEqual(8);
      expect(op.lba + op.blocks).toBeLessThanOrEqual(1008);
    }
    // Sizes span the range: single blocks and large operations both occur.
    expect(seqA.some((op) => op.blocks === 1)).toBe(true);
    expect(seqA.some((op) => op.blocks >= 256)).toBe(true);
  });
});

describe('LunModel', () => {
  const block = (byte: number): Buffer => Buffer.alloc(BLOCK, byte);

  it('checks known blocks byte for byte', () => {
    const model = new LunModel(BLOCK, 8);
    model.written(2, Buffer.concat([block(1), block(2)]));
    expect(model.verifyRead(1, Buffer.concat([block(0), block(1), block(2)])).ok).toBe(true);
    const wrong = Buffer.concat([block(1), block(2)]);
    wrong[BLOCK + 7] = 9;
    const verdict = model.verifyRead(2, wrong);
    expect(verdict.ok).toBe(false);
    expect(verdict.mismatches).toEqual([{ lba: 3, offset: 7, expected: 2, actual: 9 }]);
  });

  it('accepts, per block, the old or a possible new content of an aborted write, then settles it', () => {
    const model = new LunModel(BLOCK, 8);
    model.written(0, Buffer.concat([block(1), block(1)]));
    model.mayHaveWritten(0, Buffer.concat([block(5), block(5)]));
    expect(model.expected(0, 2)).toBeUndefined();
    // Block 0 old, block 1 new: allowed (no atomicity across blocks is assumed).
    const verdict = model.verifyRead(0, Buffer.concat([block(1), block(5)]));
    expect(verdict).toMatchObject({ ok: true, settled: 2 });
    expect(model.openBlocks).toBe(0);
    expect(model.verifyRead(0, Buffer.concat([block(5), block(5)])).ok).toBe(false);
  });

  it('refuses content that is neither old nor new, and a torn block', () => {
    const model = new LunModel(BLOCK, 4);
    model.mayHaveWritten(1, block(7));
    expect(model.verifyRead(1, block(8)).ok).toBe(false);
    const torn = Buffer.concat([block(7).subarray(0, 256), block(0).subarray(256)]);
    expect(model.verifyRead(1, torn).ok).toBe(false);
  });

  it('takes anything for forgotten blocks, once', () => {
    const model = new LunModel(BLOCK, 4);
    model.forget(0, 2);
    expect(model.verifyRead(0, Buffer.concat([block(3), block(4)])).ok).toBe(true);
    expect(model.verifyRead(0, Buffer.concat([block(3), block(5)])).ok).toBe(false);
  });

  it('refuses ranges outside the unit', () => {
    const model = new LunModel(BLOCK, 4);
    expect(() => {
      model.written(3, Buffer.alloc(2 * BLOCK));
    }).toThrow(RangeError);
    expect(() => model.verifyRead(0, Buffer.alloc(100))).toThrow(RangeError);
  });
});
