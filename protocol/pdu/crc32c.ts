/**
 * CRC32C (Castagnoli), the iSCSI digest (RFC 7143 §13.1, generator 0x11EDC6F41): reflected polynomial 0x82F63B78,
 * initial value and final XOR 0xFFFFFFFF.
 *
 * Slicing-by-16: sixteen 256-entry tables let one step fold 16 bytes. Measured on Node 20/x64 it beats
 * slicing-by-8 by ~1.1-1.2x, and separate Int32Arrays beat one flat table (V8 keeps each in a register).
 * This is the reference implementation; `digest.ts` decides when to hand large buffers to the native one.
 */
/* eslint-disable @typescript-eslint/no-non-null-assertion -- every index is a byte (0..255) or bounded by the
   loop condition, so no access can be out of range. */

const POLY_REFLECTED = 0x82f63b78;

function buildTables(): Int32Array[] {
  const t0 = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY_REFLECTED : c >>> 1;
    t0[i] = c;
  }
  const tables = [t0];
  for (let k = 1; k < 16; k++) {
    const prev = tables[k - 1]!;
    const t = new Int32Array(256);
    for (let i = 0; i < 256; i++) t[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!;
    tables.push(t);
  }
  return tables;
}

// Table k advances a byte that still has k bytes after it in the 16-byte block.
const [T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13, T14, T15] = buildTables() as [
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
];

/**
 * Continues a CRC32C over `bytes`. `crc` is the finished CRC of the bytes before (0 to start), so
 * `crc32c(b, crc32c(a)) === crc32c(a ++ b)`: the same convention as zlib and @node-rs/crc32.
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  // One function on purpose: moving this loop into a helper measured ~1.8x slower on 64 KiB in V8 (Node 20).
  // A `for (const ...;` loop header measured 2x slower too: keep the bound outside the loop.
  const b = bytes;
  let c = ~crc;
  let i = 0;
  const blockEnd = b.length - 15;
  for (; i < blockEnd; i += 16) {
    c =
      T15[b[i]! ^ (c & 0xff)]! ^
      T14[b[i + 1]! ^ ((c >>> 8) & 0xff)]! ^
      T13[b[i + 2]! ^ ((c >>> 16) & 0xff)]! ^
      T12[b[i + 3]! ^ (c >>> 24)]! ^
      T11[b[i + 4]!]! ^
      T10[b[i + 5]!]! ^
      T9[b[i + 6]!]! ^
      T8[b[i + 7]!]! ^
      T7[b[i + 8]!]! ^
      T6[b[i + 9]!]! ^
      T5[b[i + 10]!]! ^
      T4[b[i + 11]!]! ^
      T3[b[i + 12]!]! ^
      T2[b[i + 13]!]! ^
      T1[b[i + 14]!]! ^
      T0[b[i + 15]!]!;
  }
  for (; i < b.length; i++) c = (c >>> 8) ^ T0[(c ^ b[i]!) & 0xff]!;
  return ~c >>> 0;
}

/** CRC32C over a chunk list, as if the chunks were one buffer (nothing is concatenated). */
export function crc32cOfChunks(chunks: readonly Uint8Array[], crc = 0): number {
  let result = crc;
  for (const chunk of chunks) result = crc32c(chunk, result);
  return result;
}
