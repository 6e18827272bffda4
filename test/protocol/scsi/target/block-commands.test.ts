import { describe, expect, it, vi } from 'vitest';
import { MemoryBackend } from '../../../../backends/memory.js';
import * as cdb from '../../../../protocol/scsi/cdb/build.js';
import { decodeLbaStatus } from '../../../../protocol/scsi/data/lba-status.js';
import { encodeUnmapParameterList } from '../../../../protocol/scsi/data/unmap.js';
import { AdditionalSense as A, SenseKey as K } from '../../../../protocol/scsi/sense-codes.js';
import { ScsiStatus } from '../../../../protocol/scsi/status.js';
import { LogicalUnit } from '../../../../protocol/scsi/target/logical-unit.js';
import { check, good, NEXUS_A, readyUnit, run } from './harness.js';

const N = 1024; // blocks in the test unit
const BS = 512;
const fill = (blocks: number, byte: number): Buffer => Buffer.alloc(blocks * BS, byte);

describe('READ and WRITE', () => {
  it('reads back what was written, through every CDB size', async () => {
    const { unit } = await readyUnit(N);
    const writes = [
      cdb.write6({ lba: 1, blocks: 2 }),
      cdb.write10({ lba: 3, blocks: 2 }),
      cdb.write12({ lba: 5, blocks: 2 }),
      cdb.write16({ lba: 7, blocks: 2 }),
    ];
    for (const [i, w] of writes.entries()) await good(unit, w, { dataOut: fill(2, i + 1) });
    const all = await good(unit, cdb.read16({ lba: 1, blocks: 8 }));
    expect(all).toEqual(Buffer.concat([fill(2, 1), fill(2, 2), fill(2, 3), fill(2, 4)]));
    expect(await good(unit, cdb.read6({ lba: 1, blocks: 2 }))).toEqual(fill(2, 1));
    expect(await good(unit, cdb.read10({ lba: 3, blocks: 2 }))).toEqual(fill(2, 2));
    expect(await good(unit, cdb.read12({ lba: 5, blocks: 2 }))).toEqual(fill(2, 3));
  });

  it('transfers 256 blocks for READ(6) with a transfer length of 0', async () => {
    const { unit } = await readyUnit(N);
    expect((await good(unit, cdb.read6({ lba: 0, blocks: 256 }))).length).toBe(256 * BS);
  });

  it('treats zero blocks as no transfer, but still checks the LBA', async () => {
    const { unit } = await readyUnit(N);
    expect((await run(unit, cdb.read10({ lba: 0, blocks: 0 }))).data.length).toBe(0);
    const write = await run(unit, cdb.write10({ lba: 0, blocks: 0 }), { dataOut: Buffer.alloc(0) });
    expect([write.status, write.pulls]).toEqual([ScsiStatus.Good, 0]);
    for (const lba of [BigInt(N + 1), 2n ** 63n, 2n ** 64n - 1n]) {
      await check(unit, cdb.read16({ lba, blocks: 0 }), K.IllegalRequest, A.LogicalBlockAddressOutOfRange);
    }
  });

  it('answers LBA OUT OF RANGE beyond the end of the medium, without pulling data', async () => {
    const { unit } = await readyUnit(N);
    for (let i = 1; i <= 4; i++) {
      await check(unit, cdb.read10({ lba: N + 1 - i, blocks: i }), K.IllegalRequest, A.LogicalBlockAddressOutOfRange);
      const outcome = await run(unit, cdb.write16({ lba: N - 1, blocks: i + 1 }), { dataOut: fill(i + 1, 1) });
      expect([outcome.status, outcome.sense?.asc, outcome.pulls]).toEqual([ScsiStatus.CheckCondition, 0x21, 0]);
    }
    await check(
      unit,
      cdb.read16({ lba: 2n ** 64n - 1n, blocks: 2 }),
      K.IllegalRequest,
      A.LogicalBlockAddressOutOfRange,
    );
    await good(unit, cdb.read10({ lba: N - 1, blocks: 1 }));
  });

  it('refuses RDPROTECT/WRPROTECT (no protection information) pointing at byte 1 bit 7', async () => {
    const { unit } = await readyUnit(N);
    for (let protect = 1; protect < 8; protect++) {
      const sense = await check(
        unit,
        cdb.read10({ lba: 0, blocks: 1, protect }),
        K.IllegalRequest,
        A.InvalidFieldInCdb,
      );
      expect(sense.senseKeySpecific).toEqual({ kind: 'field-pointer', inCdb: true, bitPointer: 7, fieldPointer: 1 });
      await check(unit, cdb.write16({ lba: 0, blocks: 1, protect }), K.IllegalRequest, A.InvalidFieldInCdb, {
        dataOut: fill(1, 0),
      });
    }
  });

  it('honours FUA (and forces it while the write cache is disabled); accepts DPO', async () => {
    const { unit, backend } = await readyUnit(N);
    const write = vi.spyOn(backend, 'write');
    await good(unit, cdb.write10({ lba: 0, blocks: 1, fua: true, dpo: true }), { dataOut: fill(1, 1) });
    await good(unit, cdb.write10({ lba: 0, blocks: 1 }), { dataOut: fill(1, 1) });
    await good(unit, cdb.read10({ lba: 0, blocks: 1, fua: true, dpo: true, rarc: true }));
    expect(write.mock.calls.map((c) => c[2].fua)).toEqual([true, false]);
    // WCE off: write-through.
    const caching = Buffer.from(await good(unit, cdb.modeSense({ cdbLength: 6, pageCode: 0x08, dbd: true })));
    caching[0] = 0;
    caching[4 + 2] = caching[4 + 2]! & ~0x04;
    await good(unit, cdb.modeSelect({ cdbLength: 6, parameterListLength: caching.length }), { dataOut: caching });
    await good(unit, cdb.write10({ lba: 0, blocks: 1 }), { dataOut: fill(1, 1) });
    expect(write.mock.calls.at(-1)?.[2].fua).toBe(true);
  });

  it('refuses a transfer longer than MAXIMUM TRANSFER LENGTH, pointing at the length field', async () => {
    const { unit } = await readyUnit(N, { limits: { maxTransferLength: 8 } });
    await good(unit, cdb.read10({ lba: 0, blocks: 8 }));
    const sense = await check(unit, cdb.read10({ lba: 0, blocks: 9 }), K.IllegalRequest, A.InvalidFieldInCdb);
    expect(sense.senseKeySpecific).toMatchObject({ fieldPointer: 7 });
    const w16 = await run(unit, cdb.write16({ lba: 0, blocks: 9 }), { dataOut: fill(9, 1) });
    expect([w16.sense?.asc, w16.sense?.senseKeySpecific, w16.pulls]).toEqual([
      0x24,
      { kind: 'field-pointer', inCdb: true, fieldPointer: 10 },
      0,
    ]);
  });

  it('refuses, without pulling, a write whose declared data-out is shorter than the CDB', async () => {
    const { unit } = await readyUnit(N);
    const outcome = await run(unit, cdb.write10({ lba: 0, blocks: 2 }), { dataOut: fill(2, 9), edtl: 512 });
    expect(outcome.pulls).toBe(0);
    expect(outcome.sense).toMatchObject({ key: K.IllegalRequest, asc: 0x0e, ascq: 0x03 });
    expect(await good(unit, cdb.read10({ lba: 0, blocks: 2 }))).toEqual(fill(2, 0));
  });

  it('pulls only what the CDB transfers when the initiator declared more', async () => {
    const { unit } = await readyUnit(N);
    const pulled: number[] = [];
    const response = await unit.execute({
      cdb: cdb.write10({ lba: 0, blocks: 1 }),
      nexus: NEXUS_A,
      expectedDataTransferLength: 10_000,
      direction: 'write',
      getDataOut: (_offset, length) => {
        pulled.push(length);
        return Promise.resolve([Buffer.alloc(10_000, 3)]);
      },
    });
    expect(response.status).toBe(ScsiStatus.Good);
    expect(pulled).toEqual([512]);
    expect(await good(unit, cdb.read10({ lba: 0, blocks: 2 }))).toEqual(Buffer.concat([fill(1, 3), fill(1, 0)]));
  });

  it('answers DATA PROTECT on a read-only unit, before pulling data', async () => {
    const { unit } = await readyUnit(N, { readOnly: true });
    const outcome = await run(unit, cdb.write10({ lba: 0, blocks: 1 }), { dataOut: fill(1, 1) });
    expect([outcome.sense?.key, outcome.sense?.asc, outcome.pulls]).toEqual([K.DataProtect, 0x27, 0]);
    await check(unit, cdb.writeSame({ lba: 0, blocks: 1, ndob: true }), K.DataProtect, A.WriteProtected);
    await check(unit, cdb.unmap({ parameterListLength: 24 }), K.DataProtect, A.WriteProtected, {
      dataOut: encodeUnmapParameterList([{ lba: 0n, blocks: 1 }]),
    });
    await good(unit, cdb.read10({ lba: 0, blocks: 1 }));
    const header = await good(unit, cdb.modeSense({ cdbLength: 6, pageCode: 0x3f }));
    expect(header[2]! & 0x80).toBe(0x80); // WP
  });

  it('never tears overlapping concurrent writes within a block (range locks serialise them)', async () => {
    const backend = new MemoryBackend(64, { blockSize: BS });
    // A slow backend that writes one block at a time, yielding in between: unlocked writes would interleave.
    const slow = Object.create(backend) as MemoryBackend;
    slow.write = async (lba, data, options) => {
      const bytes = Buffer.concat(data);
      for (let b = 0; b < bytes.length / BS; b++) {
        await new Promise((resolve) => setImmediate(resolve));
        await backend.write(lba + b, [bytes.subarray(b * BS, (b + 1) * BS)], options);
      }
    };
    const unit = new LogicalUnit({ backend: slow });
    await run(unit, cdb.testUnitReady());
    await Promise.all([
      good(unit, cdb.write10({ lba: 0, blocks: 8 }), { dataOut: fill(8, 0xaa) }),
      good(unit, cdb.write10({ lba: 4, blocks: 8 }), { dataOut: fill(8, 0xbb) }),
      good(unit, cdb.write10({ lba: 2, blocks: 4 }), { dataOut: fill(4, 0xcc) }),
    ]);
    const data = await good(unit, cdb.read10({ lba: 0, blocks: 12 }));
    // Arrival order wins on every overlap: aa for 0-1, cc for 2-5, bb for 6-11.
    expect(data).toEqual(Buffer.concat([fill(2, 0xaa), fill(4, 0xcc), fill(6, 0xbb)]));
  });
});

