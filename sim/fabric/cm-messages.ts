/**
 * The CM handshake as messages between the two ends (REQ, REP, REJ; RTU and DREQ travel as queue pair events).
 * The active end keeps an {@link ActiveHandshake}; the passive end's listener receives an {@link InboundRequest}.
 */
import type { RdmaAddress } from '../../transports/verbs.js';
import type { ConnectionRecord } from './connection.js';

/** Why a connection attempt was rejected. */
export type RejectReason =
  /** The consumer called reject (the active side sees ERR_VERBS_REJECTED with the private data). */
  | 'consumer'
  /** Nobody listens on that port (ERR_VERBS_UNREACHABLE). */
  | 'unreachable'
  /** The other end gave up waiting (its own CM timeout). */
  | 'timeout';

/** The passive end's REP. */
export interface CmReply {
  readonly privateData: Buffer;
  readonly initiatorDepth: number;
  readonly responderResources: number;
  /** How often the active side retries its sends on RNR (rdma_cm: the acceptor's rnr_retry_count). */
  readonly rnrRetryCount: number;
}

/** The active end of a handshake in progress: the passive end answers it (after the link's latency). */
export interface ActiveHandshake {
  onReply(reply: CmReply): void;
  onReject(reason: RejectReason, privateData: Buffer): void;
}

/** A REQ as it reaches the passive host. */
export interface InboundRequest {
  readonly record: ConnectionRecord;
  /** The active end's address. */
  readonly remote: RdmaAddress;
  /** The address the active end asked for. */
  readonly local: RdmaAddress;
  readonly privateData: Buffer;
  readonly initiatorDepth: number;
  readonly responderResources: number;
  /** Transport retries for both ends (rdma_cm takes retry_count from the REQ). */
  readonly retryCount: number;
  /** How often the passive side retries its sends on RNR (rdma_cm: the connector's rnr_retry_count). */
  readonly rnrRetryCount: number;
  readonly handshake: ActiveHandshake;
}

/** Where a host hands a REQ for a port: a listener. */
export interface ListenerSink {
  deliver(request: InboundRequest): void;
}
