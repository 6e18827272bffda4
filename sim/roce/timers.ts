/**
 * Timer values carried as codes on the wire: the RNR NAK timer (AETH, CM REQ/REP) and the IBA 4.096 µs · 2^n
 * timeouts (local ACK timeout, CM response timeouts, packet lifetime).
 */
import { RoceError } from './errors.js';

/**
 * Microseconds a requester waits after an RNR NAK, by 5-bit timer code, exactly as rxe's `rnrnak_usec` table.
 * Code 0 is the longest (655.36 ms). Code 25 is 61410 in rxe where IBA Table 45 says 61.44 ms: we keep rxe's value.
 */
export const RNR_TIMER_USEC: readonly number[] = [
  655360, 10, 20, 30, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960, 1280, 1920, 2560, 3840, 5120, 7680, 10240, 15360,
  20480, 30720, 40960, 61410, 81920, 122880, 163840, 245760, 327680, 491520,
];

/** Microseconds for RNR timer `code` (0..31). */
export function rnrTimerUsec(code: number): number {
  const usec = Number.isInteger(code) ? RNR_TIMER_USEC[code] : undefined;
  if (usec === undefined) throw new RoceError('ERR_ROCE_INVALID_FIELD', `RNR timer code must be 0..31, got ${code}`);
  return usec;
}

/** The smallest RNR timer code whose wait is at least `usec` (code 0, the longest, when none is). */
export function rnrTimerCodeAtLeast(usec: number): number {
  for (let code = 1; code < RNR_TIMER_USEC.length; code++) {
    if ((RNR_TIMER_USEC[code] ?? 0) >= usec) return code;
  }
  return 0;
}

/**
 * IBA timeout for a 5-bit exponent: 4.096 µs · 2^exponent (local ACK timeout C9-141, CM response timeouts,
 * packet lifetime). For the local ACK timeout, exponent 0 means "no timeout" and this returns `Infinity`.
 * rxe itself arms `usecs_to_jiffies(4 << exponent)`, i.e. 4 µs · 2^exponent, about 2.4% shorter.
 */
export function localAckTimeoutUsec(exponent: number): number {
  if (!Number.isInteger(exponent) || exponent < 0 || exponent > 31) {
    throw new RoceError('ERR_ROCE_INVALID_FIELD', `timeout exponent must be 0..31, got ${exponent}`);
  }
  return exponent === 0 ? Infinity : ibTimeoutUsec(exponent);
}

/** 4.096 µs · 2^exponent, the IBA encoding of every CM timeout (no "0 = infinite" rule). */
export function ibTimeoutUsec(exponent: number): number {
  if (!Number.isInteger(exponent) || exponent < 0 || exponent > 31) {
    throw new RoceError('ERR_ROCE_INVALID_FIELD', `timeout exponent must be 0..31, got ${exponent}`);
  }
  return 4.096 * 2 ** exponent;
}
