/**
 * ExpStatSN tracking (RFC 7143 §3.2.2.2, §4.2.2.2): every response that carries a status has the next StatSN;
 * ExpStatSN acknowledges all statuses before it. A StatSN ahead of ExpStatSN means a status went missing; at
 * ERL 0 the session waits a bounded time for it and then treats the connection as failed.
 */
import { serialAdd, serialDiff } from '../pdu/serial.js';

/** How a StatSN relates to what was expected. */
export type StatSNVerdict =
  /** It was the expected one: ExpStatSN moved on, perhaps past later ones that came early ({@link StatSNTracker.hasGap} says whether a gap remains). */
  | 'in-order'
  /** Already acknowledged: a duplicate or a stale number. */
  | 'old'
  /** Ahead of ExpStatSN: at least one status in between is missing. */
  | 'gap';

/** Most out-of-order StatSNs remembered while waiting for a gap to fill; beyond it the gap is fatal at once. */
export const MAX_STATSN_AHEAD = 64;

/** Tracks ExpStatSN and the StatSNs received ahead of it. */
export class StatSNTracker {
  #expStatSN: number;
  readonly #ahead = new Set<number>();

  /** `expStatSN` is the final login response's StatSN + 1. */
  constructor(expStatSN: number) {
    this.#expStatSN = expStatSN >>> 0;
  }

  /** The next StatSN expected: what our PDUs acknowledge. */
  get expStatSN(): number {
    return this.#expStatSN;
  }

  /** True while some status before a received one is missing. */
  get hasGap(): boolean {
    return this.#ahead.size > 0;
  }

  /** True when so many statuses arrived past a gap that waiting longer is pointless. */
  get gapOverflow(): boolean {
    return this.#ahead.size > MAX_STATSN_AHEAD;
  }

  /** Records the StatSN of a response that consumed one. */
  accept(statSN: number): StatSNVerdict {
    const distance = serialDiff(statSN, this.#expStatSN);
    if (distance < 0) return 'old';
    if (distance > 0) {
      this.#ahead.add(statSN);
      return 'gap';
    }
    this.#expStatSN = serialAdd(this.#expStatSN, 1);
    while (this.#ahead.delete(this.#expStatSN)) this.#expStatSN = serialAdd(this.#expStatSN, 1);
    return 'in-order';
  }
}
