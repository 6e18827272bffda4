/**
 * What an NBD export serves: a byte-addressed block device. The server checks every request before calling, so a
 * device can rely on this contract:
 * - offsets and lengths are multiples of `blockSize`, non-negative safe integers, `offset + length <= size`,
 *   and `length > 0`;
 * - `read` and `write` lengths never exceed the export's maximum payload;
 * - no write, trim or write-zeroes reaches a device whose `readOnly` is true.
 * `read` returns buffers the caller owns. `write` receives chunks split wherever the socket split them and must not
 * keep them after its promise settles. A `fua` write is durable when it resolves; `flush` makes every write that
 * has resolved durable. After `trim` the contents are unspecified until rewritten (NBD allows that).
 * A rejected promise becomes an error reply: throw a `BlockDeviceError` to choose the NBD error value, or any error
 * with an `errno`/`code` name such as ENOSPC (see `nbdErrnoOf`); anything else is EIO.
 */

/** Options of {@link BlockDevice.write}. */
export interface BlockWriteOptions {
  /** Force unit access: the data is durable when the promise resolves. */
  readonly fua: boolean;
}

/** Options of {@link BlockDevice.writeZeroes}. */
export interface WriteZeroesOptions {
  /** Force unit access. */
  readonly fua: boolean;
  /** The range must stay allocated (NBD_CMD_FLAG_NO_HOLE): do not punch holes. */
  readonly noHole: boolean;
}

/** A byte-addressed block device an NBD export serves. */
export interface BlockDevice {
  /** Size in bytes (a multiple of `blockSize`). */
  readonly size: bigint | number;
  /** Logical block size in bytes: a power of two from 1 to 65536; the NBD minimum block size. */
  readonly blockSize: number;
  /** True when writes, trims and write-zeroes must fail with EPERM. */
  readonly readOnly: boolean;
  /** Reads `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<readonly Buffer[]>;
  /** Writes the chunks (their lengths add up to a multiple of `blockSize`) at `offset`. */
  write(offset: number, chunks: readonly Buffer[], options: BlockWriteOptions): Promise<void>;
  /** Makes every write that has resolved durable. */
  flush(): Promise<void>;
  /** Discards `length` bytes at `offset` (a hint: contents are unspecified afterwards). */
  trim(offset: number, length: number): Promise<void>;
  /** Zeroes `length` bytes at `offset`; without it the server writes zero buffers. */
  writeZeroes?(offset: number, length: number, options: WriteZeroesOptions): Promise<void>;
}
