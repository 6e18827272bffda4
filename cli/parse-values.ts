/** Parsers of flag values (sizes, durations, counts, digests), throwing commander's InvalidArgumentError. */
import { InvalidArgumentError } from 'commander';
import { parseSize } from '../backends/spec.js';
import type { Digest } from '../protocol/text/params.js';

/** `4096`, `4k`, `1M` (binary multiples) to bytes, at most `max`. */
export function sizeValue(max: number): (text: string) => number {
  return (text) => {
    let bytes: number;
    try {
      bytes = parseSize(text);
    } catch {
      throw new InvalidArgumentError('expected bytes with an optional K, M or G suffix (e.g. 4k, 1M)');
    }
    if (bytes > max) throw new InvalidArgumentError(`at most ${max} bytes`);
    return bytes;
  };
}

/** A whole number in `min..max`. */
export function integerValue(min: number, max: number): (text: string) => number {
  return (text) => {
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number in ${min}..${max}`);
    }
    return n;
  };
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)?$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/** `10s`, `500ms`, `2m`, or plain seconds, to milliseconds in `minMs..maxMs`. */
export function durationValue(minMs: number, maxMs: number): (text: string) => number {
  return (text) => {
    const match = DURATION.exec(text.trim());
    const ms = match === null ? NaN : Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1000);
    if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) {
      throw new InvalidArgumentError(`expected a duration in ${minMs / 1000}s..${maxMs / 1000}s (e.g. 10s, 500ms, 2m)`);
    }
    return ms;
  };
}

const DIGESTS: ReadonlyMap<string, readonly Digest[]> = new Map([
  ['none', ['None']],
  ['crc32c', ['CRC32C']],
  ['none-crc32c', ['None', 'CRC32C']],
  ['crc32c-none', ['CRC32C', 'None']],
]);

/** A digest preference as iSCSI URLs spell it. */
export function digestValue(text: string): readonly Digest[] {
  const digest = DIGESTS.get(text.toLowerCase());
  if (digest === undefined) throw new InvalidArgumentError('expected none, crc32c, none-crc32c or crc32c-none');
  return digest;
}

/** Bytes in a short human form: `512 B`, `4 KiB`, `1.5 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1);
  return `${text} ${units[unit] ?? 'B'}`;
}
