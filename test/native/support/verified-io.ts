/**
 * Seeded, verified block I/O over a real session: a region is written in extents of random (log-uniform) sizes in
 * random order with several commands in flight, then read back in a different random split and compared byte for
 * byte with what was written. Extents never overlap within a phase, so completion order cannot matter.
 */
import { lastValueFrom, timeout, type Observable } from 'rxjs';
import type { Lun } from '../../../protocol/initiator/index.js';
import { SeededRandom } from '../../../sim/clock/random.js';
import { DataPattern } from '../../support/session-suite/data-pattern.js';

/** A run of blocks. */
export interface Extent {
  readonly lba: number;
  readonly blocks: number;
}

/** Options of {@link verifiedIo}. */
export interface VerifiedIoOptions {
  readonly seed: string;
  readonly blockSize: number;
  /** Blocks written and read back, from LBA 0. */
  readonly blocks: number;
  /** Extent sizes, in blocks. */
  readonly minBlocks: number;
  readonly maxBlocks: number;
  readonly queueDepth: number;
  /** Bound on each command, real time. */
  readonly opTimeoutMs: number;
}

/** What happened. */
export interface VerifiedIoReport {
  readonly writes: number;
  readonly reads: number;
  readonly bytes: number;
  readonly writeMs: number;
  readonly readMs: number;
  readonly smallestBytes: number;
  readonly largestBytes: number;
  /** Read extents whose data differed, and the first differing byte (absolute offset) of the first one. */
  readonly mismatches: number;
  readonly firstMismatchAt: number | undefined;
}

/** Splits [0, blocks) into extents of log-uniform size in [min, max] blocks, shuffled. */
export function randomExtents(random: SeededRandom, blocks: number, min: number, max: number): Extent[] {
  const extents: Extent[] = [];
  for (let lba = 0; lba < blocks && extents.length < blocks;) {
    const size = Math.round(Math.exp(random.float(Math.log(min), Math.log(max + 1))));
    const n = Math.min(Math.max(min, Math.min(max, size)), blocks - lba);
    extents.push({ lba, blocks: n });
    lba += n;
  }
  for (let i = extents.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    const a = extents[i];
    const b = extents[j];
    if (a !== undefined && b !== undefined) {
      extents[i] = b;
      extents[j] = a;
    }
  }
  return extents;
}

/** Runs `work(item)` for every item with at most `depth` at once. */
async function inFlight<T>(items: readonly T[], depth: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(depth, items.length)) }, worker));
}

/** The last value of `work` (undefined when it completes empty), or a timeout error after `ms`. */
function bounded<T>(work: Observable<T>, ms: number, what: string): Promise<T | undefined> {
  return lastValueFrom(
    work.pipe(
      timeout({
        first: ms,
        with: () => {
          throw new Error(`${what} did not finish within ${ms} ms`);
        },
      }),
    ),
    { defaultValue: undefined },
  );
}

/** Writes then reads back `blocks` blocks of `lun`; see the file comment. */
export async function verifiedIo(lun: Lun, o: VerifiedIoOptions): Promise<VerifiedIoReport> {
  const random = new SeededRandom(o.seed);
  const pattern = new DataPattern(o.seed);
  const model = Buffer.alloc(o.blocks * o.blockSize);
  const writes = randomExtents(random.fork('writes'), o.blocks, o.minBlocks, o.maxBlocks);
  const reads = randomExtents(random.fork('reads'), o.blocks, o.minBlocks, o.maxBlocks);
  const sizes = [...writes, ...reads].map((e) => e.blocks * o.blockSize);

  const t0 = performance.now();
  let index = 0;
  await inFlight(writes, o.queueDepth, async (e) => {
    const data = pattern.bytes(index++, e.blocks * o.blockSize);
    data.copy(model, e.lba * o.blockSize);
    await bounded(lun.write(e.lba, data), o.opTimeoutMs, `WRITE ${e.lba}+${e.blocks}`);
  });
  const t1 = performance.now();
  let mismatches = 0;
  let firstMismatchAt: number | undefined;
  await inFlight(reads, o.queueDepth, async (e) => {
    const got = await bounded(lun.read(e.lba, e.blocks), o.opTimeoutMs, `READ ${e.lba}+${e.blocks}`);
    if (got === undefined) throw new Error(`READ ${e.lba}+${e.blocks} completed without data`);
    const want = model.subarray(e.lba * o.blockSize, (e.lba + e.blocks) * o.blockSize);
    if (got.equals(want)) return;
    mismatches++;
    if (firstMismatchAt === undefined) {
      let i = 0;
      while (i < want.length && got[i] === want[i]) i++;
      firstMismatchAt = e.lba * o.blockSize + i;
    }
  });
  const t2 = performance.now();
  return {
    writes: writes.length,
    reads: reads.length,
    bytes: model.length,
    writeMs: t1 - t0,
    readMs: t2 - t1,
    smallestBytes: Math.min(...sizes),
    largestBytes: Math.max(...sizes),
    mismatches,
    firstMismatchAt,
  };
}
