/**
 * Small byte helpers shared by the SCSI codecs: bounds checks that throw the layer's typed error, chunk-list
 * arithmetic, and the fixed-width ASCII fields of INQUIRY data.
 */
import { ScsiDecodeError, ScsiEncodeError } from './errors.js';

/** Throws ERR_SCSI_TRUNCATED unless `buf` holds at least `length` bytes. */
export function requireLength(buf: Buffer, length: number, what: string): void {
  if (buf.length < length) {
    throw new ScsiDecodeError('ERR_SCSI_TRUNCATED', `${what}: need ${length} bytes, have ${buf.length}`);
  }
}

/** Total byte length of a chunk list. */
export function chunksLength(chunks: readonly Buffer[]): number {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  return total;
}

/** One contiguous buffer from a chunk list (copies only when there is more than one chunk). */
export function concatChunks(chunks: readonly Buffer[]): Buffer {
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  return Buffer.concat(chunks);
}

/** The first `length` bytes of a chunk list, as a chunk list (no copying). */
export function truncateChunks(chunks: readonly Buffer[], length: number): Buffer[] {
  const out: Buffer[] = [];
  let remaining = length;
  for (const chunk of chunks) {
    if (remaining <= 0) break;
    out.push(chunk.length <= remaining ? chunk : chunk.subarray(0, remaining));
    remaining -= chunk.length;
  }
  return out;
}

/** Returns `data` cut to an allocation length (SPC-4 §4.2.5.6: the device server never returns more). */
export function truncateTo(data: Buffer, allocationLength: number): Buffer {
  return data.length <= allocationLength ? data : data.subarray(0, allocationLength);
}

/** Throws ERR_SCSI_ENCODE_FIELD unless `value` is an integer in [0, max]. */
export function checkUint(value: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', `${field} must be an integer in [0, ${max}], got ${value}`);
  }
  return value;
}

/** Throws ERR_SCSI_ENCODE_FIELD unless `value` is an integer in [0, max]; returns it as a bigint. */
export function checkUint64(value: number | bigint, max: bigint, field: string): bigint {
  const big = typeof value === 'bigint' ? value : Number.isInteger(value) ? BigInt(value) : -1n;
  if (big < 0n || big > max) {
    throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', `${field} must be an integer in [0, ${max}], got ${value}`);
  }
  return big;
}

/** Writes `text` left-aligned and space-padded into a fixed-width ASCII field (SPC-4 §4.3.1). */
export function writeAsciiField(buf: Buffer, offset: number, width: number, text: string, field: string): void {
  if (!/^[\x20-\x7e]*$/.test(text) || text.length > width) {
    throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', `${field} must be at most ${width} printable ASCII characters`);
  }
  buf.fill(0x20, offset, offset + width);
  buf.write(text, offset, 'latin1');
}

/** Trailing spaces and NULs: the padding of ASCII fields. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what pads these fields
export const TRAILING_PAD = /[\x00 ]+$/;

/** Reads a fixed-width ASCII field, dropping trailing spaces and NULs. */
export function readAsciiField(buf: Buffer, offset: number, width: number): string {
  return buf.toString('latin1', offset, offset + width).replace(TRAILING_PAD, '');
}
