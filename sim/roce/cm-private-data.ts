/**
 * Fixed-size private-data areas of CM messages: there is no length field, so the sender zero-fills the area
 * and the receiver gets all of it.
 */
import { checkMaxLength } from './fields.js';

/** Private data bytes per CM message (Linux `IB_CM_*_PRIVATE_DATA_SIZE`). */
export const CM_PRIVATE_DATA_BYTES = {
  REQ: 92,
  MRA: 222,
  REJ: 148,
  REP: 196,
  RTU: 224,
  DREQ: 220,
  DREP: 224,
  SIDR_REQ: 216,
  SIDR_REP: 136,
} as const;

/** Copies `data` (at most `size` bytes) into `out` at `offset`, leaving the rest of the area zero. */
export function writePrivateData(name: string, data: Buffer, size: number, out: Buffer, offset: number): void {
  checkMaxLength(`${name} private data`, data, size).copy(out, offset);
}

/** A copy of the `size`-byte private data area at `offset` of `buf`. */
export function readPrivateData(buf: Buffer, offset: number, size: number): Buffer {
  return Buffer.from(buf.subarray(offset, offset + size));
}
