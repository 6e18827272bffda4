/**
 * A seeded random block workload against a {@link Lun}, checked against a {@link LunModel}: reads and writes of
 * log-uniform sizes (one block to 1 MiB by default) at random LBAs, up to `queueDepth` at once.
 *
 * Determinism: operation `i` (kind, LBA, size, data) depends only on the seed. An operation starts only once no
 * earlier operation overlapping it is still in flight, so whatever the timing, every read must see exactly the
 * writes issued before it: the model can say what each read returns, byte for byte, with no ambiguity.
 *
 * Every wait is bounded: each operation by `opTimeoutMs` on the given scheduler (a timeout unsubscribes, which
 * aborts the command), each gate by the number of operations in flight.
 */
import { lastValueFrom, timeout, type Observable, type SchedulerLike } from 'rxjs';
import type { Lun } from '../../../protocol/initiator/index.js';
import { ScsiStatusError } from '../../../protocol/scsi/errors.js';
import { SenseKey } from '../../../protocol/scsi/sense-codes.js';
import { SeededRandom } from '../../../sim/clock/random.js';
import { DataPattern } from './data-pattern.js';
import { describeVerdict, type LunModel } from './lun-model.js';

/** What a workload needs of a LUN (a {@link Lun}, or a fake in the suite's own tests). */
export type BlockLun = Pick<Lun, 'read' | 'write'>;

/** A range of blocks. */
export interface BlockRegion {
  readonly lba: number;
  readonly blocks: number;
}

/** One operation of a workload. */
export interface WorkloadOp {
  readonly index: number;
  readonly kind: 'read' | 'write';
  readonly lba: number;
  readonly blocks: number;
}

/** Where a running workload stands (handed to {@link WorkloadOptions.onSettled}). */
export interface WorkloadProgress {
  /** Operations finished (well or not). */
  readonly settled: number;
  /** Operations in flight now. */
  readonly inFlight: number;
  /** Bytes moved by finished operations. */
  readonly bytes: number;
}

/** Options of {@link runWorkload}. */
export interface WorkloadOptions {
  readonly seed: string | number;
  /** Stop issuing after this many operations. */
  readonly ops?: number;
  /** Stop issuing once this many bytes have been issued (reads plus writes). */
  readonly bytes?: number;
  /** Operations in flight at most. */
  readonly queueDepth: number;
  /** Largest operation in bytes (default 1 MiB); the smallest is one block. */
  readonly maxOpBytes?: number;
  /** Share of reads (default 0.5). */
  readonly readFraction?: number;
  /** Where to work (default the whole model). */
  readonly region?: BlockRegion;
  /** Clock of the operation timeouts. */
  readonly scheduler: SchedulerLike;
  /** Bound on each operation, in scheduler ms. */
  readonly opTimeoutMs: number;
  /** How often one operation is retried after UNIT ATTENTION (default 3), as SCSI upper layers do. */
  readonly unitAttentionRetries?: number;
  /** Called each time an operation finishes (e.g. to cut the connection mid-workload). */
  readonly onSettled?: (progress: WorkloadProgress) => void;
}

/** An operation that failed. */
export interface WorkloadFailure {
  readonly op: WorkloadOp;
  readonly error: unknown;
}

/** What a workload did. */
export interface WorkloadReport {
  readonly ops: number;
  readonly reads: number;
  readonly writes: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Most operations in flight at once. */
  readonly maxInFlight: number;
  /** Reads that did not match the model, described. */
  readonly mismatches: readonly string[];
  readonly failures: readonly WorkloadFailure[];
  /** Operations retried after UNIT ATTENTION. */
  readonly unitAttentions: number;
  /** Scheduler time the workload took, in ms. */
  readonly elapsedMs: number;
}

const DEFAULT_MAX_OP_BYTES = 1 << 20;

/** Makes the operations of a seeded workload, in order. */
export class WorkloadGenerator {
  readonly #random: SeededRandom;
  readonly #region: BlockRegion;
  readonly #maxBlocks: number;
  readonly #readFraction: number;

  constructor(seed: string | number, blockSize: number, region: BlockRegion, maxOpBytes: number, readFraction: number) {
    this.#random = new SeededRandom(String(seed)).fork('workload-ops');
    this.#region = region;
    this.#maxBlocks = Math.max(1, Math.min(region.blocks, Math.floor(maxOpBytes / blockSize)));
    this.#readFraction = readFraction;
  }