describe('VERIFY and WRITE AND VERIFY', () => {
  it('BYTCHK 0 checks the range only; 1 compares every byte; 3 compares one block against each', async () => {
    const { unit } = await readyUnit(N);
    await good(unit, cdb.write10({ lba: 10, blocks: 4 }), { dataOut: fill(4, 7) });
    const none = await run(unit, cdb.verify({ cdbLength: 10, lba: 10, blocks: 4 }));
    expect([none.status, none.pulls]).toEqual([ScsiStatus.Good, 0]);
    await good(unit, cdb.verify({ lba: 10, blocks: 4, bytchk: 1 }), { dataOut: fill(4, 7) });
    await good(unit, cdb.verify({ cdbLength: 12, lba: 10, blocks: 4, bytchk: 3 }), { dataOut: fill(1, 7) });
    for (const offset of [0, 511, 512, 1500, 2047]) {
      const sent = fill(4, 7);
      sent[offset] = 8;
      const sense = await check(
        unit,
        cdb.verify({ lba: 10, blocks: 4, bytchk: 1 }),
        K.Miscompare,
        A.MiscompareDuringVerifyOperation,
        {
          dataOut: sent,
        },
      );
      expect(sense.information).toBe(BigInt(offset));
    }
    const one = fill(1, 7);
    one[100] = 0;
    const sense = await check(
      unit,
      cdb.verify({ lba: 9, blocks: 2, bytchk: 3 }),
      K.Miscompare,
      A.MiscompareDuringVerifyOperation,
      {
        dataOut: one,
      },
    );
    expect(sense.information).toBe(0n); // block 9 was never written: it differs at its first byte
    await check(unit, cdb.verify({ lba: 10, blocks: 1, bytchk: 2 }), K.IllegalRequest, A.InvalidFieldInCdb);
    await check(unit, cdb.verify({ lba: BigInt(N), blocks: 1 }), K.IllegalRequest, A.LogicalBlockAddressOutOfRange);
    await check(unit, cdb.verify({ lba: 0, blocks: 1, protect: 1 }), K.IllegalRequest, A.InvalidFieldInCdb);
  });

  it('WRITE AND VERIFY writes through to the medium and compares when BYTCHK is 1', async () => {
    const { unit, backend } = await readyUnit(N);
    const write = vi.spyOn(backend, 'write');
    await good(unit, cdb.writeAndVerify({ cdbLength: 10, lba: 0, blocks: 2, bytchk: 1 }), { dataOut: fill(2, 4) });
    await good(unit, cdb.writeAndVerify({ cdbLength: 16, lba: 2, blocks: 2, dpo: true }), { dataOut: fill(2, 5) });
    expect(write.mock.calls.map((c) => c[2].fua)).toEqual([true, true]);
    expect(await good(unit, cdb.read10({ lba: 0, blocks: 4 }))).toEqual(Buffer.concat([fill(2, 4), fill(2, 5)]));
    await check(unit, cdb.writeAndVerify({ lba: 0, blocks: 1, bytchk: 2 }), K.IllegalRequest, A.InvalidFieldInCdb, {
      dataOut: fill(1, 0),
    });
  });
});

