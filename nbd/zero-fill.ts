/**
 * Zeroing a range by writing zero buffers, for devices that cannot zero by themselves. One shared 1 MiB buffer of
 * zeros is written piece by piece, so zeroing a whole export costs no more memory than that.
 */
import type { BlockDevice } from './block-device.js';

/** Bytes written per call; a multiple of every valid block size (powers of two up to 64 KiB). */
const ZERO_PIECE = 1024 * 1024;
let zeroes: Buffer | undefined;

/** Writes zeros over `length` bytes at `offset` (both whole blocks). */
export async function writeZeroBuffers(
  device: BlockDevice,
  offset: number,
  length: number,
  fua: boolean,
): Promise<void> {
  zeroes ??= Buffer.alloc(ZERO_PIECE);
  for (let done = 0; done < length;) {
    const piece = Math.min(ZERO_PIECE, length - done);
    await device.write(offset + done, [zeroes.subarray(0, piece)], { fua });
    done += piece;
  }
}
