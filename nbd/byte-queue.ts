/**
 * Bytes received but not yet parsed, kept as the chunks the socket delivered. Taking a run returns slices of those
 * chunks (no copy), so a write payload reaches the device as the socket split it.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  private total = 0;

  /** Bytes queued. */
  get length(): number {
    return this.total;
  }

  /** Appends a chunk. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** Removes `n` bytes (at most `length`) and returns them as slices of the queued chunks. */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let wanted = Math.min(n, this.total);
    while (wanted > 0) {
      const chunk = this.chunks[this.head];
      if (chunk === undefined) break;
      if (chunk.length <= wanted) {
        out.push(chunk);
        wanted -= chunk.length;
        this.total -= chunk.length;
        this.head++;
      } else {
        out.push(chunk.subarray(0, wanted));
        this.chunks[this.head] = chunk.subarray(wanted);
        this.total -= wanted;
        wanted = 0;
      }
    }
    this.compact();
    return out;
  }

  /** Removes `n` bytes and returns them as one buffer (copying only when they span chunks). */
  takeBuffer(n: number): Buffer {
    const parts = this.take(n);
    return parts.length === 1 && parts[0] !== undefined ? parts[0] : Buffer.concat(parts);
  }

  /** Drops up to `n` bytes and returns how many were dropped. */
  skip(n: number): number {
    let dropped = 0;
    for (const part of this.take(n)) dropped += part.length;
    return dropped;
  }

  private compact(): void {
    if (this.total === 0) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
