/**
 * The LUN every TCP benchmark reads: 256 MiB of non-zero data, in a file in a temp dir (removed by `remove()`) or
 * in a memory backend. Pre-filled, because reading holes of a sparse file, or unmapped memory chunks, would
 * flatter a target: it would hand out zeros without touching data.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBackend } from '../../backends/memory.js';

/** 256 MiB, as the task and bench/peers/iscsi-perf.ts use. */
export const LUN_BYTES = 256 * 2 ** 20;
/** 512-byte logical blocks, as tgt uses by default. */
export const LUN_BLOCK_BYTES = 512;

const PIECE = 1 << 20;

/** One MiB of a repeating, non-zero pattern. */
function patternPiece(): Buffer {
  const piece = Buffer.alloc(PIECE);
  for (let i = 0; i < piece.length; i++) piece[i] = (i * 131 + 7) & 0xff || 1;
  return piece;
}

/** A filled image file in its own temp dir. */
export interface LunImageFile {
  readonly path: string;
  readonly bytes: number;
  /** Removes the temp dir; safe to call twice. */
  remove(): Promise<void>;
}

/** Writes a filled image of `bytes` (default {@link LUN_BYTES}) into a fresh temp dir. */
export async function createLunImageFile(bytes = LUN_BYTES): Promise<LunImageFile> {
  const dir = await mkdtemp(join(tmpdir(), 'iser-bench-'));
  const path = join(dir, 'lun.img');
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const piece = patternPiece();
    const handle = await open(path, 'wx');
    try {
      for (let offset = 0; offset < bytes; offset += PIECE) {
        await handle.write(piece, 0, Math.min(PIECE, bytes - offset), offset);
      }
    } finally {
      await handle.close();
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return { path, bytes, remove };
}

/** A memory backend of `bytes` with every block written (so reads copy real data, as from a file). */
export async function createFilledMemoryBackend(bytes = LUN_BYTES): Promise<MemoryBackend> {
  const backend = new MemoryBackend(bytes / LUN_BLOCK_BYTES, { blockSize: LUN_BLOCK_BYTES });
  const piece = patternPiece();
  for (let offset = 0; offset < bytes; offset += PIECE) {
    const length = Math.min(PIECE, bytes - offset);
    await backend.write(offset / LUN_BLOCK_BYTES, [piece.subarray(0, length)], { fua: false });
  }
  return backend;
}
