/**
 * Uninitialised buffers carved from shared slabs, for the data path's short-lived read buffers. `Buffer.alloc`
 * makes one zero-filled ArrayBuffer per call: at 4 KiB reads that was a calloc, a backing store and external
 * memory the GC must account for, per command. A slab serves many small buffers from one allocation (like Node's
 * own pool, which stops below 4 KiB); a large buffer gets its own allocation, still without zero-filling.
 *
 * The memory is NOT zeroed. Whoever takes a buffer must write every byte of it (or fill the rest) before anyone
 * else sees it: bytes from an earlier use must never pass for data. A buffer's `.buffer` is the whole slab, as
 * with Node's pool: share the view, never the ArrayBuffer.
 */

/** Default slab size. */
export const DEFAULT_SLAB_BYTES = 256 * 1024;

/** Default largest buffer carved from a slab; larger ones get their own allocation. */
export const DEFAULT_MAX_SLAB_PIECE = 16 * 1024;

/** A source of uninitialised buffers. */
export class BufferSlab {
  readonly #slabBytes: number;
  readonly #maxPiece: number;
  #slab: Buffer | undefined;
  #used = 0;

  constructor(slabBytes = DEFAULT_SLAB_BYTES, maxPiece = DEFAULT_MAX_SLAB_PIECE) {
    if (!Number.isSafeInteger(slabBytes) || !Number.isSafeInteger(maxPiece) || maxPiece < 0 || slabBytes < maxPiece) {
      throw new RangeError(`bad slab sizes (${slabBytes}, ${maxPiece})`);
    }
    this.#slabBytes = slabBytes;
    this.#maxPiece = maxPiece;
  }

  /** `length` bytes of uninitialised memory: write every one of them before handing the buffer on. */
  uninitialised(length: number): Buffer {
    if (length > this.#maxPiece) return Buffer.allocUnsafeSlow(length);
    let slab = this.#slab;
    if (slab === undefined || this.#used + length > slab.length) {
      slab = Buffer.allocUnsafeSlow(this.#slabBytes);
      this.#slab = slab;
      this.#used = 0;
    }
    const out = slab.subarray(this.#used, this.#used + length);
    // 8-byte alignment keeps typed-array views of a piece possible and costs at most 7 bytes.
    this.#used += (length + 7) & ~7;
    return out;
  }

  /** `length` zero bytes (a slab piece: cheaper than `Buffer.alloc` for small buffers). */
  zeroed(length: number): Buffer {
    return this.uninitialised(length).fill(0);
  }
}
