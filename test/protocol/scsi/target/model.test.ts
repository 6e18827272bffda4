/**
 * Model-based test: random sequences of SBC commands against a LogicalUnit over a MemoryBackend, checked
 * against a byte array plus a mapped bitmap. Every READ must return what the model holds (read-your-writes),
 * every failure must be the one the model predicts, and GET LBA STATUS must agree with the bitmap.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../../backends/memory.js';
import * as cdb from '../../../../protocol/scsi/cdb/build.js';
import { decodeLbaStatus } from '../../../../protocol/scsi/data/lba-status.js';
import { encodeUnmapParameterList } from '../../../../protocol/scsi/data/unmap.js';
import { SenseKey as K } from '../../../../protocol/scsi/sense-codes.js';
import { ScsiStatus } from '../../../../protocol/scsi/status.js';
import { LogicalUnit } from '../../../../protocol/scsi/target/logical-unit.js';
import { run } from './harness.js';

const BLOCKS = 48;
const BS = 512;

interface Model {
  readonly data: Buffer;
  readonly mapped: boolean[];
}

interface Real {
  readonly unit: LogicalUnit;
}

type Command = fc.AsyncCommand<Model, Real>;

const range = (max = 8) =>
  fc
    .integer({ min: 0, max: BLOCKS - 1 })
    .chain((lba) =>
      fc.record({ lba: fc.constant(lba), blocks: fc.integer({ min: 1, max: Math.min(max, BLOCKS - lba) }) }),
    );

const bytes = (blocks: number) =>
  fc.uint8Array({ minLength: blocks * BS, maxLength: blocks * BS }).map((a) => Buffer.from(a));

/** Deterministic-looking but varied block contents, cheaper than fully random bytes. */
const pattern = (blocks: number, seed: number): Buffer => {
  const buf = Buffer.alloc(blocks * BS);
  for (let i = 0; i < buf.length; i++) buf[i] = (seed + i * 31) & 0xff;
  return buf;
};

class Write implements Command {
  constructor(
    readonly lba: number,
    readonly blocks: number,
    readonly seed: number,
    readonly cdbLength: 6 | 10 | 12 | 16,
    readonly fua: boolean,
  ) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const data = pattern(this.blocks, this.seed);
    const bytes =
      this.cdbLength === 6
        ? cdb.write6({ lba: this.lba, blocks: this.blocks })
        : { 10: cdb.write10, 12: cdb.write12, 16: cdb.write16 }[this.cdbLength]({
            lba: this.lba,
            blocks: this.blocks,
            fua: this.fua,
          });
    const outcome = await run(real.unit, bytes, { dataOut: data });
    expect(outcome.status).toBe(ScsiStatus.Good);
    data.copy(model.data, this.lba * BS);
    model.mapped.fill(true, this.lba, this.lba + this.blocks);
  }
  toString = (): string => `write${this.cdbLength}(${this.lba}, ${this.blocks}, seed ${this.seed})`;
}

class Read implements Command {
  constructor(
    readonly lba: number,
    readonly blocks: number,
  ) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const outcome = await run(real.unit, cdb.read16({ lba: this.lba, blocks: this.blocks }));
    expect(outcome.status).toBe(ScsiStatus.Good);
    expect(outcome.data.equals(model.data.subarray(this.lba * BS, (this.lba + this.blocks) * BS))).toBe(true);
  }
  toString = (): string => `read(${this.lba}, ${this.blocks})`;
}

class ReadBeyondEnd implements Command {
  constructor(readonly blocks: number) {}
  check = (): boolean => true;
  async run(_model: Model, real: Real): Promise<void> {
    const outcome = await run(real.unit, cdb.read10({ lba: BLOCKS - this.blocks + 1, blocks: this.blocks }));
    expect([outcome.status, outcome.sense?.asc]).toEqual([ScsiStatus.CheckCondition, 0x21]);
  }
  toString = (): string => `readBeyondEnd(${this.blocks})`;
}

class Unmap implements Command {
  constructor(readonly ranges: { lba: number; blocks: number }[]) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const list = encodeUnmapParameterList(this.ranges.map((r) => ({ lba: BigInt(r.lba), blocks: r.blocks })));
    const outcome = await run(real.unit, cdb.unmap({ parameterListLength: list.length }), { dataOut: list });
    expect(outcome.status).toBe(ScsiStatus.Good);
    for (const r of this.ranges) {
      model.data.fill(0, r.lba * BS, (r.lba + r.blocks) * BS);
      model.mapped.fill(false, r.lba, r.lba + r.blocks);
    }
  }
  toString = (): string => `unmap(${JSON.stringify(this.ranges)})`;
}

class WriteSame implements Command {
  constructor(
    readonly lba: number,
    readonly blocks: number,
    readonly byte: number,
    readonly unmap: boolean,
    readonly ndob: boolean,
    readonly cdbLength: 10 | 16,
  ) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const block = Buffer.alloc(BS, this.ndob ? 0 : this.byte);
    const outcome = await run(
      real.unit,
      cdb.writeSame({
        cdbLength: this.ndob ? 16 : this.cdbLength,
        lba: this.lba,
        blocks: this.blocks,
        unmap: this.unmap,
        ndob: this.ndob,
      }),
      this.ndob ? {} : { dataOut: block },
    );
    expect(outcome.status).toBe(ScsiStatus.Good);
    // UNMAP=1 unmaps the range whatever the pattern (LBPWS/LBPWS10), and unmapped blocks read as zeros (LBPRZ);
    // UNMAP=0 writes the pattern (zeros with NDOB).
    if (this.unmap) model.data.fill(0, this.lba * BS, (this.lba + this.blocks) * BS);
    else for (let b = this.lba; b < this.lba + this.blocks; b++) block.copy(model.data, b * BS);
    model.mapped.fill(!this.unmap, this.lba, this.lba + this.blocks);
  }
  toString = (): string =>
    `writeSame${this.ndob ? 16 : this.cdbLength}(${this.lba}, ${this.blocks}, ${this.byte}, unmap=${this.unmap}, ndob=${this.ndob})`;
}

