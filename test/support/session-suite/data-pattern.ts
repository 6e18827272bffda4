/**
 * Test data that is deterministic, fast to make in bulk (AES-128-CTR keystream, GB/s) and unique per write:
 * the bytes of write `n` under seed `s` are the keystream of key SHA-256(s) at counter block n·2^64, so no two
 * writes (and no two blocks) of a run share content and a misplaced block cannot pass for the right one.
 */
import { createCipheriv, createHash } from 'node:crypto';

/** A source of write payloads. */
export class DataPattern {
  readonly #key: Buffer;

  constructor(readonly seed: string | number) {
    this.#key = createHash('sha256')
      .update(`session-suite:${String(seed)}`)
      .digest()
      .subarray(0, 16);
  }

  /** `length` bytes for write number `index`. */
  bytes(index: number, length: number): Buffer {
    if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`write index ${index} is not a safe integer`);
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64BE(BigInt(index), 0);
    const cipher = createCipheriv('aes-128-ctr', this.#key, iv);
    return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
  }
}
