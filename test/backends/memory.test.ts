import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BackendError } from '../../backends/errors.js';
import { MemoryBackend } from '../../backends/memory.js';

const BLOCK = 16;
const COUNT = 64;

type Op =
  | { kind: 'write'; lba: number; data: Buffer; splits: number[] }
  | { kind: 'unmap'; lba: number; blocks: number }
  | { kind: 'read'; lba: number; blocks: number };

const arbRange = fc
  .integer({ min: 0, max: COUNT - 1 })
  .chain((lba) => fc.record({ lba: fc.constant(lba), blocks: fc.integer({ min: 1, max: COUNT - lba }) }));

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  arbRange.chain(({ lba, blocks }) =>
    fc.record({
      kind: fc.constant('write' as const),
      lba: fc.constant(lba),
      data: fc.uint8Array({ minLength: blocks * BLOCK, maxLength: blocks * BLOCK }).map((a) => Buffer.from(a)),
      splits: fc.array(fc.integer({ min: 0, max: blocks * BLOCK }), { maxLength: 4 }),
    }),
  ),
  arbRange.map((r) => ({ kind: 'unmap' as const, ...r })),
  arbRange.map((r) => ({ kind: 'read' as const, ...r })),
);

/** Cuts `data` at the given offsets: the chunk boundaries a transport hands over are arbitrary. */
function split(data: Buffer, at: number[]): Buffer[] {
  const cuts = [...new Set([0, ...at, data.length])].sort((a, b) => a - b);
  return cuts.slice(1).map((end, i) => data.subarray(cuts[i], end));
}

describe('MemoryBackend', () => {
  it('behaves like a flat byte array with a mapped bitmap (small chunks, random splits)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbOp, { maxLength: 30 }), async (ops) => {
        const backend = new MemoryBackend(COUNT, { blockSize: BLOCK, chunkBytes: 4 * BLOCK });
        const model = Buffer.alloc(COUNT * BLOCK);
        const mapped = new Array<boolean>(COUNT).fill(false);
        for (const op of ops) {
          if (op.kind === 'write') {
            const copy = Buffer.from(op.data);
            await backend.write(op.lba, split(copy, op.splits), { fua: false });
            copy.fill(0xee); // the backend must have copied
            op.data.copy(model, op.lba * BLOCK);
            mapped.fill(true, op.lba, op.lba + op.data.length / BLOCK);
          } else if (op.kind === 'unmap') {
            await backend.unmap([{ lba: op.lba, blocks: op.blocks }]);
            model.fill(0, op.lba * BLOCK, (op.lba + op.blocks) * BLOCK);
            mapped.fill(false, op.lba, op.lba + op.blocks);
          } else {
            const got = Buffer.concat(await backend.read(op.lba, op.blocks));
            expect(got).toEqual(model.subarray(op.lba * BLOCK, (op.lba + op.blocks) * BLOCK));
          }
        }
        expect(Buffer.concat(await backend.read(0, COUNT))).toEqual(model);
        // Mapping extents tile the medium and agree with the model.
        let lba = 0;
        while (lba < COUNT) {
          const extent = await backend.mapping(lba, COUNT);
          expect(extent.blocks).toBeGreaterThan(0);
          for (let b = lba; b < lba + extent.blocks; b++) expect(mapped[b]).toBe(extent.mapped);
          if (lba + extent.blocks < COUNT) expect(mapped[lba + extent.blocks]).toBe(!extent.mapped);
          lba += extent.blocks;
        }
      }),
      { numRuns: 200 },
    );
  });

  it('is sparse: nothing allocated until written, freed again when unmapped', async () => {
    const backend = new MemoryBackend(2 ** 31); // 1 TiB of 512-byte blocks
    expect(backend.allocatedBytes).toBe(0);
    await backend.write(2 ** 30, [Buffer.alloc(512, 1)], { fua: true });
    expect(backend.allocatedBytes).toBe(64 * 1024);
    expect((await backend.read(2 ** 30, 1))[0]![0]).toBe(1);
    await backend.unmap([{ lba: 0, blocks: 2 ** 31 }]);
    expect(backend.allocatedBytes).toBe(0);
    expect(await backend.mapping(0, 1 << 20)).toEqual({ mapped: false, blocks: 1 << 20 });
  });

  it('returns buffers the caller owns', async () => {
    const backend = new MemoryBackend(4, { blockSize: 512 });
    await backend.write(0, [Buffer.alloc(512, 7)], { fua: false });
    const [first] = await backend.read(0, 1);
    first!.fill(0);
    expect((await backend.read(0, 1))[0]![0]).toBe(7);
  });

  it('refuses ranges outside the medium and partial blocks', async () => {
    const backend = new MemoryBackend(4, { blockSize: 512 });
    await expect(backend.read(3, 2)).rejects.toThrow(BackendError);
    await expect(backend.write(0, [Buffer.alloc(100)], { fua: false })).rejects.toThrow(BackendError);
    await expect(backend.unmap([{ lba: 4, blocks: 1 }])).rejects.toThrow(BackendError);
    await expect(backend.mapping(4, 1)).rejects.toThrow(BackendError);
    expect(() => new MemoryBackend(0)).toThrow(BackendError);
  });

  it('resizes, dropping what falls off the end', async () => {
    const backend = new MemoryBackend(8, { blockSize: 512 });
    await backend.write(6, [Buffer.alloc(1024, 9)], { fua: false });
    await backend.resize(4);
    expect(backend.blockCount).toBe(4);
    await backend.resize(8);
    expect(Buffer.concat(await backend.read(6, 2)).every((b) => b === 0)).toBe(true);
  });

  it('reads never-written blocks as zeros even when its read buffers held data before (uninitialised slab pieces)', async () => {
    const backend = new MemoryBackend(64, { blockSize: 512, chunkBytes: 4 * 512 });
    await backend.write(0, [Buffer.alloc(8 * 512, 0xa5)], { fua: false });
    for (let i = 0; i < 300; i++) await backend.read(0, 8); // slab pieces full of 0xa5
    const data = Buffer.concat(await backend.read(6, 8)); // blocks 6-7 written, 8-13 never
    expect(data.subarray(0, 2 * 512).every((b) => b === 0xa5)).toBe(true);
    expect(data.subarray(2 * 512).every((b) => b === 0)).toBe(true);
  });
});
