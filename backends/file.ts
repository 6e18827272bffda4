/**
 * A block store in a regular file, through a `fs/promises` FileHandle with positional reads and writes (the
 * libuv thread pool runs them concurrently). Durability follows SBC: a FUA write is followed by `datasync()`
 * before it resolves, and `flush()` (SYNCHRONIZE CACHE) is a `datasync()`; the page cache is the volatile write
 * cache the caching mode page's WCE bit describes.
 *
 * Node cannot call fallocate(2), so UNMAP cannot punch holes: it writes zeros instead. The data is then correct
 * (unmapped blocks read as zeros, LBPRZ) but the file does not shrink. For the same reason (no lseek SEEK_HOLE)
 * this backend does not report mapping, and GET LBA STATUS calls every block mapped.
 */
import { read as readFd } from 'node:fs';
import { constants, type FileHandle, open } from 'node:fs/promises';
import { BufferSlab } from '../protocol/buffer-slab.js';
import type { BackendWriteOptions, BlockBackend, LbaRange } from '../protocol/scsi/backend.js';
import { BackendError, ioError } from './errors.js';
import { checkRange, wholeBlocks } from './range.js';

/** Options of {@link FileBackend.open}. */
export interface FileBackendOptions {
  /** Medium size in bytes. A smaller file is extended (sparsely); without it the file's size is used. */
  readonly size?: number;
  /** Logical block size in bytes (default 512). */
  readonly blockSize?: number;
}

/** Largest piece written at once when zeroing, to bound memory. */
const ZERO_PIECE = 1024 * 1024;

/** A file-backed {@link BlockBackend}. */
export class FileBackend implements BlockBackend {
  /** Logical block size in bytes. */
  readonly blockSize: number;
  /** Number of logical blocks. */
  readonly blockCount: number;
  /** The file's path. */
  readonly path: string;
  private handle: FileHandle | undefined;
  /** Reads in flight on the raw fd: close() waits for them, so the fd number is never reused under one. */
  private rawReads = 0;
  private rawReadsDone: (() => void)[] = [];
  private readonly slab = new BufferSlab();

  private constructor(path: string, handle: FileHandle, blockSize: number, blockCount: number) {
    this.path = path;
    this.handle = handle;
    this.blockSize = blockSize;
    this.blockCount = blockCount;
  }

