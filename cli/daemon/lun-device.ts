/**
 * A logged-in LUN as an NBD {@link BlockDevice}: read → READ, write → WRITE with FUA when the client asked for it,
 * flush → SYNCHRONIZE CACHE, trim → UNMAP. The NBD server only passes whole, in-range blocks.
 */
import type { Lun } from '../../protocol/initiator/lun.js';
import type { BlockDevice, BlockWriteOptions } from '../../nbd/block-device.js';

/** Serves `lun` (of `blocks` blocks of `blockSize` bytes) as an NBD block device. */
export class LunBlockDevice implements BlockDevice {
  readonly readOnly = false;
  readonly size: bigint;

  constructor(
    private readonly lun: Lun,
    blocks: bigint,
    readonly blockSize: number,
    /** Whether the LUN supports UNMAP (logical block provisioning); trims are no-ops otherwise. */
    private readonly canUnmap: boolean,
  ) {
    this.size = blocks * BigInt(blockSize);
  }

  async read(offset: number, length: number): Promise<readonly Buffer[]> {
    return [await this.lun.promises.read(BigInt(offset / this.blockSize), length / this.blockSize)];
  }

  write(offset: number, chunks: readonly Buffer[], options: BlockWriteOptions): Promise<void> {
    return this.lun.promises.write(BigInt(offset / this.blockSize), chunks, { fua: options.fua });
  }

  flush(): Promise<void> {
    return this.lun.promises.sync();
  }

  async trim(offset: number, length: number): Promise<void> {
    if (!this.canUnmap) return;
    await this.lun.promises.unmap([{ lba: BigInt(offset / this.blockSize), blocks: length / this.blockSize }]);
  }
}
