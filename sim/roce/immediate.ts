/**
 * The two 4-byte opaque headers: ImmDt (immediate data, IBA 9.3.4) and IETH (the R_Key a SEND_WITH_INVALIDATE
 * invalidates, IBA 9.3.7). Both are carried as a big-endian u32 and passed through unchanged.
 */
import { checkUint, need } from './fields.js';

/** Size of ImmDt in bytes. */
export const IMMDT_BYTES = 4;

/** Size of the IETH in bytes. */
export const IETH_BYTES = 4;

/** Writes a 4-byte opaque header (`name` says which, for errors). */
export function writeU32Header(name: string, value: number, out: Buffer, offset: number): void {
  need(out, offset, 4, name);
  out.writeUInt32BE(checkUint(name, value, 32), offset);
}

/** Reads a 4-byte opaque header. */
export function readU32Header(name: string, buf: Buffer, offset = 0): number {
  need(buf, offset, 4, name);
  return buf.readUInt32BE(offset);
}
