/**
 * The storage a logical unit sits on. The SBC model (`target/logical-unit.ts`) speaks SCSI; a backend only moves
 * whole blocks. Implementations live in `backends/` (memory, file) so that `protocol/` does no I/O.
 *
 * Contract:
 * - LBAs and counts are plain numbers: 2^53 blocks is far beyond any real medium. The model checks every range
 *   against `blockCount` before calling, so a backend may treat an out-of-range call as a bug.
 * - `read` returns buffers the caller owns; the backend must not change them afterwards.
 * - `write` receives `blocks * blockSize` bytes split at arbitrary chunk boundaries (the transport's, not block
 *   boundaries). The backend must not keep references to those buffers after its promise settles.
 * - A write with `fua` must be durable (on non-volatile media) when its promise resolves; so must every write
 *   that resolved before a `flush()` that resolved.
 * - After `unmap`, the blocks read as zeros (the model reports LBPRZ = 1).
 * - A rejected promise becomes MEDIUM ERROR sense for the command; nothing else is assumed about the error.
 */

/** A run of logical blocks. */
export interface LbaRange {
  /** First logical block address. */
  readonly lba: number;
  /** Number of blocks. */
  readonly blocks: number;
}

/** Options of {@link BlockBackend.write}. */
export interface BackendWriteOptions {
  /** Force unit access: durable before the promise resolves. */
  readonly fua: boolean;
}

/** Provisioning state of a run of blocks, as {@link BlockBackend.mapping} reports it. */
export interface MappingExtent {
  /** True when the blocks hold written data; false when they are unmapped (thin, reading as zeros). */
  readonly mapped: boolean;
  /** How many blocks from the asked-for LBA share this state (at least 1, at most the maximum asked for). */
  readonly blocks: number;
}

/** Block storage under a logical unit. */
export interface BlockBackend {
  /** Logical block size in bytes (512 or 4096 in practice). */
  readonly blockSize: number;
  /** Number of logical blocks. */
  readonly blockCount: number;
  /** Reads `blocks` blocks from `lba`. */
  read(lba: number, blocks: number): Promise<readonly Buffer[]>;
  /** Writes `data` (exactly `blocks * blockSize` bytes in total) at `lba`. */
  write(lba: number, data: readonly Buffer[], options: BackendWriteOptions): Promise<void>;
  /** Makes every write that has resolved durable. */
  flush(): Promise<void>;
  /** Deallocates the ranges; afterwards they read as zeros. */
  unmap(ranges: readonly LbaRange[]): Promise<void>;
  /** Thin provisioning: whether the blocks from `lba` are mapped, and for how many blocks (GET LBA STATUS). */
  mapping?(lba: number, maxBlocks: number): Promise<MappingExtent>;
  /** PRE-FETCH hint; resolves true when the range now sits in a cache (the command then answers CONDITION MET). */
  prefetch?(lba: number, blocks: number): Promise<boolean>;
  /** Changes the capacity (the model then raises CAPACITY DATA HAS CHANGED). */
  resize?(blockCount: number): Promise<void>;
  /** Releases the storage (file handles). */
  close?(): Promise<void>;
}
