/**
 * The demo's data: every 512-byte block stamped with its LBA and the seed, the rest filled from a seeded random
 * page, so a block written to the wrong place, a stale block and a corrupted byte all fail verification.
 */
import { SeededRandom } from '../../sim/clock/random.js';

const BLOCK = 512;
const PAGE = 64 * 1024;

/** Makes the expected contents of any block range for one seed. */
export class DemoPattern {
  readonly #page: Buffer;
  readonly #seed: number;

  constructor(seed: number) {
    this.#seed = seed;
    this.#page = new SeededRandom(seed, ['demo-pattern']).bytes(PAGE);
  }

  /** The bytes of `blocks` blocks from `lba`. */
  blocks(lba: number, blocks: number): Buffer {
    const out = Buffer.allocUnsafe(blocks * BLOCK);
    for (let i = 0; i < blocks; i++) {
      const at = i * BLOCK;
      const from = ((lba + i) * 1031 * 8) % (PAGE - BLOCK);
      this.#page.copy(out, at, from, from + BLOCK);
      out.writeBigUInt64BE(BigInt(lba + i), at);
      out.writeUInt32BE(this.#seed >>> 0, at + 8);
    }
    return out;
  }
}

/** Offset of the first byte where `actual` differs from `expected`, or undefined when they are identical. */
export function firstDifference(expected: Buffer, actual: Buffer): number | undefined {
  if (expected.equals(actual)) return undefined;
  const n = Math.min(expected.length, actual.length);
  for (let i = 0; i < n; i++) if (expected[i] !== actual[i]) return i;
  return n;
}
