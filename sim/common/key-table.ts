/**
 * Memory keys as RDMA devices hand them out: a 24-bit index that advances from a seeded start, plus an 8-bit
 * random "key" byte, never one in use. Shared by the in-memory fabric and soft-RoCE, which differ only in which
 * key of a region they index by.
 */

/** The randomness a key table draws from (a seeded source, for determinism). */
export interface KeyRandom {
  int(min: number, max: number): number;
}

/** A table of live regions by key. */
export class KeyTable<T> {
  readonly #random: KeyRandom;
  readonly #keyOf: (item: T) => number;
  readonly #byKey = new Map<number, T>();
  #nextIndex: number;

  /** Keys start at a seeded index; `keyOf` names the key an item is found by. */
  constructor(random: KeyRandom, keyOf: (item: T) => number) {
    this.#random = random;
    this.#keyOf = keyOf;
    this.#nextIndex = random.int(1, 0x3fff);
  }

  /** A fresh key, never one in use in this table. */
  allocate(): number {
    for (;;) {
      const index = this.#nextIndex;
      this.#nextIndex = index >= 0xffffff ? 1 : index + 1;
      const key = ((index << 8) | this.#random.int(0, 255)) >>> 0;
      if (!this.#byKey.has(key)) return key;
    }
  }

  /** Makes `item` reachable by its key. */
  add(item: T): void {
    this.#byKey.set(this.#keyOf(item), item);
  }

  /** The live item with this key, if any. */
  lookup(key: number): T | undefined {
    return this.#byKey.get(key);
  }

  /** Forgets `item`. */
  remove(item: T): void {
    const key = this.#keyOf(item);
    if (this.#byKey.get(key) === item) this.#byKey.delete(key);
  }
}
