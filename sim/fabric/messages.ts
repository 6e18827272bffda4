/**
 * What travels between the two queue pairs of a connection, at message granularity: a request carries a send
 * work request (its payload is read from the requester's registered memory when the responder executes it: that
 * read-and-write is the one copy), a response acknowledges, answers an RDMA READ, or NAKs.
 */
import type { RecvWorkRequest, SendWorkRequest, WcStatus } from '../../transports/verbs.js';

/** A posted send work request as the requester tracks it. */
export interface SendWqe {
  readonly wr: SendWorkRequest;
  /** Message sequence number on this QP (a PSN at message granularity). */
  readonly seq: number;
  /** Payload bytes (the sum of the SGE lengths). */
  readonly bytes: number;
  readonly signaled: boolean;
  /** On the wire in the current transmission round. */
  transmitted: boolean;
  /** The fault plan has seen it (it is counted once, on its first transmission). */
  judged: boolean;
  /** A fault-plan verdict: the responder NAKs it with this status instead of executing it. */
  injectedStatus: WcStatus | undefined;
  /** Transmission round it was last sent in (retransmissions start a new round). */
  generation: number;
  /** When the retransmit timer gives up waiting for its response (virtual ms). */
  deadline: number;
}

/** A posted receive work request. */
export interface RecvWqe {
  readonly wr: RecvWorkRequest;
  /** Bytes it can hold (the sum of the SGE lengths). */
  readonly capacity: number;
}

/** A request message: the requester's work request, identified by sequence number and round. */
export interface RequestMessage {
  readonly seq: number;
  readonly generation: number;
  readonly wqe: SendWqe;
}

/** A response message. */
export type ResponseMessage =
  | { readonly kind: 'ack' | 'read-response'; readonly seq: number; readonly generation: number }
  | { readonly kind: 'rnr'; readonly seq: number; readonly generation: number }
  | {
      readonly kind: 'nak';
      readonly seq: number;
      readonly generation: number;
      /** The status the requester's work request completes with. */
      readonly status: WcStatus;
    };