describe('COMPARE AND WRITE', () => {
  it('writes when the compare data matches and reports the first differing byte otherwise', async () => {
    const { unit } = await readyUnit(N);
    await good(unit, cdb.write16({ lba: 5, blocks: 2 }), { dataOut: fill(2, 0x41) });
    await good(unit, cdb.compareAndWrite({ lba: 5, blocks: 2, fua: true, dpo: true }), {
      dataOut: Buffer.concat([fill(2, 0x41), fill(2, 0x42)]),
    });
    expect(await good(unit, cdb.read16({ lba: 5, blocks: 2 }))).toEqual(fill(2, 0x42));
    for (const offset of [0, 1, 511, 512, 1023]) {
      const compare = fill(2, 0x42);
      compare[offset] = 0x5a;
      const sense = await check(
        unit,
        cdb.compareAndWrite({ lba: 5, blocks: 2 }),
        K.Miscompare,
        A.MiscompareDuringVerifyOperation,
        {
          dataOut: Buffer.concat([compare, fill(2, 0x43)]),
        },
      );
      expect(sense.information).toBe(BigInt(offset));
    }
    expect(await good(unit, cdb.read16({ lba: 5, blocks: 2 }))).toEqual(fill(2, 0x42)); // untouched
  });

  it('checks NUMBER OF LOGICAL BLOCKS against the limit and the medium; 0 is a no-op', async () => {
    const { unit } = await readyUnit(N, { limits: { maxCompareAndWriteLength: 4 } });
    const zero = await run(unit, cdb.compareAndWrite({ lba: 0, blocks: 0 }), { dataOut: Buffer.alloc(0) });
    expect([zero.status, zero.pulls]).toEqual([ScsiStatus.Good, 0]);
    const sense = await check(unit, cdb.compareAndWrite({ lba: 0, blocks: 5 }), K.IllegalRequest, A.InvalidFieldInCdb, {
      dataOut: fill(10, 0),
    });
    expect(sense.senseKeySpecific).toMatchObject({ fieldPointer: 13 });
    await check(
      unit,
      cdb.compareAndWrite({ lba: N - 1, blocks: 2 }),
      K.IllegalRequest,
      A.LogicalBlockAddressOutOfRange,
      {
        dataOut: fill(4, 0),
      },
    );
    await check(unit, cdb.compareAndWrite({ lba: 0, blocks: 1, protect: 2 }), K.IllegalRequest, A.InvalidFieldInCdb, {
      dataOut: fill(2, 0),
    });
  });

  it('is atomic: of many concurrent swaps from the same old value, exactly one wins', async () => {
    const { unit } = await readyUnit(N);
    await good(unit, cdb.write10({ lba: 3, blocks: 1 }), { dataOut: fill(1, 0) });
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        run(unit, cdb.compareAndWrite({ lba: 3, blocks: 1 }), { dataOut: Buffer.concat([fill(1, 0), fill(1, i + 1)]) }),
      ),
    );
    const winners = outcomes.filter((o) => o.status === ScsiStatus.Good);
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => o.sense?.key === K.Miscompare)).toHaveLength(9);
    const winner = outcomes.indexOf(winners[0]!);
    expect(await good(unit, cdb.read10({ lba: 3, blocks: 1 }))).toEqual(fill(1, winner + 1));
  });
});

