/**
 * A logged-in LUN as an NBD {@link BlockDevice}: read → READ(16), write → WRITE(16) with FUA when the client asked,
 * flush → SYNCHRONIZE CACHE, trim → UNMAP. The NBD server only passes whole, in-range blocks.
 *
 * A command refused with UNIT ATTENTION was not executed (SAM-5 §5.14), so it is sent again, a bounded number of
 * times, as a SCSI disk driver does: after a reconnection (ERL 0 reinstatement, or a target that restarted) the
 * first command to each LUN meets the attention, and an NBD client must not see that as an I/O error. A command
 * that waited on a session `ctl -M` replaced (e.g. one recovering towards a target that moved) goes to the new one.
 */
import type { Lun } from '../../protocol/initiator/lun.js';
import { read16, write16 } from '../../protocol/scsi/cdb/build.js';
import { ScsiStatusError } from '../../protocol/scsi/errors.js';
import { SenseKey } from '../../protocol/scsi/sense-codes.js';
import type { BlockDevice, BlockWriteOptions } from '../../nbd/block-device.js';

/** How many UNIT ATTENTIONs one NBD request may meet before its error goes to the client. */
export const UNIT_ATTENTION_RETRIES = 4;

/** Whether `err` is a CHECK CONDITION with sense key UNIT ATTENTION. */
function isUnitAttention(err: unknown): boolean {
  return err instanceof ScsiStatusError && err.sense?.key === SenseKey.UnitAttention;
}

/** Serves `lun` (of `blocks` blocks of `blockSize` bytes) as an NBD block device. */
export class LunBlockDevice implements BlockDevice {
  readonly readOnly = false;
  readonly size: bigint;
  #lun: Lun;

  constructor(
    lun: Lun,
    blocks: bigint,
    readonly blockSize: number,
    /** Whether the LUN supports UNMAP (logical block provisioning); trims are no-ops otherwise. */
    private readonly canUnmap: boolean,
  ) {
    this.#lun = lun;
    this.size = blocks * BigInt(blockSize);
  }

  /** Sends later requests to `lun` (the same LUN of a session logged in again by `ctl -M`). */
  rebind(lun: Lun): void {
    this.#lun = lun;
  }

  async read(offset: number, length: number): Promise<readonly Buffer[]> {
    const cdb = read16({ lba: BigInt(offset / this.blockSize), blocks: length / this.blockSize });
    const result = await this.#retried((lun) => lun.promises.command(cdb, { read: length }));
    return [result.data];
  }

  async write(offset: number, chunks: readonly Buffer[], options: BlockWriteOptions): Promise<void> {
    const length = chunks.reduce((n, chunk) => n + chunk.length, 0);
    const cdb = write16({ lba: BigInt(offset / this.blockSize), blocks: length / this.blockSize, fua: options.fua });
    await this.#retried((lun) => lun.promises.command(cdb, { write: chunks }));
  }

  flush(): Promise<void> {
    return this.#retried((lun) => lun.promises.sync());
  }

  async trim(offset: number, length: number): Promise<void> {
    if (!this.canUnmap) return;
    const range = { lba: BigInt(offset / this.blockSize), blocks: length / this.blockSize };
    await this.#retried((lun) => lun.promises.unmap([range]));
  }

  /**
   * Runs `command`, again after each UNIT ATTENTION, and again on the new session when the device was rebound
   * while the command waited on the old one (which `ctl -M` then logged out): at most
   * {@link UNIT_ATTENTION_RETRIES} times more.
   */
  async #retried<T>(command: (lun: Lun) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const lun = this.#lun;
      try {
        return await command(lun);
      } catch (err) {
        const rebound = lun !== this.#lun && !(err instanceof ScsiStatusError);
        if (attempt >= UNIT_ATTENTION_RETRIES || !(rebound || isUnitAttention(err))) throw err;
      }
    }
  }
}
