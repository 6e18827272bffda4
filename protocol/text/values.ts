/**
 * The value formats of RFC 7143 §6.1: boolean, decimal and hex numbers, hex and base64 binary strings, lists.
 *
 * Parsers return `undefined` for a malformed value instead of throwing: a malformed offer is answered with
 * `Reject` (RFC 7143 §6.2.2), so the caller decides whether it is an error.
 */

/** The reserved answers of RFC 7143 §6.2: they may never be offered as values. */
export const SpecialAnswer = {
  /** The responder will not accept any of the offered values, or the key cannot be negotiated now. */
  Reject: 'Reject',
  /** The key does not apply to this session or connection. */
  Irrelevant: 'Irrelevant',
  /** The responder does not know the key. */
  NotUnderstood: 'NotUnderstood',
} as const;

/** One of the {@link SpecialAnswer} constants. */
export type SpecialAnswer = (typeof SpecialAnswer)[keyof typeof SpecialAnswer];

/** True when `value` is one of the reserved answers Reject, Irrelevant or NotUnderstood. */
export function isSpecialAnswer(value: string): value is SpecialAnswer {
  return value === 'Reject' || value === 'Irrelevant' || value === 'NotUnderstood';
}

/** The constant that names a missing function in list negotiations (RFC 7143 §6.2.1). */
export const NONE = 'None';

/** Parses `Yes` / `No`. */
export function parseBoolean(value: string): boolean | undefined {
  if (value === 'Yes') return true;
  if (value === 'No') return false;
  return undefined;
}

/** Formats a boolean as `Yes` / `No`. */
export function formatBoolean(value: boolean): string {
  return value ? 'Yes' : 'No';
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const HEX = /^0[xX][0-9a-fA-F]+$/;
const BASE64 = /^0[bB][A-Za-z0-9+/]+={0,2}$/;
const TWO_TO_64 = 1n << 64n;

/**
 * Parses a numerical-value: a decimal-constant (no leading zeros) or a hex-constant, less than 2**64.
 * Values are bounded by the codec (255 bytes), so the BigInt conversion is cheap.
 */
export function parseNumerical(value: string): bigint | undefined {
  if (value.length === 0 || value.length > 255) return undefined;
  if (!DECIMAL.test(value) && !HEX.test(value)) return undefined;
  const n = BigInt(value);
  return n < TWO_TO_64 ? n : undefined;
}

/** Parses a numerical-value and checks it lies in [min, max] (both safe integers). */
export function parseNumberInRange(value: string, min: number, max: number): number | undefined {
  const n = parseNumerical(value);
  if (n === undefined || n < BigInt(min) || n > BigInt(max)) return undefined;
  return Number(n);
}

/** Formats a number as a decimal-constant. */
export function formatNumber(value: number): string {
  return String(value);
}

/**
 * Parses a binary value encoded as a hex-constant (`0x…`) or base64-constant (`0b…`) (RFC 7143 §6.1).
 * A hex-constant of n digits is (n+1)/2 bytes (an odd count gets a leading zero nibble).
 */
export function parseBinary(value: string, maxBytes: number): Buffer | undefined {
  if (HEX.test(value)) {
    const digits = value.slice(2);
    if ((digits.length + 1) >> 1 > maxBytes) return undefined;
    return Buffer.from(digits.length % 2 === 0 ? digits : `0${digits}`, 'hex');
  }
  if (BASE64.test(value)) {
    const digits = value.slice(2);
    const unpadded = digits.replace(/=+$/, '');
    // n base64 digits of 6 bits: n = 4k+1 cannot come from whole bytes (RFC 7143 §6.1).
    if (unpadded.length % 4 === 1) return undefined;
    if (digits.length % 4 !== 0 && digits.length !== unpadded.length) return undefined;
    if (Math.floor((unpadded.length * 3) / 4) > maxBytes) return undefined;
    return Buffer.from(unpadded, 'base64');
  }
  return undefined;
}

/** Formats bytes as a hex-constant (`0x` + two lowercase digits per byte). */
export function formatHex(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}

/** Formats bytes as a base64-constant (`0b` + RFC 4648 base64 with padding). */
export function formatBase64(bytes: Uint8Array): string {
  return `0b${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`;
}

/** Largest single value in a list, in bytes (RFC 7143 §6.1: simple-values are at most 255 bytes). */
export const MAX_SIMPLE_VALUE_BYTES = 255;

/**
 * Splits a list-of-values at its commas. Empty items and items longer than 255 bytes make the list malformed.
 */
export function parseList(value: string): string[] | undefined {
  if (value.length === 0) return undefined;
  const items = value.split(',');
  for (const item of items) {
    if (item.length === 0 || Buffer.byteLength(item, 'utf8') > MAX_SIMPLE_VALUE_BYTES) return undefined;
  }
  return items;
}

/** Joins values into a list-of-values. */
export function formatList(values: readonly string[]): string {
  return values.join(',');
}
