/**
 * The commands of the model-based data properties (fast-check `fc.commands` + `fc.asyncModelRun`): each runs one
 * SCSI operation on the LUN and applies it to the {@link LunModel}; a read checks what it got against the model.
 */
import fc from 'fast-check';
import { lastValueFrom, type Subscription } from 'rxjs';
import type { Lun } from '../../protocol/initiator/lun.js';
import type { Session } from '../../protocol/initiator/session.js';
import { TaskManagementFunction, TaskManagementResponse } from '../../protocol/pdu/task-management.js';
import { ScsiStatusError } from '../../protocol/scsi/errors.js';
import { SenseKey } from '../../protocol/scsi/sense-codes.js';
import type { RunContext } from '../context.js';
import { ConformanceViolation } from '../errors.js';
import type { ScratchRegion } from '../target.js';
import type { LunFacts } from './lun-facts.js';
import { LunModel } from './lun-model.js';
import { blockBytes, ZERO, type BlockContent } from './patterns.js';

/** SBC-4 §4.1 and RFC 7143 §3.2.2.1: a read returns what the last completed write put there. */
export const READ_YOUR_WRITES_RFC = 'SBC-4 §4.1, RFC 7143 §3.2.2.1';
/** SAM-5 §5.6 and RFC 7143 §11.5.1: an aborted command's effects are all or nothing once the abort completed. */
export const ABORT_ATOMIC_RFC = 'RFC 7143 §11.5.1, SAM-5 §5.6';

/** The model side. */
export interface DataModel {
  readonly lun: LunModel;
  readonly facts: LunFacts;
}

/** The real side. */
export interface DataReal {
  readonly run: RunContext;
  readonly session: Session;
  readonly lun: Lun;
  readonly region: ScratchRegion;
}

/** One model-based command of the data group. */
export type DataCommand = fc.AsyncCommand<DataModel, DataReal>;

function bytesOf(contents: readonly BlockContent[], blockSize: number): Buffer {
  return Buffer.concat(contents.map((c) => blockBytes(c, blockSize)));
}

/** Reads `blocks` at `lba` (region-relative) and checks them against the model. */
export async function checkedRead(
  model: DataModel,
  real: DataReal,
  lba: number,
  blocks: number,
  what: string,
): Promise<void> {
  const data = await real.run.bounded(
    real.lun.promises.read(real.region.firstLba + lba, blocks),
    `READ ${lba}+${blocks}`,
  );
  if (data.length !== blocks * model.facts.blockSize) {
    throw new ConformanceViolation(
      READ_YOUR_WRITES_RFC,
      `${what}: READ of ${blocks} blocks returned ${data.length} bytes`,
    );
  }
  const mismatch = model.lun.checkRead(lba, data, model.facts.blockSize);
  if (mismatch !== undefined) {
    throw new ConformanceViolation(
      mismatch.kind === 'torn' ? ABORT_ATOMIC_RFC : READ_YOUR_WRITES_RFC,
      `${what}: ${mismatch.message} (region LBA ${real.region.firstLba} + ${lba})`,
    );
  }
}

class WriteCommand implements DataCommand {
  constructor(
    readonly lba: number,
    readonly blocks: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: DataModel, real: DataReal): Promise<void> {
    const contents = LunModel.contents(model.lun.newWrite(), this.blocks);
    await real.run.bounded(
      real.lun.promises.write(real.region.firstLba + this.lba, bytesOf(contents, model.facts.blockSize)),
      `WRITE ${this.lba}+${this.blocks}`,
    );
    model.lun.write(this.lba, contents);
  }
  toString(): string {
    return `write(${this.lba},${this.blocks})`;
  }
}

class ReadCommand implements DataCommand {
  constructor(
    readonly lba: number,
    readonly blocks: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: DataModel, real: DataReal): Promise<void> {
    return checkedRead(model, real, this.lba, this.blocks, this.toString());
  }
  toString(): string {
    return `read(${this.lba},${this.blocks})`;
  }
}

class WriteSameCommand implements DataCommand {
  constructor(
    readonly lba: number,
    readonly blocks: number,
    readonly zero: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: DataModel, real: DataReal): Promise<void> {
    const content: BlockContent = this.zero ? ZERO : { kind: 'pattern', write: model.lun.newWrite(), index: 0 };
    await real.run.bounded(
      real.lun.promises.writeSame(real.region.firstLba + this.lba, this.blocks, {
        data: blockBytes(content, model.facts.blockSize),
      }),
      `WRITE SAME ${this.lba}+${this.blocks}`,
    );
    model.lun.write(
      this.lba,
      Array.from({ length: this.blocks }, () => content),
    );
  }
  toString(): string {
    return `writeSame(${this.lba},${this.blocks},${this.zero ? 'zeros' : 'pattern'})`;
  }
}

