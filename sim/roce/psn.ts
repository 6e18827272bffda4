/**
 * 24-bit Packet Sequence Number arithmetic (IBA 9.7.1; rxe `psn_compare`).
 *
 * PSNs wrap at 2^24, so "before" and "after" only make sense within half the space: rxe compares with
 * `(s32)((a - b) << 8)`, i.e. the sign of the difference taken modulo 2^24 as a signed 24-bit number.
 */

/** Mask of the 24 PSN bits. */
export const PSN_MASK = 0xff_ffff;

/** Number of distinct PSNs (2^24). */
export const PSN_MODULUS = 0x100_0000;

/** True when `psn` is an integer in 0..2^24-1. */
export function isPsn(psn: number): boolean {
  return Number.isInteger(psn) && psn >= 0 && psn <= PSN_MASK;
}

/** `psn + n` modulo 2^24 (`n` may be negative). */
export function psnAdd(psn: number, n: number): number {
  return (((psn + n) % PSN_MODULUS) + PSN_MODULUS) & PSN_MASK;
}

/** The signed distance from `b` to `a` in serial arithmetic: negative when a is before b, 0 when equal. */
export function psnDiff(a: number, b: number): number {
  return ((a - b) << 8) >> 8;
}

/** rxe's `psn_compare`: < 0, 0 or > 0 as `a` is before, equal to or after `b`. */
export function psnCompare(a: number, b: number): number {
  return Math.sign(psnDiff(a, b));
}

/** True when `psn` is one of the `count` PSNs starting at `first` (wrapping at 2^24). */
export function psnInWindow(psn: number, first: number, count: number): boolean {
  const offset = psnAdd(psn, -first);
  return offset < count;
}
