/** A backend without `mapping` (like FileBackend) over memory, for tests that need one. */
import { MemoryBackend } from '../../../../backends/memory.js';
import type { BackendWriteOptions, BlockBackend, LbaRange } from '../../../../protocol/scsi/backend.js';

/** Memory storage that, like a file, cannot report what is mapped. */
export class FileBackendLike implements BlockBackend {
  private readonly memory: MemoryBackend;

  constructor(blocks: number, blockSize = 512) {
    this.memory = new MemoryBackend(blocks, { blockSize });
  }

  get blockSize(): number {
    return this.memory.blockSize;
  }

  get blockCount(): number {
    return this.memory.blockCount;
  }

  read(lba: number, blocks: number): Promise<readonly Buffer[]> {
    return this.memory.read(lba, blocks);
  }

  write(lba: number, data: readonly Buffer[], options: BackendWriteOptions): Promise<void> {
    return this.memory.write(lba, data, options);
  }

  flush(): Promise<void> {
    return this.memory.flush();
  }

  unmap(ranges: readonly LbaRange[]): Promise<void> {
    return this.memory.unmap(ranges);
  }
}
