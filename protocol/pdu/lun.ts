/**
 * LUN helpers. On the wire a LUN is 8 bytes in SAM format (SAM-5 §4.7); the PDU objects keep it raw as a bigint.
 * These build and parse the single-level forms targets use: peripheral device addressing (method 00b, LUNs
 * 0-255 on bus 0) and flat space addressing (method 01b, LUNs 0-16383).
 */
import { PduEncodeError } from './errors.js';

/** A LUN's first level, parsed. */
export type ParsedLun =
  /** Peripheral device addressing: bus (6 bits) and target/LUN (8 bits). */
  | { readonly method: 'peripheral'; readonly bus: number; readonly lun: number }
  /** Flat space addressing: a 14-bit LUN. */
  | { readonly method: 'flat'; readonly lun: number }
  /** Logical unit or extended addressing, or a multi-level LUN: kept raw. */
  | { readonly method: 'other'; readonly raw: bigint };

function checkRange(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new PduEncodeError('ERR_PDU_ENCODE_FIELD', `${name} = ${value} is outside 0..${max}`);
  }
}

/** Peripheral device addressing: byte 0 = bus (method 00b), byte 1 = LUN, the rest zero. */
export function peripheralLun(lun: number, bus = 0): bigint {
  checkRange('bus', bus, 0x3f);
  checkRange('lun', lun, 0xff);
  return (BigInt(bus) << 56n) | (BigInt(lun) << 48n);
}

/** Flat space addressing: method 01b and a 14-bit LUN in bytes 0-1, the rest zero. */
export function flatLun(lun: number): bigint {
  checkRange('lun', lun, 0x3fff);
  return (0x4000n | BigInt(lun)) << 48n;
}

/** The usual encoding of a LUN number: peripheral below 256, flat space up to 16383 (as Linux, LIO and tgt do). */
export function lunFromNumber(lun: number): bigint {
  return lun < 256 ? peripheralLun(lun) : flatLun(lun);
}

/** Parses the first level of a raw LUN. Levels 2-4 must be zero for a single-level form. */
export function parseLun(raw: bigint): ParsedLun {
  const value = BigInt.asUintN(64, raw);
  const firstLevel = Number(value >> 48n);
  const lowerLevels = value & 0xffffffffffffn;
  const method = firstLevel >>> 14;
  if (lowerLevels === 0n && method === 0)
    return { method: 'peripheral', bus: (firstLevel >>> 8) & 0x3f, lun: firstLevel & 0xff };
  if (lowerLevels === 0n && method === 1) return { method: 'flat', lun: firstLevel & 0x3fff };
  return { method: 'other', raw: value };
}

/** The LUN number of a bus-0 peripheral or flat LUN, or undefined for any other form. */
export function lunToNumber(raw: bigint): number | undefined {
  const parsed = parseLun(raw);
  if (parsed.method === 'flat') return parsed.lun;
  if (parsed.method === 'peripheral' && parsed.bus === 0) return parsed.lun;
  return undefined;
}
