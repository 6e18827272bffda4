/**
 * The Internet checksum (RFC 1071) over a list of chunks, so headers and payloads need not be concatenated first.
 */

/** Ones'-complement sum of 16-bit big-endian words over `chunks`, folded to 16 bits (not yet inverted). */
export function onesComplementSum(chunks: readonly Buffer[], initial = 0): number {
  let sum = initial;
  // A chunk may end in the middle of a 16-bit word; carry the odd byte into the next chunk.
  let pendingHigh: number | undefined;
  for (const chunk of chunks) {
    let i = 0;
    if (pendingHigh !== undefined && chunk.length > 0) {
      sum += (pendingHigh << 8) | (chunk[0] ?? 0);
      pendingHigh = undefined;
      i = 1;
    }
    for (; i + 1 < chunk.length; i += 2) sum += chunk.readUInt16BE(i);
    if (i < chunk.length) pendingHigh = chunk[i];
    // Fold often enough that the sum stays a small integer.
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (pendingHigh !== undefined) sum += pendingHigh << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The Internet checksum of `chunks`: the inverted ones'-complement sum, as it goes on the wire. */
export function internetChecksum(chunks: readonly Buffer[], initial = 0): number {
  return ~onesComplementSum(chunks, initial) & 0xffff;
}