class UnmapCommand implements DataCommand {
  constructor(
    readonly lba: number,
    readonly blocks: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: DataModel, real: DataReal): Promise<void> {
    await real.run.bounded(
      real.lun.promises.unmap([{ lba: real.region.firstLba + this.lba, blocks: this.blocks }]),
      `UNMAP ${this.lba}+${this.blocks}`,
    );
    // LBPRZ=1 (checked when probing): unmapped blocks read as zeros (SBC-4 §4.7.4.5).
    model.lun.write(
      this.lba,
      Array.from({ length: this.blocks }, () => ZERO),
    );
  }
  toString(): string {
    return `unmap(${this.lba},${this.blocks})`;
  }
}

class CompareAndWriteCommand implements DataCommand {
  constructor(
    readonly lba: number,
    readonly blocks: number,
    readonly match: boolean,
  ) {}
  check(model: Readonly<DataModel>): boolean {
    return model.lun.known(this.lba, this.blocks) !== undefined;
  }
  async run(model: DataModel, real: DataReal): Promise<void> {
    const blockSize = model.facts.blockSize;
    const current = model.lun.known(this.lba, this.blocks) ?? [];
    const compare = bytesOf(current, blockSize);
    if (!this.match) compare[compare.length - 1] = (compare.at(-1) ?? 0) ^ 0xff;
    const contents = LunModel.contents(model.lun.newWrite(), this.blocks);
    const what = this.toString();
    try {
      await real.run.bounded(
        real.lun.promises.compareAndWrite(real.region.firstLba + this.lba, compare, bytesOf(contents, blockSize)),
        what,
      );
    } catch (err) {
      if (!this.match && err instanceof ScsiStatusError && err.sense?.key === SenseKey.Miscompare) return;
      throw err;
    }
    if (!this.match) {
      throw new ConformanceViolation(
        'SBC-4 §5.3',
        `${what}: the blocks differ from the compare data, yet the command succeeded`,
      );
    }
    model.lun.write(this.lba, contents);
  }
  toString(): string {
    return `compareAndWrite(${this.lba},${this.blocks},${this.match ? 'match' : 'mismatch'})`;
  }
}

class SyncCommand implements DataCommand {
  check(): boolean {
    return true;
  }
  async run(_model: DataModel, real: DataReal): Promise<void> {
    await real.run.bounded(real.lun.promises.sync(), 'SYNCHRONIZE CACHE');
  }
  toString(): string {
    return 'sync()';
  }
}

/** Writes to disjoint ranges at once (queue depth > 1), each then read back. */
class ConcurrentWritesCommand implements DataCommand {
  constructor(readonly ranges: readonly { readonly lba: number; readonly blocks: number }[]) {}
  check(): boolean {
    return true;
  }
  async run(model: DataModel, real: DataReal): Promise<void> {
    const writes = this.ranges.map((r) => ({ ...r, contents: LunModel.contents(model.lun.newWrite(), r.blocks) }));
    await Promise.all(
      writes.map((w) =>
        real.run.bounded(
          real.lun.promises.write(real.region.firstLba + w.lba, bytesOf(w.contents, model.facts.blockSize)),
          `WRITE ${w.lba}+${w.blocks} (concurrent)`,
        ),
      ),
    );
    for (const w of writes) model.lun.write(w.lba, w.contents);
  }
  toString(): string {
    return `concurrentWrites(${this.ranges.map((r) => `${r.lba}+${r.blocks}`).join(',')})`;
  }
}

/**
 * A write aborted after `delayMs` (ABORT TASK, by unsubscribing), then ABORT TASK SET as a barrier (its response
 * comes only after every task it covers has ended), then a read of the range: its blocks are all old or all new.
 */
class AbortedWriteCommand implements DataCommand {
  constructor(
    readonly lba: number,
    readonly blocks: number,
    readonly delayMs: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: DataModel, real: DataReal): Promise<void> {
    const contents = LunModel.contents(model.lun.newWrite(), this.blocks);
    const outcome = { completed: false };
    const subscription: Subscription = real.lun
      .write(real.region.firstLba + this.lba, bytesOf(contents, model.facts.blockSize))
      .subscribe({
        complete: () => {
          outcome.completed = true;
        },
        error: () => undefined,
      });
    if (this.delayMs > 0) await real.run.sleep(this.delayMs);
    subscription.unsubscribe();
    await abortBarrier(real);
    if (outcome.completed) model.lun.write(this.lba, contents);
    else model.lun.abortedWrite(this.lba, contents);
    await checkedRead(model, real, this.lba, this.blocks, `${this.toString()} read back`);
  }
  toString(): string {
    return `abortedWrite(${this.lba},${this.blocks},${this.delayMs}ms)`;
  }
}