describe('WRITE SAME', () => {
  it('repeats one block over the range, for both CDBs', async () => {
    const { unit } = await readyUnit(N);
    const block = Buffer.alloc(BS);
    block.write('pattern', 0);
    await good(unit, cdb.writeSame({ cdbLength: 10, lba: 8, blocks: 3 }), { dataOut: block });
    await good(unit, cdb.writeSame({ lba: N - 2, blocks: 2 }), { dataOut: block });
    expect(await good(unit, cdb.read10({ lba: 8, blocks: 3 }))).toEqual(Buffer.concat([block, block, block]));
    expect(await good(unit, cdb.read10({ lba: N - 2, blocks: 2 }))).toEqual(Buffer.concat([block, block]));
  });

  it('with UNMAP, unmaps the range whatever the pattern (it reads back as zeros); without, writes the pattern', async () => {
    const { unit, backend } = await readyUnit(N);
    await good(unit, cdb.write10({ lba: 0, blocks: 20 }), { dataOut: fill(20, 0xff) });
    await good(unit, cdb.writeSame({ lba: 0, blocks: 4, unmap: true }), { dataOut: fill(1, 0) });
    expect(await backend.mapping(0, 20)).toEqual({ mapped: false, blocks: 4 });
    const ndob = await run(unit, cdb.writeSame({ lba: 4, blocks: 4, unmap: true, ndob: true }));
    expect([ndob.status, ndob.pulls]).toEqual([ScsiStatus.Good, 0]);
    expect(await backend.mapping(0, 20)).toEqual({ mapped: false, blocks: 8 });
    // libiscsi's WriteSame10/16.UnmapUntilEnd: a 0xFF pattern with UNMAP (LBPWS10 and LBPWS) still unmaps.
    await good(unit, cdb.writeSame({ cdbLength: 10, lba: 8, blocks: 4, unmap: true }), { dataOut: fill(1, 0xff) });
    await good(unit, cdb.writeSame({ cdbLength: 16, lba: 12, blocks: 2, unmap: true }), { dataOut: fill(1, 7) });
    expect(await backend.mapping(0, 20)).toEqual({ mapped: false, blocks: 14 });
    expect(await good(unit, cdb.read10({ lba: 0, blocks: 15 }))).toEqual(Buffer.concat([fill(14, 0), fill(1, 0xff)]));
    // UNMAP=0 writes, even zeros.
    await good(unit, cdb.writeSame({ cdbLength: 10, lba: 14, blocks: 2 }), { dataOut: fill(1, 1) });
    await good(unit, cdb.writeSame({ lba: 16, blocks: 2 }), { dataOut: fill(1, 0) });
    await good(unit, cdb.writeSame({ lba: 18, blocks: 2, ndob: true }));
    expect(await backend.mapping(14, 6)).toEqual({ mapped: true, blocks: 6 });
    expect(await good(unit, cdb.read10({ lba: 14, blocks: 6 }))).toEqual(Buffer.concat([fill(2, 1), fill(4, 0)]));
  });

  it('takes 0 blocks to mean "to the end", within MAXIMUM WRITE SAME LENGTH', async () => {
    const { unit } = await readyUnit(64, { limits: { maxWriteSameLength: 16 } });
    await good(unit, cdb.writeSame({ lba: 50, blocks: 0 }), { dataOut: fill(1, 9) });
    expect(await good(unit, cdb.read10({ lba: 48, blocks: 16 }))).toEqual(Buffer.concat([fill(2, 0), fill(14, 9)]));
    const sense = await check(unit, cdb.writeSame({ lba: 0, blocks: 0 }), K.IllegalRequest, A.InvalidFieldInCdb, {
      dataOut: fill(1, 9),
    });
    expect(sense.senseKeySpecific).toMatchObject({ fieldPointer: 10 });
    await check(unit, cdb.writeSame({ cdbLength: 10, lba: 0, blocks: 17 }), K.IllegalRequest, A.InvalidFieldInCdb, {
      dataOut: fill(1, 9),
    });
    const end = await run(unit, cdb.writeSame({ lba: 64, blocks: 0 }), { dataOut: fill(1, 9) });
    expect([end.status, end.pulls]).toEqual([ScsiStatus.Good, 0]);
  });

  it('refuses ANCHOR, PBDATA, LBDATA and protection; checks the range', async () => {
    const { unit } = await readyUnit(N);
    const opts = { dataOut: fill(1, 0) };
    for (const [fields, bit] of [
      [{ anchor: true, unmap: true }, 4],
      [{ pbdata: true }, 2],
      [{ lbdata: true }, 1],
      [{ protect: 3 }, 7],
    ] as const) {
      const sense = await check(
        unit,
        cdb.writeSame({ lba: 0, blocks: 1, ...fields }),
        K.IllegalRequest,
        A.InvalidFieldInCdb,
        opts,
      );
      expect(sense.senseKeySpecific).toMatchObject({ fieldPointer: 1, bitPointer: bit });
    }
    for (const lba of [BigInt(N + 1), 2n ** 63n, 2n ** 64n - 1n]) {
      await check(unit, cdb.writeSame({ lba, blocks: 1 }), K.IllegalRequest, A.LogicalBlockAddressOutOfRange, opts);
    }
    await check(
      unit,
      cdb.writeSame({ lba: N - 1, blocks: 2 }),
      K.IllegalRequest,
      A.LogicalBlockAddressOutOfRange,
      opts,
    );
    await check(unit, cdb.writeSame({ lba: 0, blocks: 1 }), K.IllegalRequest, 0x0e03, {
      dataOut: fill(1, 0),
      edtl: 256,
    });
  });
});

