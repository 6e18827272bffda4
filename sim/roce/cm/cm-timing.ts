/**
 * CM timeouts the way Linux `ib_cm` computes them from the 5-bit IBA exponents it exchanges (`cm_convert_to_ms`:
 * 2^(exponent − 8) ms, at least 1 ms), and rdma_cm's choices for RoCE.
 */
import { RoceError } from '../errors.js';

/** rdma_cm's CM response timeout exponent (`CMA_CM_RESPONSE_TIMEOUT`, about 4.3 s). */
export const CMA_CM_RESPONSE_TIMEOUT = 20;

/** rdma_cm's maximum CM retries (`CMA_MAX_CM_RETRIES`). */
export const CMA_MAX_CM_RETRIES = 15;

/** rdma_cm's packet lifetime exponent on RoCE (`CMA_IBOE_PACKET_LIFETIME`). */
export const CMA_IBOE_PACKET_LIFETIME = 16;

/** The CM's timers, as IBA exponents. */
export interface CmTimings {
  /** How long a peer may take to answer a REQ or REP (exponent; sent in REQ as both response timeouts). */
  readonly responseTimeout: number;
  /** Packet lifetime exponent (RoCE has no SA: rdma_cm's constant). */
  readonly packetLifetime: number;
  /** REQ, REP and DREQ are sent at most 1 + this many times. */
  readonly maxRetries: number;
  /** The QP's local ACK timeout exponent: time-wait and MRA waits use it (`av.timeout`). */
  readonly ackTimeout: number;
}

/** rdma_cm's values, with rxe-like ACK timeout 14 (≈ 67 ms). */
export const DEFAULT_CM_TIMINGS: CmTimings = {
  responseTimeout: CMA_CM_RESPONSE_TIMEOUT,
  packetLifetime: CMA_IBOE_PACKET_LIFETIME,
  maxRetries: CMA_MAX_CM_RETRIES,
  ackTimeout: 14,
};

/** `cm_convert_to_ms`: an IBA time exponent in whole milliseconds. */
export function cmConvertToMs(exponent: number): number {
  return 2 ** Math.max(exponent - 8, 0);
}

/**
 * ib_cm's `cm_ack_timeout`: the local ACK timeout exponent a REQ asks the passive side to use, from the CA's ACK
 * delay and the path's packet lifetime. The passive ib_cm gives its QP this timeout, so a REQ from rdma_cm over
 * rxe (ACK delay 15, lifetime 16) says 17 (≈ 0.5 s).
 */
export function cmAckTimeout(caAckDelay: number, packetLifetime: number): number {
  let ackTimeout = packetLifetime + 1;
  if (ackTimeout >= caAckDelay) ackTimeout += caAckDelay >= ackTimeout - 1 ? 1 : 0;
  else ackTimeout = caAckDelay + (ackTimeout >= caAckDelay - 1 ? 1 : 0);
  return Math.min(31, ackTimeout);
}

/** Throws ERR_SOFTROCE_CONFIG unless the exponents are 0..31 and the retries 0..15. */
export function checkCmTimings(t: CmTimings): void {
  for (const [name, value, max] of [
    ['responseTimeout', t.responseTimeout, 31],
    ['packetLifetime', t.packetLifetime, 31],
    ['maxRetries', t.maxRetries, 15],
    ['ackTimeout', t.ackTimeout, 31],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new RoceError('ERR_SOFTROCE_CONFIG', `cm.${name} must be an integer in 0..${max}, got ${value}`);
    }
  }
}