/** ABORT TASK SET on the LUN, awaited: afterwards no task of ours is left on it (RFC 7143 §11.5.1). */
export async function abortBarrier(real: DataReal): Promise<void> {
  try {
    const response = await real.run.bounded(
      lastValueFrom(real.session.taskManagement({ function: TaskManagementFunction.AbortTaskSet, lun: real.lun.lun })),
      'ABORT TASK SET',
    );
    if (response !== TaskManagementResponse.FunctionComplete) {
      real.run.note(`ABORT TASK SET answered ${response}; a NOP-Out round trip served as the barrier instead`);
      await real.run.bounded(lastValueFrom(real.session.ping()), 'NOP-Out');
    }
  } catch (err) {
    const code = (err as { tmfResponse?: unknown }).tmfResponse;
    if (typeof code !== 'number') throw err;
    real.run.note(`ABORT TASK SET answered ${code}; a NOP-Out round trip served as the barrier instead`);
    await real.run.bounded(lastValueFrom(real.session.ping()), 'NOP-Out');
  }
}

/** A range inside a region of `regionBlocks`, at most `maxBlocks` long. */
function range(regionBlocks: number, maxBlocks: number): fc.Arbitrary<{ lba: number; blocks: number }> {
  return fc
    .tuple(fc.integer({ min: 0, max: regionBlocks - 1 }), fc.integer({ min: 1, max: maxBlocks }))
    .map(([lba, blocks]) => ({ lba, blocks: Math.min(blocks, regionBlocks - lba) }));
}

/** Disjoint ranges: one per equal slice of the region. */
function disjointRanges(regionBlocks: number, maxBlocks: number): fc.Arbitrary<{ lba: number; blocks: number }[]> {
  return fc.integer({ min: 2, max: 4 }).chain((count) => {
    const slice = Math.floor(regionBlocks / count);
    return fc.tuple(
      ...Array.from({ length: count }, (_, i) =>
        range(slice, Math.min(maxBlocks, slice)).map((r) => ({ lba: r.lba + i * slice, blocks: r.blocks })),
      ),
    );
  });
}

/** Which commands a data property draws. */
export interface DataCommandSet {
  readonly regionBlocks: number;
  readonly maxBlocks: number;
  readonly facts: LunFacts;
  readonly aborts: boolean;
  readonly maxCommands: number;
}

/** The command arbitrary for `set`. */
export function dataCommands(set: DataCommandSet, replayPath: string | undefined): fc.Arbitrary<Iterable<DataCommand>> {
  const r = range(set.regionBlocks, set.maxBlocks);
  const supported = (command: Parameters<LunFacts['unsupported']['has']>[0]): boolean =>
    !set.facts.unsupported.has(command);
  const arbs: fc.Arbitrary<DataCommand>[] = [
    r.map((x) => new WriteCommand(x.lba, x.blocks)),
    r.map((x) => new ReadCommand(x.lba, x.blocks)),
  ];
  if (set.aborts) {
    arbs.push(
      fc
        .tuple(r, fc.constantFrom(0, 0.005, 0.05, 0.5, 2))
        .map(([x, delay]) => new AbortedWriteCommand(x.lba, x.blocks, delay)),
    );
  } else {
    arbs.push(disjointRanges(set.regionBlocks, set.maxBlocks).map((ranges) => new ConcurrentWritesCommand(ranges)));
    if (supported('write-same')) {
      arbs.push(fc.tuple(r, fc.boolean()).map(([x, zero]) => new WriteSameCommand(x.lba, x.blocks, zero)));
    }
    if (supported('unmap')) arbs.push(r.map((x) => new UnmapCommand(x.lba, x.blocks)));
    if (supported('compare-and-write')) {
      arbs.push(
        fc
          .tuple(range(set.regionBlocks, set.facts.maxCompareAndWriteBlocks), fc.boolean())
          .map(([x, match]) => new CompareAndWriteCommand(x.lba, x.blocks, match)),
      );
    }
    if (supported('synchronize-cache')) arbs.push(fc.constant(new SyncCommand()));
  }
  return fc.commands(arbs, {
    maxCommands: set.maxCommands,
    ...(replayPath === undefined ? {} : { replayPath }),
  });
}

/** Makes the region zeros (WRITE SAME when the LUN has it, else plain writes). */
export async function zeroRegion(run: RunContext, lun: Lun, region: ScratchRegion, facts: LunFacts): Promise<void> {
  if (!facts.unsupported.has('write-same')) {
    await run.bounded(
      lun.promises.writeSame(region.firstLba, region.blocks, { data: Buffer.alloc(facts.blockSize) }),
      'WRITE SAME (zero the region)',
    );
    return;
  }
  const step = Math.max(1, Math.floor((256 << 10) / facts.blockSize));
  for (let lba = 0; lba < region.blocks; lba += step) {
    const blocks = Math.min(step, region.blocks - lba);
    await run.bounded(
      lun.promises.write(region.firstLba + lba, Buffer.alloc(blocks * facts.blockSize)),
      'WRITE (zero the region)',
    );
  }
}