describe('UNMAP', () => {
  it('unmaps every described range; unmapped blocks read as zeros', async () => {
    const { unit, backend } = await readyUnit(N);
    await good(unit, cdb.write10({ lba: 0, blocks: 32 }), { dataOut: fill(32, 0x61) });
    const list = encodeUnmapParameterList([
      { lba: 0n, blocks: 2 },
      { lba: 10n, blocks: 5 },
      { lba: 31n, blocks: 1 },
      { lba: BigInt(N), blocks: 0 },
    ]);
    await good(unit, cdb.unmap({ parameterListLength: list.length }), { dataOut: list });
    expect(await backend.mapping(0, 32)).toEqual({ mapped: false, blocks: 2 });
    expect(await backend.mapping(10, 32)).toEqual({ mapped: false, blocks: 5 });
    const data = await good(unit, cdb.read10({ lba: 0, blocks: 32 }));
    expect(data.subarray(0, 2 * BS).every((b) => b === 0)).toBe(true);
    expect(data.subarray(2 * BS, 10 * BS).every((b) => b === 0x61)).toBe(true);
    expect(data.subarray(31 * BS).every((b) => b === 0)).toBe(true);
  });

  it('accepts overlapping descriptors in one list (found by the model test: it used to wait for itself)', async () => {
    const { unit } = await readyUnit(N);
    await good(unit, cdb.write10({ lba: 0, blocks: 8 }), { dataOut: fill(8, 1) });
    const list = encodeUnmapParameterList([
      { lba: 0n, blocks: 6 },
      { lba: 2n, blocks: 2 },
      { lba: 5n, blocks: 2 },
    ]);
    await good(unit, cdb.unmap({ parameterListLength: list.length }), { dataOut: list });
    expect(await good(unit, cdb.read10({ lba: 0, blocks: 8 }))).toEqual(Buffer.concat([fill(7, 0), fill(1, 1)]));
  });

  it('accepts an empty list and zero-length descriptors', async () => {
    const { unit } = await readyUnit(N);
    await good(unit, cdb.unmap({ parameterListLength: 0 }), { dataOut: Buffer.alloc(0) });
    const list = encodeUnmapParameterList([{ lba: 5n, blocks: 0 }]);
    await good(unit, cdb.unmap({ parameterListLength: list.length }), { dataOut: list });
    const header = encodeUnmapParameterList([]);
    await good(unit, cdb.unmap({ parameterListLength: header.length }), { dataOut: header });
  });

  it('checks the whole list before unmapping anything', async () => {
    const { unit } = await readyUnit(N, { limits: { maxUnmapBlockDescriptorCount: 2, maxUnmapLbaCount: 10 } });
    await good(unit, cdb.write10({ lba: 0, blocks: 4 }), { dataOut: fill(4, 1) });
    const run_ = (descriptors: { lba: bigint; blocks: number }[]): Promise<unknown> => {
      const list = encodeUnmapParameterList(descriptors);
      return run(unit, cdb.unmap({ parameterListLength: list.length }), { dataOut: list });
    };
    expect(
      await run_([
        { lba: 0n, blocks: 1 },
        { lba: BigInt(N), blocks: 1 },
      ]),
    ).toMatchObject({
      sense: { key: K.IllegalRequest, asc: 0x21 },
    });
    expect(
      await run_([
        { lba: 0n, blocks: 1 },
        { lba: 1n, blocks: 1 },
        { lba: 2n, blocks: 1 },
      ]),
    ).toMatchObject({
      sense: { asc: 0x26, senseKeySpecific: { inCdb: false, fieldPointer: 2 } },
    });
    expect(
      await run_([
        { lba: 0n, blocks: 6 },
        { lba: 20n, blocks: 5 },
      ]),
    ).toMatchObject({
      sense: { asc: 0x26, senseKeySpecific: { inCdb: false, fieldPointer: 24 + 8 } },
    });
    expect(await good(unit, cdb.read10({ lba: 0, blocks: 4 }))).toEqual(fill(4, 1));
    await check(unit, cdb.unmap({ parameterListLength: 7 }), K.IllegalRequest, A.ParameterListLengthError, {
      dataOut: Buffer.alloc(7),
    });
    await check(unit, cdb.unmap({ parameterListLength: 24, anchor: true }), K.IllegalRequest, A.InvalidFieldInCdb, {
      dataOut: Buffer.alloc(24),
    });
  });
});

