/**
 * Reader/writer locks over LBA ranges. Reads share, writes exclude, and only overlapping ranges wait for each
 * other, so unrelated I/O runs concurrently while overlapping writes never interleave within a block and
 * COMPARE AND WRITE's read-compare-write is atomic. Waiters are served in arrival order among themselves: a
 * request waits for every earlier overlapping request it conflicts with, which rules out starvation.
 */

/** Releases a lock; calling it twice is harmless. */
export type Release = () => void;

interface Request {
  readonly start: number;
  readonly end: number;
  readonly exclusive: boolean;
  granted: boolean;
  grant?: () => void;
}

/** Reader/writer locks keyed by block range. */
export class RangeLock {
  // Granted and waiting requests, in arrival order.
  private readonly queue: Request[] = [];

  /** Number of requests holding or waiting for a lock (for tests and diagnostics). */
  get size(): number {
    return this.queue.length;
  }

  /** Locks `[lba, lba + blocks)`, shared or exclusive. An empty range is granted at once. */
  acquire(lba: number, blocks: number, exclusive: boolean): Promise<Release> {
    if (blocks <= 0) return Promise.resolve(() => undefined);
    const request: Request = { start: lba, end: lba + blocks, exclusive, granted: false };
    this.queue.push(request);
    const release = this.releaser(request);
    if (this.mayGrant(request)) {
      request.granted = true;
      return Promise.resolve(release);
    }
    return new Promise<Release>((resolve) => {
      request.grant = () => {
        resolve(release);
      };
    });
  }

  /**
   * Locks several ranges, merged where they overlap or touch (a request must not wait for itself) and taken in
   * ascending LBA order (the order every caller uses, so no two can deadlock).
   */
  async acquireAll(ranges: readonly { lba: number; blocks: number }[], exclusive: boolean): Promise<Release> {
    const sorted = [...ranges].filter((r) => r.blocks > 0).sort((a, b) => a.lba - b.lba);
    const merged: { lba: number; end: number }[] = [];
    for (const range of sorted) {
      const last = merged.at(-1);
      if (last !== undefined && range.lba <= last.end) last.end = Math.max(last.end, range.lba + range.blocks);
      else merged.push({ lba: range.lba, end: range.lba + range.blocks });
    }
    const releases: Release[] = [];
    for (const range of merged) releases.push(await this.acquire(range.lba, range.end - range.lba, exclusive));
    return () => {
      for (const release of releases) release();
    };
  }

  private releaser(request: Request): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const index = this.queue.indexOf(request);
      if (index !== -1) this.queue.splice(index, 1);
      this.wake();
    };
  }

  /** True when no earlier request (granted or waiting) overlaps and conflicts with `request`. */
  private mayGrant(request: Request): boolean {
    for (const other of this.queue) {
      if (other === request) return true;
      const overlaps = other.start < request.end && request.start < other.end;
      if (overlaps && (other.exclusive || request.exclusive)) return false;
    }
    return true;
  }

  private wake(): void {
    for (const request of this.queue) {
      if (!request.granted && this.mayGrant(request)) {
        request.granted = true;
        request.grant?.();
      }
    }
  }
}
