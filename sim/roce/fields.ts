/**
 * Bounds and range checks shared by the RoCE codecs, so each one throws only {@link RoceError}.
 *
 * Node's Buffer readers throw RangeError past the end; every decoder calls {@link need} first, and every
 * encoder checks each value against its field width with {@link checkUint} before writing it.
 */
import { RoceError } from './errors.js';

/** Throws ERR_ROCE_TRUNCATED unless `buf` holds `length` bytes from `offset`. */
export function need(buf: Buffer, offset: number, length: number, what: string): void {
  if (offset < 0 || buf.length - offset < length) {
    throw new RoceError(
      'ERR_ROCE_TRUNCATED',
      `${what} needs ${length} bytes at offset ${offset}, only ${Math.max(0, buf.length - offset)} left`,
    );
  }
}

/** Returns `value` when it is an integer that fits in `bits` unsigned bits, else throws ERR_ROCE_INVALID_FIELD. */
export function checkUint(name: string, value: number, bits: number): number {
  const max = 2 ** bits - 1;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RoceError('ERR_ROCE_INVALID_FIELD', `${name} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}

/** Returns `value` when it fits in 64 unsigned bits, else throws ERR_ROCE_INVALID_FIELD. */
export function checkUint64(name: string, value: bigint): bigint {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) {
    throw new RoceError('ERR_ROCE_INVALID_FIELD', `${name} must fit in 64 unsigned bits, got ${value}`);
  }
  return value;
}

/** Returns `buf` when it is at most `max` bytes long, else throws ERR_ROCE_INVALID_FIELD. */
export function checkMaxLength(name: string, buf: Buffer, max: number): Buffer {
  if (buf.length > max) {
    throw new RoceError('ERR_ROCE_INVALID_FIELD', `${name} is ${buf.length} bytes, at most ${max} fit`);
  }
  return buf;
}

/** Reads a big-endian 24-bit unsigned integer (caller has checked the bounds). */
export function readU24(buf: Buffer, offset: number): number {
  return buf.readUIntBE(offset, 3);
}

/** Writes a big-endian 24-bit unsigned integer (caller has checked the value). */
export function writeU24(buf: Buffer, offset: number, value: number): void {
  buf.writeUIntBE(value, offset, 3);
}

/** The 1-bit flag `bit` (7 = most significant) of a byte. */
export function flag(byte: number, bit: number): boolean {
  return ((byte >> bit) & 1) === 1;
}
