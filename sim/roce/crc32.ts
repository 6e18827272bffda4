/**
 * The standard reflected CRC-32 (polynomial 0xEDB88320, as zlib, Ethernet and rxe's `crc32_le` use), by table.
 *
 * The ICRC uses Node's native `zlib.crc32` for speed (it is the same CRC and exists since Node 20.15, below our
 * engines floor of 20.19); this table version is the independent implementation the tests hold it against.
 */

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of `data`, continuing from a previous result `value` (0 to start), with zlib's semantics. */
export function crc32(data: Uint8Array, value = 0): number {
  let c = ~value >>> 0;
  for (const byte of data) c = (TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return ~c >>> 0;
}
