/**
 * What each block of a LUN should hold during `iser sim`, and the bytes each write puts there. Every block a write
 * makes is stamped with its LBA, the write's number and the seed, the rest filled from a seeded page, so a read
 * tells a lost acknowledged write (an older stamp of the same block, or zeros) from corruption (anything else).
 *
 * conformance/support/lun-model.ts models aborted writes as torn-or-not groups and walks every block on each read;
 * this one keeps 4 bytes per block and touches only the blocks read, so LUNs of a gigabyte stay cheap.
 */
import { SeededRandom } from '../../sim/clock/random.js';

const PAGE = 64 * 1024;
const MAGIC = 0x6973696d; // 'isim'
const HEADER = 20;

/** What a read found wrong with one block. */
export interface BlockMismatch {
  readonly lba: number;
  /** `lost-write`: an older content of this very block came back (or zeros): an acknowledged write is gone. */
  readonly kind: 'lost-write' | 'corrupt';
  /** The write numbers the block may hold (0: never written, zeros). */
  readonly expected: readonly number[];
  /** The write number found in the block's stamp, when it has a valid one. */
  readonly found: number | undefined;
}

/** The model of one LUN. */
export class SimLunModel {
  readonly blockSize: number;
  readonly blocks: number;
  readonly #seed: number;
  readonly #page: Buffer;
  /** The last acknowledged write of each block (0: zeros). */
  readonly #expected: Uint32Array;
  /** Blocks a failed write may or may not have reached: the writes they may hold. */
  readonly #uncertain = new Map<number, readonly number[]>();
  #nextWrite = 1;

  constructor(blocks: number, blockSize: number, seed: number, label: string) {
    this.blocks = blocks;
    this.blockSize = blockSize;
    this.#seed = seed >>> 0;
    this.#expected = new Uint32Array(blocks);
    this.#page = new SeededRandom(seed, ['sim-pattern', label]).bytes(PAGE);
  }

  /** A new write number. */
  newWrite(): number {
    return this.#nextWrite++;
  }

  /** The bytes write `write` puts on `blocks` blocks from `lba`. */
  contents(lba: number, blocks: number, write: number): Buffer {
    const out = Buffer.allocUnsafe(blocks * this.blockSize);
    for (let i = 0; i < blocks; i++) this.#fill(out, i * this.blockSize, lba + i, write);
    return out;
  }

  /** The write completed with GOOD status: from now on its blocks must read back as it wrote them. */
  acknowledged(lba: number, blocks: number, write: number): void {
    for (let b = lba; b < lba + blocks; b++) {
      this.#expected[b] = write;
      this.#uncertain.delete(b);
    }
  }

  /** The write failed: each of its blocks holds the old or the new content. */
  failed(lba: number, blocks: number, write: number): void {
    for (let b = lba; b < lba + blocks; b++) {
      const before = this.#uncertain.get(b) ?? [this.#expected[b] ?? 0];
      this.#uncertain.set(b, [...before, write]);
    }
  }

  /** Checks a read of `data` at `lba`; settles uncertain blocks it reveals. Returns every wrong block. */
  check(lba: number, data: Buffer): BlockMismatch[] {
    const out: BlockMismatch[] = [];
    const scratch = Buffer.allocUnsafe(this.blockSize);
    const count = Math.floor(data.length / this.blockSize);
    for (let i = 0; i < count; i++) {
      const b = lba + i;
      const bytes = data.subarray(i * this.blockSize, (i + 1) * this.blockSize);
      const candidates = this.#uncertain.get(b) ?? [this.#expected[b] ?? 0];
      const match = candidates.find((write) => {
        this.#fill(scratch, 0, b, write);
        return scratch.equals(bytes);
      });
      if (match !== undefined) {
        if (candidates.length > 1) {
          this.#expected[b] = match;
          this.#uncertain.delete(b);
        }
        continue;
      }
      out.push(this.#classify(b, bytes, candidates, scratch));
    }
    return out;
  }

  #classify(b: number, bytes: Buffer, expected: readonly number[], scratch: Buffer): BlockMismatch {
    const newest = Math.max(...expected);
    if (bytes.every((x) => x === 0)) {
      return { lba: b, kind: newest > 0 ? 'lost-write' : 'corrupt', expected, found: 0 };
    }
    const stamped =
      bytes.readUInt32BE(0) === MAGIC &&
      bytes.readBigUInt64BE(4) === BigInt(b) &&
      bytes.readUInt32BE(16) === this.#seed;
    const found = stamped ? bytes.readUInt32BE(12) : undefined;
    if (found !== undefined && found < newest) {
      this.#fill(scratch, 0, b, found);
      if (scratch.equals(bytes)) return { lba: b, kind: 'lost-write', expected, found };
    }
    return { lba: b, kind: 'corrupt', expected, found };
  }

  /** Writes the content of block `lba` as written by `write` (0: zeros) at `at`. */
  #fill(out: Buffer, at: number, lba: number, write: number): void {
    if (write === 0) {
      out.fill(0, at, at + this.blockSize);
      return;
    }
    const span = Math.min(this.blockSize - HEADER, PAGE);
    const from = ((lba * 1031 + write * 7919) * 8) % (PAGE - span);
    out.writeUInt32BE(MAGIC, at);
    out.writeBigUInt64BE(BigInt(lba), at + 4);
    out.writeUInt32BE(write, at + 12);
    out.writeUInt32BE(this.#seed, at + 16);
    this.#page.copy(out, at + HEADER, from, from + span);
  }
}
