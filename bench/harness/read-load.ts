/**
 * Our initiator's side of a read load: keeps `queueDepth` READs in flight through the public `Lun` API (cold
 * Observables: one subscription per command) for a wall-clock budget, then drains. LBAs follow iscsi-perf: random
 * anywhere on the LUN, or sequential wrapping at the end. Bounded in time (the budget plus a drain allowance) and
 * in count (no command is issued after the deadline).
 */
import type { Lun } from '../../protocol/initiator/lun.js';
import type { ReadShape } from './read-shapes.js';

/** What a load achieved. */
export interface LoadResult {
  /** Commands completed. */
  readonly ops: number;
  /** Wall-clock seconds from the first command to the last completion. */
  readonly seconds: number;
  readonly iops: number;
  readonly mibPerSecond: number;
}

/** Where and how long to read. */
export interface LoadOptions {
  /** Wall-clock seconds to keep issuing commands. */
  readonly seconds: number;
  /** The LUN's logical block size. */
  readonly lunBlockBytes: number;
  /** The LUN's size in blocks. */
  readonly lunBlocks: number;
  /** Seed of the LBA sequence (default 1). */
  readonly seed?: number;
  /** Extra time the in-flight commands get to finish after the budget (default 10 s); then the load fails. */
  readonly drainMs?: number;
  /** Stop issuing after this many commands (a burst), even before the time budget is spent. */
  readonly maxOps?: number;
}

/** Runs `shape` against `lun` for `options.seconds`; rejects on the first failed command or an overrun. */
export function driveReads(lun: Lun, shape: ReadShape, options: LoadOptions): Promise<LoadResult> {
  const blocks = shape.blockBytes / options.lunBlockBytes;
  if (!Number.isInteger(blocks) || blocks < 1 || blocks > options.lunBlocks) {
    return Promise.reject(new RangeError(`${shape.blockBytes} bytes is not a whole number of LUN blocks`));
  }
  const lbaSpan = options.lunBlocks - blocks + 1;
  let rng = options.seed ?? 1;
  const nextRandom = (): number => {
    // xorshift32: cheap, seeded, good enough to scatter LBAs.
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    return (rng >>> 0) % lbaSpan;
  };
  let position = 0;
  const nextLba = (): number => {
    if (shape.random) return nextRandom();
    if (position >= lbaSpan) position = 0;
    const lba = position;
    position += blocks;
    return lba;
  };

  return new Promise<LoadResult>((resolve, reject) => {
    const start = performance.now();
    const deadline = start + options.seconds * 1000;
    const maxOps = options.maxOps ?? Infinity;
    let issued = 0;
    let ops = 0;
    let inFlight = 0;
    let failed = false;
    const overrun = setTimeout(
      () => {
        fail(
          new Error(
            `${shape.label}: ${inFlight} commands still in flight ${options.drainMs ?? 10_000} ms after the budget`,
          ),
        );
      },
      options.seconds * 1000 + (options.drainMs ?? 10_000),
    );
    const fail = (error: unknown): void => {
      if (failed) return;
      failed = true;
      clearTimeout(overrun);
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    const finish = (): void => {
      clearTimeout(overrun);
      const seconds = (performance.now() - start) / 1000;
      const iops = ops / seconds;
      resolve({ ops, seconds, iops, mibPerSecond: (iops * shape.blockBytes) / 2 ** 20 });
    };
    const issue = (): void => {
      issued++;
      inFlight++;
      lun.read(nextLba(), blocks).subscribe({
        next: (data) => {
          if (data.length !== shape.blockBytes)
            fail(new Error(`a read returned ${data.length} bytes, not ${shape.blockBytes}`));
        },
        error: fail,
        complete: () => {
          inFlight--;
          ops++;
          if (failed) return;
          if (issued < maxOps && performance.now() < deadline) issue();
          else if (inFlight === 0) finish();
        },
      });
    };
    for (let i = 0; i < Math.min(shape.queueDepth, maxOps); i++) issue();
  });
}
