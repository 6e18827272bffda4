/**
 * What a LUN must hold, block by block, as the test believes it: a byte image of the unit plus, for blocks whose
 * fate is open (a write that was aborted or cut off may or may not have landed), the versions each block may
 * legitimately hold. A read settles open blocks: each must equal one of its candidates (or anything, for blocks
 * of unknown content), and from then on it is known again. Known blocks must match byte for byte.
 */

/** Anything at all: the block's content is unknown (e.g. unmapped without LBPRZ, or after a failed test). */
const ANY = 'any' as const;

type Candidates = Buffer[] | typeof ANY;

/** One block that did not match the model. */
export interface Mismatch {
  readonly lba: number;
  /** First differing byte within the block (-1 when the block matched none of several candidates). */
  readonly offset: number;
  readonly expected: number | undefined;
  readonly actual: number | undefined;
}

/** The result of checking a read against the model. */
export interface Verdict {
  readonly ok: boolean;
  /** Blocks that did not match (at most a handful are listed). */
  readonly mismatches: readonly Mismatch[];
  /** Total blocks that did not match. */
  readonly badBlocks: number;
  /** Open blocks the read settled. */
  readonly settled: number;
}

const MAX_LISTED = 8;

/** The expected content of one LUN. */
export class LunModel {
  readonly #image: Buffer;
  readonly #open = new Map<number, Candidates>();

  /** A unit of `blocks` blocks of `blockSize` bytes, all zeros (a fresh sparse or thin LUN). */
  constructor(
    readonly blockSize: number,
    readonly blocks: number,
  ) {
    this.#image = Buffer.alloc(blockSize * blocks);
  }

  /** Blocks whose content is not settled. */
  get openBlocks(): number {
    return this.#open.size;
  }

  /** A write was acknowledged: the blocks hold `data` now. */
  written(lba: number, data: Buffer): void {
    this.#check(lba, data.length);
    data.copy(this.#image, lba * this.blockSize);
    for (let b = 0; b < data.length / this.blockSize; b++) this.#open.delete(lba + b);
  }

  /** A write's fate is unknown (aborted, cut off): each block holds its old content or the new one. */
  mayHaveWritten(lba: number, data: Buffer): void {
    this.#check(lba, data.length);
    const size = this.blockSize;
    for (let b = 0; b < data.length / size; b++) {
      const block = lba + b;
      const fresh = data.subarray(b * size, (b + 1) * size);
      const open = this.#open.get(block);
      if (open === ANY) continue;
      if (open === undefined) {
        const old = Buffer.from(this.#image.subarray(block * size, (block + 1) * size));
        this.#open.set(block, [old, fresh]);
      } else {
        open.push(fresh);
      }
    }
  }

  /** The blocks' content is unknown until read (unmapped without LBPRZ; a test that broke off). */
  forget(lba: number, blocks: number): void {
    this.#check(lba, blocks * this.blockSize);
    for (let b = 0; b < blocks; b++) this.#open.set(lba + b, ANY);
  }

  /** Forgets everything: the whole unit is unknown until read. */
  forgetAll(): void {
    this.forget(0, this.blocks);
  }

  /** A copy of what the blocks hold, when every one of them is settled (undefined otherwise). */
  expected(lba: number, blocks: number): Buffer | undefined {
    this.#check(lba, blocks * this.blockSize);
    for (let b = 0; b < blocks; b++) if (this.#open.has(lba + b)) return undefined;
    return Buffer.from(this.#image.subarray(lba * this.blockSize, (lba + blocks) * this.blockSize));
  }

  /** True when any of the blocks is open. */
  isOpen(lba: number, blocks: number): boolean {
    if (this.#open.size === 0) return false;
    for (let b = 0; b < blocks; b++) if (this.#open.has(lba + b)) return true;
    return false;
  }

  /** Checks what a read at `lba` returned; open blocks that match a candidate become settled. */
  verifyRead(lba: number, data: Buffer): Verdict {
    this.#check(lba, data.length);
    const size = this.blockSize;
    const blocks = data.length / size;
    const start = lba * size;
    // The common case, no open block: one comparison over the whole range.
    if (!this.isOpen(lba, blocks) && this.#image.compare(data, 0, data.length, start, start + data.length) === 0) {
      return { ok: true, mismatches: [], badBlocks: 0, settled: 0 };
    }
    const mismatches: Mismatch[] = [];
    let badBlocks = 0;
    let settled = 0;
    for (let b = 0; b < blocks; b++) {
      const block = lba + b;
      const actual = data.subarray(b * size, (b + 1) * size);
      const open = this.#open.get(block);
      const at = block * size;
      if (open === undefined) {
        if (this.#image.compare(actual, 0, size, at, at + size) === 0) continue;
        badBlocks += 1;
        if (mismatches.length < MAX_LISTED) {
          const offset = firstDifference(actual, this.#image.subarray(at, at + size));
          mismatches.push({ lba: block, offset, expected: this.#image[at + offset], actual: actual[offset] });
        }
        continue;
      }
      if (open !== ANY && !open.some((candidate) => candidate.equals(actual))) {
        badBlocks += 1;
        if (mismatches.length < MAX_LISTED) {
          mismatches.push({ lba: block, offset: -1, expected: undefined, actual: undefined });
        }
        continue;
      }
      actual.copy(this.#image, at);
      this.#open.delete(block);
      settled += 1;
    }
    return { ok: badBlocks === 0, mismatches, badBlocks, settled };
  }

  #check(lba: number, bytes: number): void {
    if (
      !Number.isSafeInteger(lba) ||
      lba < 0 ||
      bytes % this.blockSize !== 0 ||
      lba + bytes / this.blockSize > this.blocks
    ) {
      throw new RangeError(`model: ${bytes} bytes at LBA ${lba} do not fit ${this.blocks} blocks of ${this.blockSize}`);
    }
  }
}

function firstDifference(a: Buffer, b: Buffer): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return 0;
}

/** A short description of a failed verdict, for assertion messages. */
export function describeVerdict(verdict: Verdict, what: string): string {
  const listed = verdict.mismatches
    .map((m) =>
      m.offset < 0
        ? `LBA ${m.lba}: matches neither the old nor any possible new content`
        : `LBA ${m.lba} byte ${m.offset}: expected ${m.expected}, got ${m.actual}`,
    )
    .join('; ');
  return `${what}: ${verdict.badBlocks} block(s) differ from the model (${listed})`;
}
