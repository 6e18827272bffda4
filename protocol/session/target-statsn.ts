/**
 * StatSN of one connection (RFC 7143 §4.2.2.2): every status-bearing PDU the target sends takes the next number;
 * the initiator acknowledges with ExpStatSN in its PDUs. At ErrorRecoveryLevel 0 nothing is kept for
 * retransmission, but a connection whose initiator never acknowledges is still cut off past a bound, so a
 * misbehaving peer cannot make the gap (and what a higher ERL would keep) grow without limit.
 */
import { serialAdd, serialDiff, serialInWindow } from '../pdu/serial.js';

/** What an ExpStatSN acknowledgement did. */
export type StatusAck =
  /** It acknowledged something, or repeated the last acknowledgement. */
  | 'ok'
  /** It lies outside [oldest unacknowledged, next]: ignored (stale or bogus). */
  | 'ignored';

/** StatSN numbering and acknowledgement of one connection. */
export class StatusSequence {
  #next: number;
  #acknowledged: number;
  readonly #maxUnacknowledged: number;

  /**
   * @param next the StatSN the first full-feature status carries (the login's final StatSN + 1)
   * @param maxUnacknowledged how far statuses may run ahead of ExpStatSN before {@link overrun} says so
   */
  constructor(next: number, maxUnacknowledged: number) {
    this.#next = next >>> 0;
    this.#acknowledged = this.#next;
    this.#maxUnacknowledged = maxUnacknowledged;
  }

  /** The StatSN the next status will carry (what Data-In and target NOP-Ins show, not advanced). */
  get next(): number {
    return this.#next;
  }

  /** Statuses sent but not yet acknowledged. */
  get unacknowledged(): number {
    return serialDiff(this.#next, this.#acknowledged);
  }

  /** True when the initiator let more statuses than allowed go unacknowledged. */
  get overrun(): boolean {
    return this.unacknowledged > this.#maxUnacknowledged;
  }

  /** Numbers one status and advances. */
  take(): number {
    const statSN = this.#next;
    this.#next = serialAdd(this.#next, 1);
    return statSN;
  }

  /** Takes the ExpStatSN of an initiator PDU. */
  acknowledge(expStatSN: number): StatusAck {
    if (!serialInWindow(expStatSN >>> 0, this.#acknowledged, this.#next)) return 'ignored';
    this.#acknowledged = expStatSN >>> 0;
    return 'ok';
  }
}
