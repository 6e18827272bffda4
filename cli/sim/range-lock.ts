/**
 * Keeps a block range from being read and written, or written twice, at the same time, so the model knows what
 * every read must return: an operation whose range meets a write in flight (or a write meeting any operation)
 * waits for it to finish. Each wait ends when an operation in flight ends, so it is bounded by their count.
 */

interface Held {
  readonly lba: number;
  readonly end: number;
  readonly write: boolean;
  readonly done: Promise<void>;
}

/** The operations in flight on one LUN. */
export class RangeLock {
  readonly #held = new Set<Held>();

  /** Waits until `lba..lba+blocks` is free for a read (or a write), takes it, and returns its release. */
  async acquire(lba: number, blocks: number, write: boolean): Promise<() => void> {
    const end = lba + blocks;
    for (let guard = 0; guard < 1_000_000; guard++) {
      const conflict = [...this.#held].find((h) => h.lba < end && lba < h.end && (write || h.write));
      if (conflict === undefined) break;
      await conflict.done;
    }
    let release = (): void => undefined;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held: Held = { lba, end, write, done };
    this.#held.add(held);
    return () => {
      this.#held.delete(held);
      release();
    };
  }
}