describe('GET LBA STATUS', () => {
  it('reports mapped and deallocated extents from the starting LBA', async () => {
    const { unit } = await readyUnit(N);
    await good(unit, cdb.write10({ lba: 0, blocks: 20 }), { dataOut: fill(20, 1) });
    const list = encodeUnmapParameterList([{ lba: 4n, blocks: 4 }]);
    await good(unit, cdb.unmap({ parameterListLength: list.length }), { dataOut: list });
    const all = decodeLbaStatus(await good(unit, cdb.getLbaStatus({ lba: 0 })));
    expect(all.descriptors).toEqual([
      { lba: 0n, blocks: 4, status: 0 },
      { lba: 4n, blocks: 4, status: 1 },
      { lba: 8n, blocks: 12, status: 0 },
      { lba: 20n, blocks: N - 20, status: 1 },
    ]);
    const one = decodeLbaStatus(await good(unit, cdb.getLbaStatus({ lba: 5, allocationLength: 24 })));
    expect(one.descriptors).toEqual([{ lba: 5n, blocks: 3, status: 1 }]);
    await good(unit, cdb.getLbaStatus({ lba: N - 1, allocationLength: 24 }));
  });

  it('answers LBA OUT OF RANGE from the capacity on', async () => {
    const { unit } = await readyUnit(N);
    for (const lba of [BigInt(N), BigInt(N + 1), 2n ** 63n, 2n ** 64n - 1n]) {
      await check(
        unit,
        cdb.getLbaStatus({ lba, allocationLength: 24 }),
        K.IllegalRequest,
        A.LogicalBlockAddressOutOfRange,
      );
    }
  });
});

