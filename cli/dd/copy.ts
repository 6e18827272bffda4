/**
 * The copy loop of `iser dd`: chunks of `bs` bytes, the next read overlapping the current write, so memory stays
 * at two chunks whatever the size. A progress line goes to a terminal at most four times a second.
 */
import type { CliIo } from '../io.js';
import { formatBytes } from '../parse-values.js';
import type { DdSink, DdSource } from './endpoints.js';

/** Where and how much to copy, in bytes. */
export interface CopyPlan {
  readonly inputOffset: number;
  readonly outputOffset: number;
  readonly length: number;
  readonly chunk: number;
}

/** What a copy did. */
export interface CopyResult {
  /** Bytes read from the source. */
  readonly bytes: number;
  /** Zero bytes added to fill the sink's last block. */
  readonly padding: number;
  readonly seconds: number;
}

const PROGRESS_EVERY_MS = 250;

/** `bytes (human) copied, s, MiB/s` as dd prints it. */
export function copySummary(bytes: number, seconds: number): string {
  const rate = seconds > 0 ? bytes / 2 ** 20 / seconds : 0;
  return `${bytes} bytes (${formatBytes(bytes)}) copied, ${seconds.toFixed(3)} s, ${rate.toFixed(1)} MiB/s`;
}

/** Copies `plan.length` bytes from `source` to `sink`. */
export async function copy(source: DdSource, sink: DdSink, plan: CopyPlan, io: CliIo): Promise<CopyResult> {
  const started = performance.now();
  let lastProgress = started;
  let copied = 0;
  let padding = 0;
  const readChunk = (index: number): Promise<Buffer> => {
    const offset = index * plan.chunk;
    return source.read(plan.inputOffset + offset, Math.min(plan.chunk, plan.length - offset));
  };
  const chunks = Math.ceil(plan.length / plan.chunk);
  let next: Promise<Buffer> | undefined = chunks > 0 ? readChunk(0) : undefined;
  try {
    for (let index = 0; index < chunks; index++) {
      const data: Buffer = await (next as Promise<Buffer>);
      next = index + 1 < chunks ? readChunk(index + 1) : undefined;
      const remainder = data.length % sink.blockSize;
      const block = remainder === 0 ? data : Buffer.concat([data, Buffer.alloc(sink.blockSize - remainder)]);
      padding += block.length - data.length;
      await sink.write(plan.outputOffset + index * plan.chunk, block);
      copied += data.length;
      const now = performance.now();
      if (now - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = now;
        io.progress(copySummary(copied, (now - started) / 1000));
      }
    }
  } finally {
    // A failed write leaves a read in flight: let it settle quietly.
    next?.catch(() => undefined);
    io.progress(undefined);
  }
  return { bytes: copied, padding, seconds: (performance.now() - started) / 1000 };
}
