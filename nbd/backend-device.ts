/**
 * A LUN backend (`protocol/scsi/backend.ts`: whole logical blocks addressed by LBA) seen as an NBD
 * {@link BlockDevice} (bytes). The server only passes block-aligned ranges, so the conversion is a division.
 * Trims become UNMAP; because backends read unmapped blocks as zeros (LBPRZ), write-zeroes may unmap too, unless
 * the client asked that no hole be made.
 */
import type { BlockBackend } from '../protocol/scsi/backend.js';
import type { BlockDevice, BlockWriteOptions, WriteZeroesOptions } from './block-device.js';
import { writeZeroBuffers } from './zero-fill.js';

/** Options of {@link BackendBlockDevice}. */
export interface BackendBlockDeviceOptions {
  /** Serve the backend read-only (default false). */
  readonly readOnly?: boolean;
}

/** Serves a {@link BlockBackend} as a byte-addressed block device. */
export class BackendBlockDevice implements BlockDevice {
  /** True when writes are refused. */
  readonly readOnly: boolean;

  constructor(
    /** The backend served. */
    readonly backend: BlockBackend,
    options: BackendBlockDeviceOptions = {},
  ) {
    this.readOnly = options.readOnly ?? false;
  }

  /** Size in bytes (follows the backend if it is resized). */
  get size(): number {
    return this.backend.blockCount * this.backend.blockSize;
  }

  /** The backend's logical block size. */
  get blockSize(): number {
    return this.backend.blockSize;
  }

  read(offset: number, length: number): Promise<readonly Buffer[]> {
    return this.backend.read(offset / this.blockSize, length / this.blockSize);
  }

  write(offset: number, chunks: readonly Buffer[], options: BlockWriteOptions): Promise<void> {
    return this.backend.write(offset / this.blockSize, chunks, options);
  }

  flush(): Promise<void> {
    return this.backend.flush();
  }

  trim(offset: number, length: number): Promise<void> {
    return this.backend.unmap([{ lba: offset / this.blockSize, blocks: length / this.blockSize }]);
  }

  async writeZeroes(offset: number, length: number, options: WriteZeroesOptions): Promise<void> {
    if (options.noHole) {
      await writeZeroBuffers(this, offset, length, options.fua);
      return;
    }
    await this.trim(offset, length);
    if (options.fua) await this.backend.flush();
  }
}
