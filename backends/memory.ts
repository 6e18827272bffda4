/**
 * A sparse, thin-provisioned block store in memory. Storage is allocated in chunks (64 KiB by default) on first
 * write and freed when every block of a chunk is unmapped, so a 1 TiB LUN costs only what has been written.
 * Unmapped blocks read as zeros. Writes copy the caller's bytes and reads return fresh buffers, so no buffer is
 * ever shared between the store and a transport.
 */
import type { BackendWriteOptions, BlockBackend, LbaRange, MappingExtent } from '../protocol/scsi/backend.js';
import { BufferSlab } from '../protocol/buffer-slab.js';
import { BackendError } from './errors.js';
import { checkRange, wholeBlocks } from './range.js';

/** Options of {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /** Logical block size in bytes (default 512). */
  readonly blockSize?: number;
  /** Allocation unit in bytes, a multiple of the block size (default 64 KiB). */
  readonly chunkBytes?: number;
}

/** One allocation unit: its bytes and which of its blocks are mapped. */
interface Chunk {
  readonly data: Buffer;
  readonly mapped: Uint8Array;
  mappedCount: number;
}

/** A sparse in-memory {@link BlockBackend}. */
export class MemoryBackend implements BlockBackend {
  /** Logical block size in bytes. */
  readonly blockSize: number;
  private count: number;
  private readonly chunkBlocks: number;
  private readonly chunks = new Map<number, Chunk>();
  private readonly slab = new BufferSlab();

