/**
 * The key=value codec of Login and Text PDUs (RFC 7143 §6.1): UTF-8 pairs, each followed by one NUL.
 *
 * Decoding treats its input as hostile: every key and value is bounded, and the only error is {@link TextError}.
 */
import { isUtf8 } from 'node:buffer';
import { TextError } from './errors.js';
import { maxValueBytesFor } from './keys.js';

/** One key=value pair. */
export interface TextPair {
  /** The key name (whatever precedes the first `=`). */
  readonly key: string;
  /** The value (whatever follows the first `=`, up to the NUL). */
  readonly value: string;
}

/** Longest key name, in bytes (RFC 7143 §6.1: a standard-label is at most 63 characters). */
export const MAX_KEY_BYTES = 63;

/**
 * Key names: letters, digits, `.`, `-`, `+`, `@`, `_` (RFC 7143 §6.1), starting with a letter. The RFC asks for a
 * capital first letter, yet defines iSCSIProtocolLevel and iSERHelloRequired; public extensions start `X#`.
 */
const KEY_NAME = /^(?:[A-Za-z]|X#)[A-Za-z0-9.\-+@_]*$/;

/** Options of {@link decodeText}. */
export interface DecodeTextOptions {
  /**
   * Accept a key more than once. Only answers to SendTargets repeat keys (TargetName, TargetAddress); everywhere
   * else a repeated key is a protocol error (RFC 7143 §6.3).
   */
  readonly allowDuplicateKeys?: boolean;
}

/** Throws unless `key` is a well-formed key name. */
export function checkKeyName(key: string): void {
  if (key.length === 0 || Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES || !KEY_NAME.test(key)) {
    throw new TextError('ERR_TEXT_BAD_KEY', `invalid key name ${JSON.stringify(key.slice(0, 80))}`, { key });
  }
}

function checkValueLength(key: string, byteLength: number): void {
  const max = maxValueBytesFor(key);
  if (byteLength > max) {
    throw new TextError('ERR_TEXT_VALUE_TOO_LONG', `value of ${key} is ${byteLength} bytes, more than ${max}`, { key });
  }
}

/** Encodes pairs as `key=value\0…`. Throws {@link TextError} for a key or value that could not be decoded back. */
export function encodeText(pairs: readonly TextPair[]): Buffer {
  const parts: Buffer[] = [];
  for (const { key, value } of pairs) {
    checkKeyName(key);
    if (value.includes('\0')) throw new TextError('ERR_TEXT_BAD_ENCODING', `value of ${key} holds a NUL`, { key });
    const encoded = Buffer.from(`${key}=${value}\0`, 'utf8');
    checkValueLength(key, encoded.length - key.length - 2);
    parts.push(encoded);
  }
  return Buffer.concat(parts);
}

/** Total length of a chunk list. */
function lengthOf(chunks: readonly Buffer[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/**
 * Decodes a text data segment. Empty input is zero pairs. Text is small and off the hot path, so a chunk list
 * is joined here once.
 */
export function decodeText(data: Buffer | readonly Buffer[], options: DecodeTextOptions = {}): TextPair[] {
  const bytes = Buffer.isBuffer(data)
    ? data
    : data.length === 1
      ? (data[0] as Buffer)
      : Buffer.concat(data, lengthOf(data));
  if (bytes.length === 0) return [];
  if (bytes[bytes.length - 1] !== 0) {
    throw new TextError('ERR_TEXT_MALFORMED', 'text does not end with a NUL delimiter');
  }
  if (!isUtf8(bytes)) throw new TextError('ERR_TEXT_BAD_ENCODING', 'text is not valid UTF-8');

  const pairs: TextPair[] = [];
  const seen = new Set<string>();
  let start = 0;
  while (start < bytes.length) {
    const end = bytes.indexOf(0, start);
    // `end` is found: the last byte is a NUL.
    const equals = bytes.indexOf(0x3d, start);
    if (end === start) throw new TextError('ERR_TEXT_MALFORMED', `empty pair at byte ${start}`);
    if (equals === -1 || equals > end) {
      throw new TextError('ERR_TEXT_MALFORMED', `pair at byte ${start} has no '='`);
    }
    if (equals - start > MAX_KEY_BYTES) {
      throw new TextError('ERR_TEXT_BAD_KEY', `key at byte ${start} is longer than ${MAX_KEY_BYTES} bytes`);
    }
    const key = bytes.toString('utf8', start, equals);
    checkKeyName(key);
    checkValueLength(key, end - equals - 1);
    if (!options.allowDuplicateKeys) {
      if (seen.has(key)) throw new TextError('ERR_TEXT_DUPLICATE_KEY', `key ${key} appears twice`, { key });
      seen.add(key);
    }
    pairs.push({ key, value: bytes.toString('utf8', equals + 1, end) });
    start = end + 1;
  }
  return pairs;
}
