/**
 * Serial number arithmetic (RFC 1982) with SERIAL_BITS = 32, as iSCSI uses for CmdSN, StatSN, DataSN and R2TSN
 * (RFC 7143 §4.2.2.1). Two numbers exactly 2^31 apart compare neither less nor greater: RFC 1982 leaves that
 * undefined, and so do these functions (both comparisons are false).
 */
import { SerialNumberError } from './errors.js';

const HALF = 0x80000000;

function check(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new SerialNumberError('ERR_SERIAL_RANGE', `${name} = ${value} is not a 32-bit serial number`);
  }
}

/** `s + n` (mod 2^32); `n` must be 0..2^31-1 (RFC 1982 §3.1). */
export function serialAdd(s: number, n: number): number {
  check('s', s);
  if (!Number.isInteger(n) || n < 0 || n > HALF - 1) {
    throw new SerialNumberError('ERR_SERIAL_RANGE', `serial addition of ${n} is undefined (0..2^31-1)`);
  }
  return (s + n) >>> 0;
}

/** Signed distance `a - b` in -2^31..2^31-1: positive when `a` is after `b`. */
export function serialDiff(a: number, b: number): number {
  check('a', a);
  check('b', b);
  return (a - b) | 0;
}

/** `a < b` in serial arithmetic. */
export function serialLt(a: number, b: number): boolean {
  check('a', a);
  check('b', b);
  return a !== b && ((a < b && b - a < HALF) || (a > b && a - b > HALF));
}

/** `a > b` in serial arithmetic. */
export function serialGt(a: number, b: number): boolean {
  check('a', a);
  check('b', b);
  return a !== b && ((a < b && b - a > HALF) || (a > b && a - b < HALF));
}

/** `a <= b` in serial arithmetic (equal, or less). */
export function serialLe(a: number, b: number): boolean {
  return a === b ? (check('a', a), true) : serialLt(a, b);
}

/** `a >= b` in serial arithmetic (equal, or greater). */
export function serialGe(a: number, b: number): boolean {
  return a === b ? (check('a', a), true) : serialGt(a, b);
}

/** True when `s` lies in the closed window [low, high] (e.g. ExpCmdSN ≤ CmdSN ≤ MaxCmdSN). */
export function serialInWindow(s: number, low: number, high: number): boolean {
  return serialLe(low, s) && serialLe(s, high);
}
