/**
 * What the sans-IO RC engine asks its edge to do: put a packet on the wire, deliver a completion, arm or cancel
 * one of its two timers, report that the QP went to ERROR. The edge carries them out in order.
 */
import type { WcStatus, WorkCompletion } from '../../../transports/verbs.js';
import type { RocePacket } from '../packet.js';

/** The timers of an RC queue pair: rxe's `retrans_timer` and `rnr_nak_timer`. */
export type RcTimer = 'retransmit' | 'rnr';

/** One action of the RC engine. */
export type RcAction =
  | { readonly type: 'transmit'; readonly packet: RocePacket }
  | { readonly type: 'complete'; readonly wc: WorkCompletion }
  /** (Re)arms `timer` to fire after `delayMs`, replacing any earlier deadline. */
  | { readonly type: 'arm-timer'; readonly timer: RcTimer; readonly delayMs: number }
  | { readonly type: 'cancel-timer'; readonly timer: RcTimer }
  /** The QP entered ERROR because of `status` (flush completions follow). */
  | { readonly type: 'qp-error'; readonly status: WcStatus }
  /** Something worth a line in an event log (retransmission, NAK, RNR wait, duplicate...). */
  | { readonly type: 'note'; readonly event: string; readonly fields: Readonly<Record<string, number | string>> };
