/**
 * Chunk-list helpers for data sequencing: cut a transfer's chunk list into per-PDU pieces as views, never copies.
 */

/** Reads a chunk list front to back, handing out views of the next `n` bytes. */
export class ChunkCursor {
  private index = 0;
  private head = 0;
  private left: number;

  constructor(private readonly chunks: readonly Buffer[]) {
    let total = 0;
    for (const c of chunks) total += c.length;
    this.left = total;
  }

  /** Bytes not yet taken. */
  get remaining(): number {
    return this.left;
  }

  /** Views of the next `n` bytes (fewer if the list runs out). */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let wanted = Math.min(n, this.left);
    this.left -= wanted;
    while (wanted > 0) {
      const chunk = this.chunks[this.index];
      if (chunk === undefined) break; // unreachable: `left` counts what the chunks hold
      const used = Math.min(chunk.length - this.head, wanted);
      if (used > 0) out.push(chunk.subarray(this.head, this.head + used));
      wanted -= used;
      this.head += used;
      if (this.head === chunk.length) {
        this.index++;
        this.head = 0;
      }
    }
    return out;
  }

  /** Drops the next `n` bytes. */
  skip(n: number): void {
    let wanted = Math.min(n, this.left);
    this.left -= wanted;
    while (wanted > 0) {
      const chunk = this.chunks[this.index];
      if (chunk === undefined) break;
      const used = Math.min(chunk.length - this.head, wanted);
      wanted -= used;
      this.head += used;
      if (this.head === chunk.length) {
        this.index++;
        this.head = 0;
      }
    }
  }
}

/** Views of bytes `offset` to `offset + length` of a chunk list (clipped to what it holds). */
export function sliceChunks(chunks: readonly Buffer[], offset: number, length: number): Buffer[] {
  const cursor = new ChunkCursor(chunks);
  cursor.skip(offset);
  return cursor.take(length);
}

/** Total bytes of a chunk list. */
export function totalLength(chunks: readonly Uint8Array[]): number {
  let total = 0;
  for (const c of chunks) total += c.length;
  return total;
}

/** Copies a chunk list into `target` at `offset`; the caller has checked that it fits. Returns bytes copied. */
export function copyChunksInto(chunks: readonly Buffer[], target: Buffer, offset: number): number {
  let at = offset;
  for (const c of chunks) at += c.copy(target, at);
  return at - offset;
}
