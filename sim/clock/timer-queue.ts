/**
 * A binary min-heap of timers ordered by (due time, insertion sequence): earliest first, and FIFO among timers
 * due at the same virtual time. Removal is lazy: a cancelled entry stays in the heap, marked dead, until it
 * reaches the top, which keeps cancel and reschedule O(1) (RxJS's timeout() reschedules on every value).
 */

/** One queued timer. */
export interface TimerEntry<T> {
  /** Virtual time (ms) at which it fires. */
  readonly due: number;
  /** Insertion order; breaks ties at the same `due`. */
  readonly seq: number;
  /** What to fire. */
  readonly item: T;
  /** False once cancelled. */
  live: boolean;
}

/** Min-heap of {@link TimerEntry} by (due, seq). */
export class TimerQueue<T> {
  private readonly heap: TimerEntry<T>[] = [];
  private nextSeq = 0;
  private liveCount = 0;

  /** Number of live (not cancelled) timers. */
  get size(): number {
    return this.liveCount;
  }

  /** Queues `item` at `due` and returns its entry (keep it to cancel). */
  push(due: number, item: T): TimerEntry<T> {
    const entry: TimerEntry<T> = { due, seq: this.nextSeq++, item, live: true };
    this.heap.push(entry);
    this.liveCount++;
    this.siftUp(this.heap.length - 1);
    return entry;
  }

  /** Cancels an entry; a no-op if it already fired or was cancelled. */
  cancel(entry: TimerEntry<T>): void {
    if (!entry.live) return;
    entry.live = false;
    this.liveCount--;
    // Dead entries wait for the top; when they outnumber the living, rebuild so memory stays bounded.
    if (this.heap.length > 64 && this.heap.length > 2 * this.liveCount) this.compact();
  }

  /** The earliest live entry, without removing it. */
  peek(): TimerEntry<T> | undefined {
    this.dropDead();
    return this.heap[0];
  }

  /** Removes and returns the earliest live entry (it is no longer live). */
  pop(): TimerEntry<T> | undefined {
    this.dropDead();
    const top = this.takeTop();
    if (top !== undefined) {
      top.live = false;
      this.liveCount--;
    }
    return top;
  }

  private compact(): void {
    const live = this.heap.filter((e) => e.live);
    this.heap.length = 0;
    this.heap.push(...live);
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private dropDead(): void {
    while (this.heap[0] !== undefined && !this.heap[0].live) this.takeTop();
  }

  private takeTop(): TimerEntry<T> | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (top !== undefined && last !== undefined && last !== top) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private before(i: number, j: number): boolean {
    const a = this.heap[i];
    const b = this.heap[j];
    if (a === undefined || b === undefined) return false;
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i];
    const b = this.heap[j];
    if (a === undefined || b === undefined) return;
    this.heap[i] = b;
    this.heap[j] = a;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < this.heap.length && this.before(l, best)) best = l;
      if (r < this.heap.length && this.before(r, best)) best = r;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }
}
