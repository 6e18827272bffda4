/**
 * The target's command window (RFC 7143 §3.2.2.1, §4.2.2.1): non-immediate PDUs are delivered in CmdSN order,
 * one that arrives early waits for the gap to fill, and one outside [ExpCmdSN, MaxCmdSN] or a duplicate is
 * silently ignored. Immediate PDUs bypass the ordering and consume no CmdSN.
 *
 * MaxCmdSN never moves backwards. It grows as tasks finish: with `depth` the most commands the session will hold
 * (queued early plus running), MaxCmdSN = ExpCmdSN + depth - running - 1 at most, so an initiator can never make
 * the target hold more than `depth` commands however slowly they complete.
 */
import { serialAdd, serialGt, serialInWindow } from '../pdu/serial.js';
import { TargetSessionError } from './target-errors.js';

/** What the window decides about an arriving PDU. */
export type WindowVerdict<T> =
  /** Process now; CmdSN is not consumed. */
  | { readonly kind: 'immediate'; readonly item: T }
  /** Process now, in order; ExpCmdSN moved past it. */
  | { readonly kind: 'in-order'; readonly item: T }
  /** Held until the PDUs before it arrive. */
  | { readonly kind: 'queued' }
  /** Ignored, as RFC 7143 §3.2.2.1 requires. */
  | { readonly kind: 'dropped'; readonly reason: 'outside-window' | 'duplicate' };

/** The CmdSN window of one session. */
export class TargetCommandWindow<T> {
  #expCmdSN: number;
  #maxCmdSN: number;
  readonly #depth: number;
  /** Early arrivals, by CmdSN. */
  readonly #queued = new Map<number, T>();
  /** CmdSNs to treat as received when they come up (ABORT TASK of a command not yet seen, §11.5.1). */
  readonly #consumed = new Set<number>();

  /**
   * @param expCmdSN the first CmdSN expected (the login's)
   * @param maxCmdSN the MaxCmdSN the login announced
   * @param depth the most commands held at once (1..2^30)
   */
  constructor(expCmdSN: number, maxCmdSN: number, depth: number) {
    if (!Number.isInteger(depth) || depth < 1 || depth > 0x40000000) {
      throw new TargetSessionError('ERR_TARGET_SESSION_BAD_CONFIG', `queue depth ${depth} is not in 1..2^30`);
    }
    this.#expCmdSN = expCmdSN >>> 0;
    this.#maxCmdSN = maxCmdSN >>> 0;
    this.#depth = depth;
  }

  /** The next CmdSN expected. */
  get expCmdSN(): number {
    return this.#expCmdSN;
  }

  /** The highest CmdSN the initiator may send. */
  get maxCmdSN(): number {
    return this.#maxCmdSN;
  }

  /** PDUs waiting for a gap to fill. */
  get queuedCount(): number {
    return this.#queued.size;
  }

  /** Decides what to do with an arriving PDU. */
  admit(cmdSN: number, immediate: boolean, item: T): WindowVerdict<T> {
    if (immediate) return { kind: 'immediate', item };
    if (!serialInWindow(cmdSN, this.#expCmdSN, this.#maxCmdSN)) return { kind: 'dropped', reason: 'outside-window' };
    if (cmdSN === this.#expCmdSN) {
      this.#advance();
      return { kind: 'in-order', item };
    }
    if (this.#queued.has(cmdSN) || this.#consumed.has(cmdSN)) return { kind: 'dropped', reason: 'duplicate' };
    this.#queued.set(cmdSN, item);
    return { kind: 'queued' };
  }

  /** The next held PDU whose turn has come, if any (ExpCmdSN moves past it). */
  takeReady(): T | undefined {
    const item = this.#queued.get(this.#expCmdSN);
    if (item === undefined) return undefined;
    this.#queued.delete(this.#expCmdSN);
    this.#advance();
    return item;
  }

  /**
   * Treats `cmdSN` as received without a PDU (RFC 7143 §11.5.1 b): a later arrival is a duplicate. Returns false
   * when it is not in the window. A PDU already held for it is dropped and returned.
   */
  consume(cmdSN: number): { readonly inWindow: boolean; readonly dropped: T | undefined } {
    if (!serialInWindow(cmdSN, this.#expCmdSN, this.#maxCmdSN)) return { inWindow: false, dropped: undefined };
    const dropped = this.#queued.get(cmdSN);
    this.#queued.delete(cmdSN);
    if (cmdSN === this.#expCmdSN) this.#advance();
    else this.#consumed.add(cmdSN);
    return { inWindow: true, dropped };
  }

  /** True when `cmdSN` lies in [ExpCmdSN, MaxCmdSN]. */
  inWindow(cmdSN: number): boolean {
    return serialInWindow(cmdSN, this.#expCmdSN, this.#maxCmdSN);
  }

  /** Held PDUs matching `predicate`, removed (their CmdSNs count as received). */
  remove(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (const [cmdSN, item] of this.#queued) {
      if (!predicate(item)) continue;
      this.#queued.delete(cmdSN);
      this.#consumed.add(cmdSN);
      removed.push(item);
    }
    return removed;
  }

  /** Opens the window as far as `running` commands allow; MaxCmdSN never goes back. */
  open(running: number): void {
    const room = this.#depth - Math.max(0, running);
    if (room < 1) return;
    const candidate = serialAdd(this.#expCmdSN, room - 1);
    if (serialGt(candidate, this.#maxCmdSN)) this.#maxCmdSN = candidate;
  }

  #advance(): void {
    this.#expCmdSN = serialAdd(this.#expCmdSN, 1);
    // Skip CmdSNs already accounted for, so a consumed one never blocks the queue.
    while (this.#consumed.delete(this.#expCmdSN)) this.#expCmdSN = serialAdd(this.#expCmdSN, 1);
  }
}
