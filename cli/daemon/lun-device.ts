/**
 * A logged-in LUN as an NBD {@link BlockDevice}: read → READ(16), write → WRITE(16) with FUA when the client asked,
 * flush → SYNCHRONIZE CACHE, trim → UNMAP. The NBD server only passes whole, in-range blocks.
 */
import type { Lun } from '../../protocol/initiator/lun.js';
import { read16, write16 } from '../../protocol/scsi/cdb/build.js';
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
    const cdb = read16({ lba: BigInt(offset / this.blockSize), blocks: length / this.blockSize });
    const result = await this.lun.promises.command(cdb, { read: length });
    return [result.data];
  }

  async write(offset: number, chunks: readonly Buffer[], options: BlockWriteOptions): Promise<void> {
    const length = chunks.reduce((n, chunk) => n + chunk.length, 0);
    const cdb = write16({ lba: BigInt(offset / this.blockSize), blocks: length / this.blockSize, fua: options.fua });
    await this.lun.promises.command(cdb, { write: chunks });
  }

  flush(): Promise<void> {
    return this.lun.promises.sync();
  }

  async trim(offset: number, length: number): Promise<void> {
    if (!this.canUnmap) return;
    await this.lun.promises.unmap([{ lba: BigInt(offset / this.blockSize), blocks: length / this.blockSize }]);
  }
}
