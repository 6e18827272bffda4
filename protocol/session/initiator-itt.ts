/**
 * Initiator Task Tags (RFC 7143 §11.2.1.8): unique among the session's live tasks, never 0xffffffff (the reserved
 * "no task" tag) and never 0, which the login exchanges use.
 */
import { RESERVED_TAG } from '../pdu/constants.js';
import { InitiatorSessionError } from './initiator-errors.js';

/** Hands out ITTs round-robin, skipping tags still in use. */
export class IttAllocator {
  readonly #live = new Set<number>();
  #next: number;

  /** `first` is where the round-robin starts (default 1). */
  constructor(first = 1) {
    this.#next = first === 0 || first >= RESERVED_TAG ? 1 : first;
  }

  /** Number of tags in use. */
  get size(): number {
    return this.#live.size;
  }

  /** A tag not in use; it stays in use until {@link release}. */
  allocate(): number {
    // 2^32 - 2 usable tags: the loop ends long before, unless every tag is live.
    if (this.#live.size >= RESERVED_TAG - 1) {
      throw new InitiatorSessionError('ERR_SESSION_BAD_REQUEST', 'every Initiator Task Tag is in use');
    }
    for (;;) {
      const tag = this.#next;
      this.#next = tag + 1 >= RESERVED_TAG ? 1 : tag + 1;
      if (!this.#live.has(tag)) {
        this.#live.add(tag);
        return tag;
      }
    }
  }

  /** True while `tag` is in use. */
  has(tag: number): boolean {
    return this.#live.has(tag);
  }

  /** Returns a tag to the pool. */
  release(tag: number): void {
    this.#live.delete(tag);
  }
}