  /** Operation `index` (call in order). */
  next(index: number): WorkloadOp {
    // Log-uniform sizes: as many small operations as large ones per doubling of size.
    const blocks = Math.min(
      this.#maxBlocks,
      Math.max(1, Math.floor(Math.exp(this.#random.float(0, Math.log(this.#maxBlocks + 1))))),
    );
    const lba = this.#region.lba + this.#random.int(0, this.#region.blocks - blocks);
    const kind = this.#random.bool(this.#readFraction) ? 'read' : 'write';
    return { index, kind, lba, blocks };
  }
}

function overlaps(a: WorkloadOp, b: WorkloadOp): boolean {
  return a.lba < b.lba + b.blocks && b.lba < a.lba + a.blocks;
}

function isUnitAttention(err: unknown): boolean {
  return err instanceof ScsiStatusError && err.sense?.key === SenseKey.UnitAttention;
}

/** Runs a command Observable to its one value, bounded by `ms` on `scheduler`. */
export function bounded<T>(source: Observable<T>, ms: number, scheduler: SchedulerLike): Promise<T> {
  return lastValueFrom(source.pipe(timeout({ first: ms, scheduler })));
}

/** Runs a seeded workload on `lun`, checking every read against `model` and updating it with every write. */
export async function runWorkload(lun: BlockLun, model: LunModel, options: WorkloadOptions): Promise<WorkloadReport> {
  if (options.ops === undefined && options.bytes === undefined) throw new RangeError('give ops or bytes (or both)');
  const region = options.region ?? { lba: 0, blocks: model.blocks };
  const generator = new WorkloadGenerator(
    options.seed,
    model.blockSize,
    region,
    options.maxOpBytes ?? DEFAULT_MAX_OP_BYTES,
    options.readFraction ?? 0.5,
  );
  const pattern = new DataPattern(options.seed);
  const uaRetries = options.unitAttentionRetries ?? 3;
  const inFlight = new Map<number, { op: WorkloadOp; done: Promise<void> }>();
  const mismatches: string[] = [];
  const failures: WorkloadFailure[] = [];
  let reads = 0;
  let writes = 0;
  let bytesRead = 0;
  let bytesWritten = 0;
  let issuedBytes = 0;
  let maxInFlight = 0;
  let unitAttentions = 0;
  let settled = 0;
  const started = options.scheduler.now();

  const attempt = async <T>(run: () => Observable<T>): Promise<T> => {
    for (let retry = 0; ; retry++) {
      try {
        return await bounded(run(), options.opTimeoutMs, options.scheduler);
      } catch (err) {
        if (!isUnitAttention(err) || retry >= uaRetries) throw err;
        unitAttentions += 1;
      }
    }
  };

  const execute = async (op: WorkloadOp): Promise<void> => {
    const length = op.blocks * model.blockSize;
    if (op.kind === 'read') {
      const data = await attempt(() => lun.read(op.lba, op.blocks));
      reads += 1;
      bytesRead += data.length;
      if (data.length !== length) {
        mismatches.push(`op ${op.index}: read of ${length} bytes at LBA ${op.lba} returned ${data.length}`);
        return;
      }
      const verdict = model.verifyRead(op.lba, data);
      if (!verdict.ok) mismatches.push(describeVerdict(verdict, `op ${op.index}: read at LBA ${op.lba}`));
      return;
    }
    const data = pattern.bytes(op.index, length);
    try {
      await attempt(() => lun.write(op.lba, data));
    } catch (err) {
      model.mayHaveWritten(op.lba, data);
      throw err;
    }
    writes += 1;
    bytesWritten += length;
    model.written(op.lba, data);
  };

  for (let index = 0; ; index++) {
    if (options.ops !== undefined && index >= options.ops) break;
    if (options.bytes !== undefined && issuedBytes >= options.bytes) break;
    const op = generator.next(index);
    // Wait for room and for every earlier overlapping operation; each pass retires at least one operation.
    for (let pass = 0; pass <= options.queueDepth; pass++) {
      const blockers = [...inFlight.values()].filter((f) => overlaps(f.op, op));
      if (inFlight.size < options.queueDepth && blockers.length === 0) break;
      await Promise.race((blockers.length > 0 ? blockers : [...inFlight.values()]).map((f) => f.done));
    }
    issuedBytes += op.blocks * model.blockSize;
    const done = execute(op)
      .catch((error: unknown) => {
        failures.push({ op, error });
      })
      .finally(() => {
        inFlight.delete(op.index);
        settled += 1;
        options.onSettled?.({ settled, inFlight: inFlight.size, bytes: bytesRead + bytesWritten });
      });
    inFlight.set(op.index, { op, done });
    maxInFlight = Math.max(maxInFlight, inFlight.size);
  }
  await Promise.all([...inFlight.values()].map((f) => f.done));
  return {
    ops: settled,
    reads,
    writes,
    bytesRead,
    bytesWritten,
    maxInFlight,
    mismatches,
    failures,
    unitAttentions,
    elapsedMs: options.scheduler.now() - started,
  };
}

/** Reads `region` back in pieces of at most `maxOpBytes`, `queueDepth` at once, and checks it all against the model. */
export async function verifyRegion(
  lun: BlockLun,
  model: LunModel,
  region: BlockRegion,
  options: { readonly queueDepth: number; readonly scheduler: SchedulerLike; readonly opTimeoutMs: number },
  maxOpBytes = DEFAULT_MAX_OP_BYTES,
): Promise<string[]> {
  const step = Math.max(1, Math.floor(maxOpBytes / model.blockSize));
  const pieces: BlockRegion[] = [];
  for (let lba = region.lba; lba < region.lba + region.blocks; lba += step) {
    pieces.push({ lba, blocks: Math.min(step, region.lba + region.blocks - lba) });
  }
  const problems: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let piece = pieces[next++]; piece !== undefined; piece = pieces[next++]) {
      const data = await bounded(lun.read(piece.lba, piece.blocks), options.opTimeoutMs, options.scheduler);
      const verdict = model.verifyRead(piece.lba, data);
      if (!verdict.ok) problems.push(describeVerdict(verdict, `read-back at LBA ${piece.lba}`));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.queueDepth) }, worker));
  return problems;
}