describe('PRE-FETCH and SYNCHRONIZE CACHE', () => {
  it('PRE-FETCH answers GOOD, or CONDITION MET when the backend says the range is cached', async () => {
    const { unit, backend } = await readyUnit(N);
    await good(unit, cdb.preFetch({ lba: 0, blocks: 8, immed: true, group: 3 }));
    await good(unit, cdb.preFetch({ cdbLength: 10, lba: 0, blocks: 0 }));
    await check(unit, cdb.preFetch({ lba: N - 1, blocks: 2 }), K.IllegalRequest, A.LogicalBlockAddressOutOfRange);
    await check(unit, cdb.preFetch({ lba: 2n ** 63n, blocks: 0 }), K.IllegalRequest, A.LogicalBlockAddressOutOfRange);
    Object.assign(backend, { prefetch: () => Promise.resolve(true) });
    expect((await run(unit, cdb.preFetch({ lba: 0, blocks: 8 }))).status).toBe(ScsiStatus.ConditionMet);
  });

  it('SYNCHRONIZE CACHE flushes the backend after checking the range', async () => {
    const { unit, backend } = await readyUnit(N);
    const flush = vi.spyOn(backend, 'flush');
    await good(unit, cdb.synchronizeCache());
    await good(unit, cdb.synchronizeCache({ cdbLength: 16, lba: 10, blocks: 10, immed: true }));
    expect(flush).toHaveBeenCalledTimes(2);
    await check(unit, cdb.synchronizeCache({ lba: N, blocks: 1 }), K.IllegalRequest, A.LogicalBlockAddressOutOfRange);
    expect(flush).toHaveBeenCalledTimes(2);
  });
});
