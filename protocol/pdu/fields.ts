/**
 * Range-checked writes of wire fields. An encoder given a value that does not fit its field throws a
 * {@link PduEncodeError} naming the field, instead of Node's RangeError or a silently truncated value.
 */
import { PduEncodeError } from './errors.js';

function fail(field: string, value: number | bigint, range: string): never {
  throw new PduEncodeError('ERR_PDU_ENCODE_FIELD', `${field} = ${String(value)} does not fit ${range}`);
}

function checkUnsigned(field: string, value: number, max: number, range: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) fail(field, value, range);
}

/** Writes an unsigned 8-bit field. */
export function putU8(buf: Buffer, offset: number, value: number, field: string): void {
  checkUnsigned(field, value, 0xff, 'an unsigned 8-bit field');
  buf[offset] = value;
}

/** Writes an unsigned big-endian 16-bit field. */
export function putU16(buf: Buffer, offset: number, value: number, field: string): void {
  checkUnsigned(field, value, 0xffff, 'an unsigned 16-bit field');
  buf.writeUInt16BE(value, offset);
}

/** Writes an unsigned big-endian 24-bit field. */
export function putU24(buf: Buffer, offset: number, value: number, field: string): void {
  checkUnsigned(field, value, 0xffffff, 'an unsigned 24-bit field');
  buf.writeUIntBE(value, offset, 3);
}

/** Writes an unsigned big-endian 32-bit field. */
export function putU32(buf: Buffer, offset: number, value: number, field: string): void {
  checkUnsigned(field, value, 0xffffffff, 'an unsigned 32-bit field');
  buf.writeUInt32BE(value, offset);
}

/** Writes an unsigned big-endian 64-bit field. */
export function putU64(buf: Buffer, offset: number, value: bigint, field: string): void {
  if (value < 0n || value > 0xffffffffffffffffn) fail(field, value, 'an unsigned 64-bit field');
  buf.writeBigUInt64BE(value, offset);
}

/** Checks that `value` fits in `bits` bits and returns it, for OR-ing into a flags byte. */
export function bitField(value: number, bits: number, field: string): number {
  checkUnsigned(field, value, (1 << bits) - 1, `${bits} bits`);
  return value;
}

/** Reads an unsigned big-endian 24-bit field. */
export function getU24(buf: Buffer, offset: number): number {
  return buf.readUIntBE(offset, 3);
}
