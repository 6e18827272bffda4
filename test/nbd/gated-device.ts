/** A MemoryBlockDevice whose reads wait until the test releases them, to script completion order. */
import type { BlockDevice, BlockWriteOptions } from '../../nbd/block-device.js';
import { MemoryBlockDevice } from '../../nbd/memory-device.js';

/** A read waiting for release. */
export interface HeldRead {
  readonly offset: number;
  readonly length: number;
  /** Lets the read complete. */
  readonly release: () => void;
}

/** Block device whose reads are held until released. */
export class GatedDevice implements BlockDevice {
  readonly inner: MemoryBlockDevice;
  readonly held: HeldRead[] = [];
  private waiters: (() => void)[] = [];

  constructor(size: number) {
    this.inner = new MemoryBlockDevice(size);
  }

  get size(): number {
    return this.inner.size;
  }
  get blockSize(): number {
    return this.inner.blockSize;
  }
  get readOnly(): boolean {
    return false;
  }

  /** Resolves once `count` reads are being held (bounded by the test's timeout). */
  async heldReads(count: number): Promise<void> {
    while (this.held.length < count) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async read(offset: number, length: number): Promise<readonly Buffer[]> {
    await new Promise<void>((release) => {
      this.held.push({ offset, length, release });
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    });
    return this.inner.read(offset, length);
  }

  write(offset: number, chunks: readonly Buffer[], options: BlockWriteOptions): Promise<void> {
    return this.inner.write(offset, chunks, options);
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  trim(offset: number, length: number): Promise<void> {
    return this.inner.trim(offset, length);
  }
}
