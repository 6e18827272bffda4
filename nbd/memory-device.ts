/**
 * A sparse in-memory {@link BlockDevice} for tests and demos: storage is allocated in pages only where data was
 * written, so a large export costs nothing until used; trimmed or zeroed whole pages are freed and read as zeros.
 */
import type { BlockDevice, BlockWriteOptions, WriteZeroesOptions } from './block-device.js';
import { BlockDeviceError } from './errors.js';
import { NbdErrno } from './constants.js';

/** Options of {@link MemoryBlockDevice}. */
export interface MemoryBlockDeviceOptions {
  /** Logical block size in bytes (default 512). */
  readonly blockSize?: number;
  /** Refuse writes (default false). */
  readonly readOnly?: boolean;
}

/** Bytes per page of backing storage. */
const PAGE = 64 * 1024;

/** A sparse memory-backed block device. */
export class MemoryBlockDevice implements BlockDevice {
  /** Size in bytes. */
  readonly size: number;
  /** Logical block size in bytes. */
  readonly blockSize: number;
  /** True when writes are refused. */
  readonly readOnly: boolean;
  /** How many times `flush` was called (tests check that FLUSH reaches the device). */
  flushes = 0;
  /** How many writes arrived with FUA set. */
  fuaWrites = 0;
  private readonly pages = new Map<number, Buffer>();

  constructor(size: number, options: MemoryBlockDeviceOptions = {}) {
    const blockSize = options.blockSize ?? 512;
    if (!Number.isSafeInteger(size) || size < 0 || size % blockSize !== 0) {
      throw new BlockDeviceError(`memory device size ${size} is not a multiple of its ${blockSize}-byte block`, {
        nbdErrno: NbdErrno.EINVAL,
      });
    }
    this.size = size;
    this.blockSize = blockSize;
    this.readOnly = options.readOnly ?? false;
  }

  /** Bytes of memory the written pages hold. */
  get allocatedBytes(): number {
    return this.pages.size * PAGE;
  }

  read(offset: number, length: number): Promise<readonly Buffer[]> {
    // Starting from a resolved promise turns a failed check into a rejection rather than a throw.
    return Promise.resolve().then(() => {
      this.check(offset, length);
      const out = Buffer.alloc(length);
      this.eachPiece(offset, length, (page, at, done, size) => {
        this.pages.get(page)?.copy(out, done, at, at + size);
      });
      return [out];
    });
  }

  write(offset: number, chunks: readonly Buffer[], options: BlockWriteOptions): Promise<void> {
    return Promise.resolve().then(() => {
      const length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      this.check(offset, length);
      this.checkWritable();
      if (options.fua) this.fuaWrites++;
      let position = offset;
      for (const chunk of chunks) {
        this.eachPiece(position, chunk.length, (page, at, done, size) => {
          chunk.copy(this.page(page), at, done, done + size);
        });
        position += chunk.length;
      }
    });
  }

  flush(): Promise<void> {
    this.flushes++;
    return Promise.resolve();
  }

  trim(offset: number, length: number): Promise<void> {
    return this.zero(offset, length);
  }

  writeZeroes(offset: number, length: number, _options: WriteZeroesOptions): Promise<void> {
    return this.zero(offset, length);
  }

  private zero(offset: number, length: number): Promise<void> {
    return Promise.resolve().then(() => {
      this.check(offset, length);
      this.checkWritable();
      this.eachPiece(offset, length, (page, at, _done, size) => {
        if (size === PAGE) this.pages.delete(page);
        else this.pages.get(page)?.fill(0, at, at + size);
      });
    });
  }

  private page(index: number): Buffer {
    let page = this.pages.get(index);
    if (page === undefined) {
      page = Buffer.alloc(PAGE);
      this.pages.set(index, page);
    }
    return page;
  }

  /** Calls `visit(page, offsetInPage, bytesDoneSoFar, bytesInThisPage)` for each page the range touches. */
  private eachPiece(
    offset: number,
    length: number,
    visit: (page: number, at: number, done: number, size: number) => void,
  ): void {
    let done = 0;
    while (done < length) {
      const position = offset + done;
      const page = Math.floor(position / PAGE);
      const at = position - page * PAGE;
      const size = Math.min(PAGE - at, length - done);
      visit(page, at, done, size);
      done += size;
    }
  }

  private check(offset: number, length: number): void {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    ) {
      throw new BlockDeviceError(`range ${offset}+${length} is outside the ${this.size}-byte device`, {
        nbdErrno: NbdErrno.EINVAL,
      });
    }
  }

  private checkWritable(): void {
    if (this.readOnly) throw new BlockDeviceError('the device is read-only', { nbdErrno: NbdErrno.EPERM });
  }
}
