import { mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError } from '../../backends/errors.js';
import { FileBackend } from '../../backends/file.js';
import * as cdb from '../../protocol/scsi/cdb/build.js';
import { encodeUnmapParameterList } from '../../protocol/scsi/data/unmap.js';
import { LogicalUnit } from '../../protocol/scsi/target/logical-unit.js';
import { good, run } from '../protocol/scsi/target/harness.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iser-file-backend-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileBackend', () => {
  it('creates a sparse file of the given size that reads as zeros', async () => {
    const path = join(dir, 'new.img');
    const backend = await FileBackend.open(path, { size: 1 << 20 });
    expect(backend.blockCount).toBe(2048);
    expect((await stat(path)).size).toBe(1 << 20);
    expect(Buffer.concat(await backend.read(2040, 8)).every((b) => b === 0)).toBe(true);
    await backend.close();
  });

  it('keeps FUA writes and flushed writes across close and reopen', async () => {
    const path = join(dir, 'durable.img');
    const backend = await FileBackend.open(path, { size: 64 * 512 });
    await backend.write(3, [Buffer.alloc(100, 1), Buffer.alloc(924, 2)], { fua: true });
    await backend.write(10, [Buffer.alloc(512, 3)], { fua: false });
    await backend.flush();
    await backend.close();
    const reopened = await FileBackend.open(path);
    expect(reopened.blockCount).toBe(64);
    const data = Buffer.concat(await reopened.read(3, 2));
    expect(data.subarray(0, 100).every((b) => b === 1)).toBe(true);
    expect(data.subarray(100).every((b) => b === 2)).toBe(true);
    expect(Buffer.concat(await reopened.read(10, 1)).every((b) => b === 3)).toBe(true);
    await reopened.close();
  });

  it('matches a byte-array model under random writes and unmaps', async () => {
    const path = join(dir, 'model.img');
    const backend = await FileBackend.open(path, { size: 32 * 512 });
    const model = Buffer.alloc(32 * 512);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            unmap: fc.boolean(),
            lba: fc.integer({ min: 0, max: 31 }),
            blocks: fc.integer({ min: 1, max: 4 }),
            fill: fc.integer({ min: 1, max: 255 }),
          }),
          { maxLength: 10 },
        ),
        async (ops) => {
          for (const op of ops) {
            const blocks = Math.min(op.blocks, 32 - op.lba);
            if (op.unmap) {
              await backend.unmap([{ lba: op.lba, blocks }]);
              model.fill(0, op.lba * 512, (op.lba + blocks) * 512);
            } else {
              await backend.write(op.lba, [Buffer.alloc(blocks * 512, op.fill)], { fua: false });
              model.fill(op.fill, op.lba * 512, (op.lba + blocks) * 512);
            }
          }
          expect(Buffer.concat(await backend.read(0, 32))).toEqual(model);
        },
      ),
      { numRuns: 30 },
    );
    await backend.close();
  });

  it('extends a short file but never truncates a long one', async () => {
    const path = join(dir, 'long.img');
    await writeFile(path, Buffer.alloc(8192, 5));
    const backend = await FileBackend.open(path, { size: 4096 });
    expect(backend.blockCount).toBe(8);
    await backend.close();
    expect((await stat(path)).size).toBe(8192);
  });

  it('reads zeros where someone shortened the file underneath', async () => {
    const path = join(dir, 'shrunk.img');
    const backend = await FileBackend.open(path, { size: 4096 });
    await backend.write(7, [Buffer.alloc(512, 9)], { fua: false });
    await truncate(path, 3584);
    expect(Buffer.concat(await backend.read(7, 1)).every((b) => b === 0)).toBe(true);
    await backend.close();
  });

  it("never returns earlier reads' bytes (its buffers are uninitialised slab pieces) past a shortened end", async () => {
    const path = join(dir, 'slab.img');
    const backend = await FileBackend.open(path, { size: 64 * 512 });
    await backend.write(0, [Buffer.alloc(64 * 512, 0xa5)], { fua: false });
    for (let i = 0; i < 600; i++) await backend.read(i % 60, 4); // fills slabs with 0xa5
    await truncate(path, 10 * 512 + 100);
    const [tail] = await backend.read(10, 4);
    expect(tail?.subarray(0, 100).every((b) => b === 0xa5)).toBe(true);
    expect(tail?.subarray(100).every((b) => b === 0)).toBe(true);
    await backend.close();
  });

  it('closes only once the reads in flight are done (their fd is never reused under them)', async () => {
    const path = join(dir, 'inflight.img');
    const backend = await FileBackend.open(path, { size: 256 * 512 });
    await backend.write(0, [Buffer.alloc(256 * 512, 7)], { fua: false });
    const reads = Array.from({ length: 16 }, (_, i) => backend.read(i * 16, 16));
    const closed = backend.close();
    const [all] = await Promise.all([Promise.all(reads), closed, backend.close()]);
    for (const data of all) expect(Buffer.concat(data).every((b) => b === 7)).toBe(true);
    await expect(backend.read(0, 1)).rejects.toMatchObject({ code: 'ERR_BACKEND_CLOSED' });
  });

  it('sizes itself from an existing file, ignoring a partial last block', async () => {
    const path = join(dir, 'odd.img');
    await writeFile(path, Buffer.alloc(1000));
    const backend = await FileBackend.open(path);
    expect(backend.blockCount).toBe(1);
    await backend.close();
  });

  it('fails with typed errors', async () => {
    await expect(FileBackend.open(join(dir, 'missing.img'))).rejects.toMatchObject({
      code: 'ERR_BACKEND_IO',
      errno: 'ENOENT',
    });
    await writeFile(join(dir, 'empty.img'), '');
    await expect(FileBackend.open(join(dir, 'empty.img'))).rejects.toMatchObject({ code: 'ERR_BACKEND_SIZE' });
    await expect(FileBackend.open(join(dir, 'x.img'), { size: 1000 })).rejects.toMatchObject({
      code: 'ERR_BACKEND_SIZE',
    });
    await expect(FileBackend.open(dir)).rejects.toBeInstanceOf(BackendError);
    const backend = await FileBackend.open(join(dir, 'closed.img'), { size: 4096 });
    await backend.close();
    await expect(backend.read(0, 1)).rejects.toMatchObject({ code: 'ERR_BACKEND_CLOSED' });
    await expect(FileBackend.open(join(dir, 'r.img'), { size: 4096 }).then((b) => b.read(8, 1))).rejects.toMatchObject({
      code: 'ERR_BACKEND_RANGE',
    });
  });

  it('serves a LogicalUnit: FUA and SYNCHRONIZE CACHE writes survive reopening, UNMAP reads back zeros', async () => {
    const path = join(dir, 'lu.img');
    const backend = await FileBackend.open(path, { size: 128 * 512 });
    const unit = new LogicalUnit({ backend, identity: { serial: 'file-lu' } });
    await run(unit, cdb.testUnitReady());
    await good(unit, cdb.write10({ lba: 1, blocks: 2, fua: true }), { dataOut: Buffer.alloc(1024, 0x11) });
    await good(unit, cdb.write16({ lba: 10, blocks: 1 }), { dataOut: Buffer.alloc(512, 0x22) });
    await good(unit, cdb.synchronizeCache());
    const list = encodeUnmapParameterList([{ lba: 2n, blocks: 1 }]);
    await good(unit, cdb.unmap({ parameterListLength: list.length }), { dataOut: list });
    await backend.close();
    const again = new LogicalUnit({ backend: await FileBackend.open(path), identity: { serial: 'file-lu' } });
    await run(again, cdb.testUnitReady());
    const data = await good(again, cdb.read10({ lba: 0, blocks: 11 }));
    expect(data.subarray(512, 1024).every((b) => b === 0x11)).toBe(true);
    expect(data.subarray(1024, 1536).every((b) => b === 0)).toBe(true);
    expect(data.subarray(10 * 512).every((b) => b === 0x22)).toBe(true);
    await again.backend.close?.();
  });
});
