/** Range checks every backend shares: the model checks ranges first, so a failure here is a caller bug. */
import { BackendError } from './errors.js';

/** Throws ERR_BACKEND_RANGE unless `[lba, lba + blocks)` lies within `blockCount` blocks. */
export function checkRange(lba: number, blocks: number, blockCount: number): void {
  if (
    !Number.isSafeInteger(lba) ||
    !Number.isSafeInteger(blocks) ||
    lba < 0 ||
    blocks < 0 ||
    lba + blocks > blockCount
  ) {
    throw new BackendError('ERR_BACKEND_RANGE', `blocks [${lba}, ${lba + blocks}) are outside 0..${blockCount}`);
  }
}

/** The number of whole blocks in `bytes`, or ERR_BACKEND_RANGE when it is not whole blocks. */
export function wholeBlocks(bytes: number, blockSize: number): number {
  if (bytes % blockSize !== 0) {
    throw new BackendError('ERR_BACKEND_RANGE', `${bytes} bytes is not a whole number of ${blockSize}-byte blocks`);
  }
  return bytes / blockSize;
}