  /**
   * Opens (creating it when a size is given) the file at `path`. With `size`, a shorter file is extended and a
   * longer one is used only up to `size` (never truncated). Without `size`, the file must exist and not be empty;
   * a tail shorter than one block is ignored.
   */
  static async open(path: string, options: FileBackendOptions = {}): Promise<FileBackend> {
    const blockSize = options.blockSize ?? 512;
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) {
      throw new BackendError('ERR_BACKEND_SIZE', `block size ${blockSize} is not a positive integer`);
    }
    if (options.size !== undefined) checkSize(options.size, blockSize);
    const flags = constants.O_RDWR | (options.size === undefined ? 0 : constants.O_CREAT);
    let handle: FileHandle;
    try {
      handle = await open(path, flags, 0o644);
    } catch (err) {
      throw ioError(`cannot open ${path}`, err);
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        throw new BackendError('ERR_BACKEND_SIZE', `${path} is not a regular file (block devices are not supported)`);
      }
      let bytes = options.size;
      if (bytes === undefined) {
        bytes = stat.size - (stat.size % blockSize);
        if (bytes === 0) {
          throw new BackendError(
            'ERR_BACKEND_SIZE',
            `${path} holds less than one ${blockSize}-byte block; give a size`,
          );
        }
      } else if (stat.size < bytes) {
        await handle.truncate(bytes);
      }
      return new FileBackend(path, handle, blockSize, bytes / blockSize);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err instanceof BackendError ? err : ioError(`cannot size ${path}`, err);
    }
  }

  /**
   * Reads blocks; bytes past the end of a file someone shortened read as zeros. Reads go through the callback
   * `fs.read` on the raw fd into an uninitialised buffer (every byte is then read or zeroed): FileHandle.read's
   * promise plumbing and a zero-filled allocation per command were a large share of the target's CPU at 4 KiB.
   */
  async read(lba: number, blocks: number): Promise<readonly Buffer[]> {
    checkRange(lba, blocks, this.blockCount);
    const fd = this.openHandle().fd;
    const out = this.slab.uninitialised(blocks * this.blockSize);
    let done = 0;
    this.rawReads++;
    try {
      while (done < out.length) {
        const bytesRead = await readAt(fd, out, done, lba * this.blockSize + done);
        if (bytesRead === 0) break; // end of file: the rest reads as zeros
        done += bytesRead;
      }
    } catch (err) {
      throw ioError(`read of blocks [${lba}, ${lba + blocks}) from ${this.path} failed`, err);
    } finally {
      if (--this.rawReads === 0) for (const wake of this.rawReadsDone.splice(0)) wake();
    }
    if (done < out.length) out.fill(0, done);
    return [out];
  }

  /** Writes the chunks at `lba`; with FUA, syncs the data before resolving. */
  async write(lba: number, data: readonly Buffer[], options: BackendWriteOptions): Promise<void> {
    const total = data.reduce((n, b) => n + b.length, 0);
    const blocks = wholeBlocks(total, this.blockSize);
    checkRange(lba, blocks, this.blockCount);
    const handle = this.openHandle();
    try {
      await writeAll(handle, data, lba * this.blockSize);
      if (options.fua) await handle.datasync();
    } catch (err) {
      throw ioError(`write of blocks [${lba}, ${lba + blocks}) to ${this.path} failed`, err);
    }
  }

  /** Makes every completed write durable (fdatasync). */
  async flush(): Promise<void> {
    const handle = this.openHandle();
    try {
      await handle.datasync();
    } catch (err) {
      throw ioError(`sync of ${this.path} failed`, err);
    }
  }

  /** Writes zeros over the ranges (Node has no fallocate(2) to punch holes with). */
  async unmap(ranges: readonly LbaRange[]): Promise<void> {
    for (const range of ranges) checkRange(range.lba, range.blocks, this.blockCount);
    const handle = this.openHandle();
    const zeros = Buffer.alloc(Math.max(this.blockSize, ZERO_PIECE - (ZERO_PIECE % this.blockSize)));
    try {
      for (const range of ranges) {
        let position = range.lba * this.blockSize;
        let remaining = range.blocks * this.blockSize;
        while (remaining > 0) {
          const n = Math.min(remaining, zeros.length);
          await writeAll(handle, [zeros.subarray(0, n)], position);
          position += n;
          remaining -= n;
        }
      }
    } catch (err) {
      throw ioError(`unmap (zeroing) in ${this.path} failed`, err);
    }
  }

  /** Closes the file; later calls fail with ERR_BACKEND_CLOSED. */
  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (this.rawReads > 0) {
      await new Promise<void>((resolve) => {
        this.rawReadsDone.push(resolve);
      });
    }
    if (handle !== undefined) await handle.close();
  }

  private openHandle(): FileHandle {
    if (this.handle === undefined) throw new BackendError('ERR_BACKEND_CLOSED', `${this.path} is closed`);
    return this.handle;
  }
}

/** One positional read into `buffer` from `offset` to its end; resolves with the bytes read. */
function readAt(fd: number, buffer: Buffer, offset: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    readFd(fd, buffer, offset, buffer.length - offset, position, (err, bytesRead) => {
      if (err === null) resolve(bytesRead);
      else reject(err);
    });
  });
}

/** Writes every byte of `chunks` at `position`, resuming after short writes. */
async function writeAll(handle: FileHandle, chunks: readonly Buffer[], position: number): Promise<void> {
  let pending = chunks.filter((c) => c.length > 0);
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending, at);
    if (bytesWritten === 0) throw new BackendError('ERR_BACKEND_IO', 'writev made no progress');
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const chunk of pending) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
      skip = 0;
    }
    pending = rest;
  }
}

function checkSize(bytes: number, blockSize: number): void {
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % blockSize !== 0) {
    throw new BackendError(
      'ERR_BACKEND_SIZE',
      `size ${bytes} is not a positive multiple of the ${blockSize}-byte block`,
    );
  }
}
