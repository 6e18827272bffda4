/**
 * NBD strings: UTF-8, no NUL, at most 4096 bytes (proto.md "Conventions"). Decoding is strict so that a name the
 * client sends compares byte for byte with the one we serve.
 */
import { NBD_MAX_STRING } from './constants.js';
import { NbdDecodeError, NbdEncodeError } from './errors.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
// In a `u` regex a surrogate pair is one code point outside this range, so only lone surrogates match.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Encodes an NBD string, refusing NULs, lone surrogates and anything over 4096 bytes. */
export function encodeNbdString(text: string, what: string): Buffer {
  if (text.includes('\0')) throw new NbdEncodeError('ERR_NBD_ENCODE', `${what} contains a NUL character`);
  if (LONE_SURROGATE.test(text)) throw new NbdEncodeError('ERR_NBD_ENCODE', `${what} is not well-formed Unicode`);
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > NBD_MAX_STRING) {
    throw new NbdEncodeError('ERR_NBD_ENCODE', `${what} is ${bytes.length} bytes; NBD allows ${NBD_MAX_STRING}`);
  }
  return bytes;
}

/** Decodes an NBD string, refusing NULs, invalid UTF-8 and anything over 4096 bytes. */
export function decodeNbdString(bytes: Buffer, what: string): string {
  if (bytes.length > NBD_MAX_STRING) {
    throw new NbdDecodeError('ERR_NBD_STRING', `${what} is ${bytes.length} bytes; NBD allows ${NBD_MAX_STRING}`);
  }
  if (bytes.includes(0)) throw new NbdDecodeError('ERR_NBD_STRING', `${what} contains a NUL byte`);
  try {
    return strictUtf8.decode(bytes);
  } catch (cause) {
    throw new NbdDecodeError('ERR_NBD_STRING', `${what} is not valid UTF-8`, { cause });
  }
}

/** True when `text` is a string NBD can carry (for validating export names up front). */
export function isNbdString(text: string): boolean {
  return !text.includes('\0') && !LONE_SURROGATE.test(text) && Buffer.byteLength(text, 'utf8') <= NBD_MAX_STRING;
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes at a character boundary (for messages quoting client input). */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (used + size > maxBytes - 3) break;
    out += char;
    used += size;
  }
  return `${out}...`;
}
