/**
 * A bounded memory of tags (ITTs, TTTs) that were valid a moment ago. Data for a task the core has just finished
 * (e.g. unsolicited Data-Out still in flight behind an early CHECK CONDITION) is dropped quietly instead of being
 * taken for a hostile peer; tags never seen stay protocol errors. The oldest tag is forgotten first.
 */

/** Default number of tags remembered. */
export const DEFAULT_RETIRED_TAGS = 4096;

/** A FIFO set of at most `capacity` tags. */
export class RetiredTags {
  private readonly ring: (number | undefined)[];
  private readonly members = new Set<number>();
  private next = 0;

  constructor(capacity = DEFAULT_RETIRED_TAGS) {
    this.ring = new Array<number | undefined>(Math.max(1, capacity)).fill(undefined);
  }

  /** Remembers `tag`, forgetting the oldest when full. */
  add(tag: number): void {
    if (this.members.has(tag)) return;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.members.delete(evicted);
    this.ring[this.next] = tag;
    this.members.add(tag);
    this.next = (this.next + 1) % this.ring.length;
  }

  /** True when `tag` was retired recently. */
  has(tag: number): boolean {
    return this.members.has(tag);
  }

  /** Forgets `tag` (it is in use again). */
  delete(tag: number): void {
    this.members.delete(tag);
  }
}