class CompareAndWrite implements Command {
  constructor(
    readonly lba: number,
    readonly blocks: number,
    readonly flip: number | undefined,
    readonly seed: number,
  ) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const compare = Buffer.from(model.data.subarray(this.lba * BS, (this.lba + this.blocks) * BS));
    const offset = this.flip === undefined ? undefined : this.flip % compare.length;
    if (offset !== undefined) compare[offset] = compare[offset]! ^ 0x5a;
    const write = pattern(this.blocks, this.seed);
    const outcome = await run(real.unit, cdb.compareAndWrite({ lba: this.lba, blocks: this.blocks }), {
      dataOut: Buffer.concat([compare, write]),
    });
    if (offset === undefined) {
      expect(outcome.status).toBe(ScsiStatus.Good);
      write.copy(model.data, this.lba * BS);
      model.mapped.fill(true, this.lba, this.lba + this.blocks);
    } else {
      expect(outcome.sense).toMatchObject({ key: K.Miscompare, asc: 0x1d, ascq: 0, information: BigInt(offset) });
    }
  }
  toString = (): string => `compareAndWrite(${this.lba}, ${this.blocks}, flip=${this.flip})`;
}

class Verify implements Command {
  constructor(
    readonly lba: number,
    readonly blocks: number,
    readonly flip: number | undefined,
  ) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const sent = Buffer.from(model.data.subarray(this.lba * BS, (this.lba + this.blocks) * BS));
    const offset = this.flip === undefined ? undefined : this.flip % sent.length;
    if (offset !== undefined) sent[offset] = sent[offset]! ^ 0xff;
    const outcome = await run(real.unit, cdb.verify({ lba: this.lba, blocks: this.blocks, bytchk: 1 }), {
      dataOut: sent,
    });
    if (offset === undefined) expect(outcome.status).toBe(ScsiStatus.Good);
    else expect(outcome.sense).toMatchObject({ key: K.Miscompare, information: BigInt(offset) });
  }
  toString = (): string => `verify(${this.lba}, ${this.blocks}, flip=${this.flip})`;
}

class LbaStatus implements Command {
  constructor(readonly lba: number) {}
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const outcome = await run(real.unit, cdb.getLbaStatus({ lba: this.lba, allocationLength: 8 + 16 * 64 }));
    expect(outcome.status).toBe(ScsiStatus.Good);
    let at = this.lba;
    for (const d of decodeLbaStatus(outcome.data).descriptors) {
      expect(d.lba).toBe(BigInt(at));
      for (let b = at; b < at + d.blocks; b++) expect(model.mapped[b], `block ${b}`).toBe(d.status === 0);
      at += d.blocks;
    }
    expect(at).toBe(BLOCKS);
  }
  toString = (): string => `getLbaStatus(${this.lba})`;
}

const commands = [
  fc
    .tuple(range(16), fc.nat(255), fc.constantFrom(6 as const, 10 as const, 12 as const, 16 as const), fc.boolean())
    .map(([r, seed, length, fua]) => new Write(r.lba, r.blocks, seed, length, fua)),
  range(16).map((r) => new Read(r.lba, r.blocks)),
  fc.integer({ min: 2, max: 4 }).map((n) => new ReadBeyondEnd(n)),
  fc.array(range(6), { minLength: 1, maxLength: 3 }).map((ranges) => new Unmap(ranges)),
  fc
    .tuple(
      range(12),
      fc.constantFrom(0, 0, 7, 255),
      fc.boolean(),
      fc.boolean(),
      fc.constantFrom(10 as const, 16 as const),
    )
    .map(([r, byte, unmap, ndob, length]) => new WriteSame(r.lba, r.blocks, byte, unmap, ndob, length)),
  fc
    .tuple(range(4), fc.option(fc.nat(), { nil: undefined }), fc.nat(255))
    .map(([r, flip, seed]) => new CompareAndWrite(r.lba, r.blocks, flip, seed)),
  fc.tuple(range(8), fc.option(fc.nat(), { nil: undefined })).map(([r, flip]) => new Verify(r.lba, r.blocks, flip)),
  fc.integer({ min: 0, max: BLOCKS - 1 }).map((lba) => new LbaStatus(lba)),
];

describe('LogicalUnit model', () => {
  it('behaves like a byte array with a mapped bitmap under random command sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 40 }), async (cmds) => {
        const unit = new LogicalUnit({ backend: new MemoryBackend(BLOCKS, { blockSize: BS, chunkBytes: 4 * BS }) });
        await run(unit, cdb.testUnitReady()); // collect POWER ON
        const setup = () => ({
          model: { data: Buffer.alloc(BLOCKS * BS), mapped: new Array<boolean>(BLOCKS).fill(false) },
          real: { unit },
        });
        await fc.asyncModelRun(setup, cmds);
      }),
      { numRuns: 150 },
    );
  });

  it('random write payloads survive byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(
        range(4).chain((r) => fc.tuple(fc.constant(r), bytes(r.blocks))),
        async ([r, data]) => {
          const unit = new LogicalUnit({ backend: new MemoryBackend(BLOCKS) });
          await run(unit, cdb.testUnitReady());
          await run(unit, cdb.write16({ lba: r.lba, blocks: r.blocks }), { dataOut: data });
          expect((await run(unit, cdb.read16({ lba: r.lba, blocks: r.blocks }))).data).toEqual(data);
        },
      ),
      { numRuns: 50 },
    );
  });
});
