/**
 * Verb-level trace events: everything the fabric does, stamped with virtual time, in the order it happens.
 * The same seed gives the same sequence, so an event log (sim/trace) can record a run and a test can diff two.
 */

/** A field value: plain JSON scalars only (addresses are written as hex strings). */
export type TraceFieldValue = string | number | boolean;

/** What happened. */
export type FabricTraceKind =
  /** A listener was bound or closed. */
  | 'cm.listen'
  | 'cm.close'
  /** CM messages: request, reply, ready-to-use, reject, disconnect request; and their outcomes. */
  | 'cm.req'
  | 'cm.rep'
  | 'cm.rtu'
  | 'cm.rej'
  | 'cm.dreq'
  | 'cm.timeout'
  | 'cm.established'
  /** A connection was torn down (by DREQ, a cable pull, or the local disconnect). */
  | 'cm.disconnected'
  /** Memory registration, deregistration, remote invalidation. */
  | 'mr.register'
  | 'mr.deregister'
  | 'mr.invalidate'
  /** Work requests posted by the consumer. */
  | 'post.send'
  | 'post.recv'
  /** A request message put on the wire (first transmission or retransmission). */
  | 'wire.request'
  /** The responder executed a request (data moved). */
  | 'exec'
  /** A response: positive ACK, RDMA READ response, or NAK. */
  | 'ack'
  | 'read.response'
  | 'nak'
  /** A message thrown away on arrival (QP gone, out of sequence, peer not answering). */
  | 'drop'
  /** The requester waits out an RNR NAK, retransmits after its ACK timer, or gives up. */
  | 'rnr.wait'
  | 'retransmit'
  /** A work completion delivered to the consumer. */
  | 'wc'
  /** A QP state change. */
  | 'qp.state'
  /** A fault-plan rule fired. */
  | 'fault';

/** One trace event. */
export interface FabricTraceEvent {
  /** Virtual time in milliseconds (the scheduler's `now()`). */
  readonly t: number;
  /** The connection id (`c1`, `c2`, … in order of connection attempts), or `''` for host-level events. */
  readonly conn: string;
  readonly kind: FabricTraceKind;
  readonly fields: Readonly<Record<string, TraceFieldValue>>;
}

/** Formats an RDMA address the way the trace writes it. */
export function hexAddress(addr: bigint): string {
  return `0x${addr.toString(16)}`;
}