  constructor(blockCount: number, options: MemoryBackendOptions = {}) {
    const blockSize = options.blockSize ?? 512;
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) {
      throw new BackendError('ERR_BACKEND_SIZE', `block size ${blockSize} is not a positive integer`);
    }
    if (!Number.isSafeInteger(blockCount) || blockCount < 1) {
      throw new BackendError('ERR_BACKEND_SIZE', `block count ${blockCount} is not a positive integer`);
    }
    const chunkBytes = options.chunkBytes ?? 64 * 1024;
    this.blockSize = blockSize;
    this.count = blockCount;
    this.chunkBlocks = Math.max(1, Math.floor(chunkBytes / blockSize));
  }

  /** Number of logical blocks. */
  get blockCount(): number {
    return this.count;
  }

  /** Bytes of storage allocated for written data (a measure of thin provisioning). */
  get allocatedBytes(): number {
    return this.chunks.size * this.chunkBlocks * this.blockSize;
  }

  /** Reads blocks; unmapped ones come back as zeros. */
  read(lba: number, blocks: number): Promise<readonly Buffer[]> {
    return settle(() => this.readNow(lba, blocks));
  }

  /** Copies the data in and marks the blocks mapped. */
  write(lba: number, data: readonly Buffer[], _options: BackendWriteOptions): Promise<void> {
    return settle(() => {
      this.writeNow(lba, data);
    });
  }

  /** Nothing to do: memory is as durable as it gets. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** Zeroes and unmaps the ranges, freeing chunks that become empty. */
  unmap(ranges: readonly LbaRange[]): Promise<void> {
    return settle(() => {
      this.unmapNow(ranges);
    });
  }

  /** Reports the run of blocks from `lba` that share its mapped state. */
  mapping(lba: number, maxBlocks: number): Promise<MappingExtent> {
    return settle(() => this.mappingNow(lba, maxBlocks));
  }

  /** Grows or shrinks the store; blocks past a new end are dropped. */
  resize(blockCount: number): Promise<void> {
    return settle(() => {
      this.resizeNow(blockCount);
    });
  }

  private readNow(lba: number, blocks: number): readonly Buffer[] {
    checkRange(lba, blocks, this.count);
    // Uninitialised: forEachChunkPart visits every block once, and each part is copied or zeroed.
    const out = this.slab.uninitialised(blocks * this.blockSize);
    this.forEachChunkPart(lba, blocks, (chunk, first, n, outBlock) => {
      const at = outBlock * this.blockSize;
      if (chunk === undefined) {
        out.fill(0, at, at + n * this.blockSize); // never written
        return;
      }
      const start = first * this.blockSize;
      chunk.data.copy(out, at, start, start + n * this.blockSize);
    });
    return [out];
  }

  private writeNow(lba: number, data: readonly Buffer[]): void {
    const total = data.reduce((n, b) => n + b.length, 0);
    const blocks = wholeBlocks(total, this.blockSize);
    checkRange(lba, blocks, this.count);
    let chunkIndex = 0;
    let chunkOffset = 0;
    this.forEachChunkPart(lba, blocks, (existing, first, n, _outBlock, index) => {
      const chunk = existing ?? this.allocate(index);
      let at = first * this.blockSize;
      let remaining = n * this.blockSize;
      while (remaining > 0) {
        const source = data[chunkIndex];
        if (source === undefined) break;
        const take = Math.min(remaining, source.length - chunkOffset);
        source.copy(chunk.data, at, chunkOffset, chunkOffset + take);
        at += take;
        remaining -= take;
        chunkOffset += take;
        if (chunkOffset === source.length) {
          chunkIndex++;
          chunkOffset = 0;
        }
      }
      for (let b = first; b < first + n; b++) {
        if (chunk.mapped[b] === 0) {
          chunk.mapped[b] = 1;
          chunk.mappedCount++;
        }
      }
    });
  }

  private unmapNow(ranges: readonly LbaRange[]): void {
    for (const range of ranges) checkRange(range.lba, range.blocks, this.count);
    for (const range of ranges) {
      const firstChunk = Math.floor(range.lba / this.chunkBlocks);
      const lastChunk = Math.floor((range.lba + range.blocks - 1) / this.chunkBlocks);
      // A huge range over a sparse store: visit the chunks that exist, not every chunk index.
      const indices =
        lastChunk - firstChunk + 1 > this.chunks.size
          ? [...this.chunks.keys()].filter((i) => i >= firstChunk && i <= lastChunk)
          : Array.from({ length: range.blocks === 0 ? 0 : lastChunk - firstChunk + 1 }, (_, k) => firstChunk + k);
      for (const index of indices) {
        const chunk = this.chunks.get(index);
        if (chunk === undefined) continue;
        const chunkStart = index * this.chunkBlocks;
        const from = Math.max(range.lba, chunkStart) - chunkStart;
        const to = Math.min(range.lba + range.blocks, chunkStart + this.chunkBlocks) - chunkStart;
        if (to <= from) continue;
        chunk.data.fill(0, from * this.blockSize, to * this.blockSize);
        for (let b = from; b < to; b++) {
          if (chunk.mapped[b] === 1) {
            chunk.mapped[b] = 0;
            chunk.mappedCount--;
          }
        }
        if (chunk.mappedCount === 0) this.chunks.delete(index);
      }
    }
  }

  private mappingNow(lba: number, maxBlocks: number): MappingExtent {
    checkRange(lba, 1, this.count); // the first block must exist
    const limit = Math.max(1, Math.min(maxBlocks, this.count - lba));
    const first = this.isMapped(lba);
    let blocks = 1;
    while (blocks < limit) {
      const at = lba + blocks;
      const chunk = this.chunks.get(Math.floor(at / this.chunkBlocks));
      if (chunk === undefined && !first) {
        blocks += this.chunkBlocks - (at % this.chunkBlocks); // a whole absent chunk is unmapped
        continue;
      }
      if (this.isMapped(at) !== first) break;
      blocks++;
    }
    return { mapped: first, blocks: Math.min(blocks, limit) };
  }

  private resizeNow(blockCount: number): void {
    if (!Number.isSafeInteger(blockCount) || blockCount < 1) {
      throw new BackendError('ERR_BACKEND_SIZE', `block count ${blockCount} is not a positive integer`);
    }
    if (blockCount < this.count) {
      // Unmap what falls off so a later grow reads zeros there.
      this.unmapNow([{ lba: blockCount, blocks: this.count - blockCount }]);
    }
    this.count = blockCount;
  }

  private isMapped(lba: number): boolean {
    const chunk = this.chunks.get(Math.floor(lba / this.chunkBlocks));
    return chunk !== undefined && chunk.mapped[lba % this.chunkBlocks] === 1;
  }

  private allocate(index: number): Chunk {
    const chunk: Chunk = {
      data: Buffer.alloc(this.chunkBlocks * this.blockSize),
      mapped: new Uint8Array(this.chunkBlocks),
      mappedCount: 0,
    };
    this.chunks.set(index, chunk);
    return chunk;
  }

  /** Calls `visit` for each chunk-sized piece of `[lba, lba + blocks)`, in order. */
  private forEachChunkPart(
    lba: number,
    blocks: number,
    visit: (chunk: Chunk | undefined, firstInChunk: number, count: number, outBlock: number, index: number) => void,
  ): void {
    let done = 0;
    while (done < blocks) {
      const at = lba + done;
      const index = Math.floor(at / this.chunkBlocks);
      const first = at % this.chunkBlocks;
      const n = Math.min(blocks - done, this.chunkBlocks - first);
      visit(this.chunks.get(index), first, n, done, index);
      done += n;
    }
  }
}

/** Runs `fn` and turns its result or exception into a settled promise (a backend never throws synchronously). */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
