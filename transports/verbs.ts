/**
 * The Verbs interface: the subset of libibverbs + librdmacm that iSER needs, and nothing more.
 *
 * Three providers implement it: `sim/fabric` (in-memory, virtual time, seeded faults), `sim/roce` (real RoCEv2
 * packets over in-memory links or UDP) and `native/` (rdma-core, on rxe or hardware). The iSER transport is
 * written once against this file; the same contract tests (`test/support/verbs-contract.ts`) run on every provider.
 *
 * Semantics follow the verbs spec as rxe implements it (see shared/reference/roce-rxe.md):
 * - one RC queue pair per connection, completions in order per queue;
 * - a SEND consumes a posted receive at the peer, or meets RNR (retried `rnrRetryCount` times, then
 *   `RNR_RETRY_EXC_ERR`); RDMA WRITE/READ are checked against the remote key, bounds and access flags
 *   (a violation completes with `REM_ACCESS_ERR` and both QPs go to the error state);
 * - once a QP is in the error state every outstanding and later work request completes with `WR_FLUSH_ERR`;
 * - a SEND larger than the receive it lands in fails both QPs: the spec says `REM_INV_REQ_ERR` at the sender and
 *   `LOC_LEN_ERR` at the receiver; rxe (Linux 6.1) reports `REM_OP_ERR` and `LOC_QP_OP_ERR`. Treat all as fatal;
 * - private data may arrive zero-padded to the CM message's size (IB CM does): consumers carry their own lengths.
 *
 * Departures from raw verbs, for safety and so that every provider can do it: scatter/gather entries name a
 * {@link MemoryRegion} plus an offset instead of a raw address and lkey; a connection owns its protection domain.
 */
import type { Observable } from 'rxjs';
import { IserError } from '../protocol/errors.js';

/** `ibv_wc_status` names, as libibverbs spells them without the `IBV_WC_` prefix. */
export type WcStatus =
  | 'SUCCESS'
  | 'LOC_LEN_ERR'
  | 'LOC_QP_OP_ERR'
  | 'LOC_PROT_ERR'
  | 'WR_FLUSH_ERR'
  | 'BAD_RESP_ERR'
  | 'LOC_ACCESS_ERR'
  | 'REM_INV_REQ_ERR'
  | 'REM_ACCESS_ERR'
  | 'REM_OP_ERR'
  | 'RETRY_EXC_ERR'
  | 'RNR_RETRY_EXC_ERR'
  | 'REM_ABORT_ERR'
  | 'FATAL_ERR'
  | 'RESP_TIMEOUT_ERR'
  | 'GENERAL_ERR';

/** What a completion completed (`ibv_wc_opcode`). A flushed completion's opcode is not trustworthy. */
export type WcOpcode = 'SEND' | 'RDMA_WRITE' | 'RDMA_READ' | 'RECV';

/** Memory access rights (`ibv_access_flags`); combine with `|`. Local read is always allowed. */
export const Access = {
  LOCAL_WRITE: 1,
  REMOTE_WRITE: 2,
  REMOTE_READ: 4,
} as const;

/** A registered memory region: the peer reaches it through `rkey` and `addr`, we through the region itself. */
export interface MemoryRegion {
  /** The registered bytes. Must not be a pooled slab (`Buffer.allocUnsafe` of small sizes): use `Buffer.alloc`. */
  readonly buffer: Buffer;
  /** The address the peer uses in RDMA operations for `buffer[0]` (a virtual address, or 0-based with ZBVA). */
  readonly addr: bigint;
  readonly length: number;
  readonly lkey: number;
  readonly rkey: number;
  /** A bitwise OR of {@link Access} flags. */
  readonly access: number;
  /** False after deregistration or a remote invalidation (SEND_WITH_INV naming this rkey). */
  readonly valid: boolean;
  /** Releases the registration; the peer's later accesses with this rkey fail with REM_ACCESS_ERR. */
  deregister(): void;
}

/** Registers memory for one connection. */
export interface ProtectionDomain {
  /** Registers `buffer` with the given {@link Access} flags. `invalidatable` lets the peer invalidate it remotely. */
  register(buffer: Buffer, access: number, options?: { readonly invalidatable?: boolean }): MemoryRegion;
}

/** A scatter/gather entry: `length` bytes at `offset` within a registered region. */
export interface Sge {
  readonly mr: MemoryRegion;
  readonly offset: number;
  readonly length: number;
}

/** Fields every work request has. */
export interface WorkRequestBase {
  /** Returned in the completion. A safe integer. */
  readonly wrId: number;
  readonly sgl: readonly Sge[];
}

/** Posted to the send queue. Unsignaled requests produce a completion only when they fail. */
export type SendWorkRequest =
  | (WorkRequestBase & { readonly opcode: 'SEND'; readonly signaled?: boolean; readonly solicited?: boolean })
  | (WorkRequestBase & {
      readonly opcode: 'SEND_WITH_INV';
      readonly invalidateRkey: number;
      readonly signaled?: boolean;
      readonly solicited?: boolean;
    })
  | (WorkRequestBase & {
      readonly opcode: 'RDMA_WRITE' | 'RDMA_READ';
      readonly remoteAddr: bigint;
      readonly rkey: number;
      readonly signaled?: boolean;
    });

/** Posted to the receive queue: where the next inbound SEND lands. */
export type RecvWorkRequest = WorkRequestBase;

/** A work completion (`ibv_wc`). */
export interface WorkCompletion {
  readonly wrId: number;
  readonly status: WcStatus;
  readonly opcode: WcOpcode;
  /** Bytes received, for RECV; bytes transferred otherwise (informative). */
  readonly byteLen: number;
  /** Set on a RECV completion when the peer's SEND_WITH_INV invalidated one of our rkeys. */
  readonly invalidatedRkey?: number;
}

/** Queue pair states, as `ibv_qp_state` names them (only those a connection passes through). */
export type QpState = 'INIT' | 'RTR' | 'RTS' | 'ERROR';

/** Sizes of the queues of a connection's RC QP. */
export interface QpCapabilities {
  readonly maxSendWr: number;
  readonly maxRecvWr: number;
  readonly maxSendSge: number;
  readonly maxRecvSge: number;
}

/** An IP endpoint as rdma_cm addresses it. */
export interface RdmaAddress {
  readonly host: string;
  readonly port: number;
}

/** Options of an active connect (`rdma_connect`). */
export interface ConnectOptions {
  readonly qp: QpCapabilities;
  /** Sent in the CM REQ (iSER: the 4-byte iser_cm_hdr). At most 56 bytes (92 minus rdma_cm's header). */
  readonly privateData?: Buffer;
  /** RDMA READs we may have outstanding as requester (`initiator_depth`). */
  readonly initiatorDepth?: number;
  /** RDMA READs we accept outstanding as responder (`responder_resources`). */
  readonly responderResources?: number;
  /**
   * Transport retries (0..6; rxe treats 7 as infinite, which tests must never use). As with rdma_cm, the value in
   * the REQ governs both sides; the acceptor's own value is ignored.
   */
  readonly retryCount?: number;
  /** How often the *peer* may retry a SEND we answer with RNR NAK (0..7; 7 = infinite, per the IB spec). */
  readonly rnrRetryCount?: number;
  /** Bound on address/route resolution and the CM handshake, in milliseconds of the provider's clock. */
  readonly timeoutMs?: number;
}

/** Options of a passive accept (`rdma_accept`). */
export interface AcceptOptions {
  readonly qp: QpCapabilities;
  /** Sent in the CM REP (iSER: the target's iser_cm_hdr). */
  readonly privateData?: Buffer;
  readonly initiatorDepth?: number;
  readonly responderResources?: number;
  readonly retryCount?: number;
  readonly rnrRetryCount?: number;
}

/** An inbound connection request (`RDMA_CM_EVENT_CONNECT_REQUEST`), to accept or reject. */
export interface ConnectRequest {
  readonly remote: RdmaAddress;
  readonly local: RdmaAddress;
  /** The requester's private data (rdma_cm's header already removed). */
  readonly privateData: Buffer;
  readonly initiatorDepth: number;
  readonly responderResources: number;
  /**
   * Creates the QP and sends the REP. Resolves with the QP ready to receive (RTR) before the peer can send:
   * post receives on the returned connection at once; our own sends wait for the RTU.
   */
  accept(options: AcceptOptions): Promise<RdmaConnection>;
  /** Rejects with a consumer-defined reason carried in `privateData` (the peer sees ERR_VERBS_REJECTED). */
  reject(privateData?: Buffer): Promise<void>;
}

/** A passive endpoint (`rdma_listen`). */
export interface RdmaListener {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: RdmaAddress;
  readonly connectRequests: Observable<ConnectRequest>;
  close(): Promise<void>;
}

/** What happens to a connection after it is established. */
export type ConnectionEvent =
  { readonly type: 'disconnected' } | { readonly type: 'qp-error'; readonly status: WcStatus };

/** An established RC connection: one QP, one CQ for both queues, one protection domain. */
export interface RdmaConnection {
  readonly local: RdmaAddress;
  readonly remote: RdmaAddress;
  /** The peer's private data from the CM REP (active side) or REQ (passive side). */
  readonly peerPrivateData: Buffer;
  readonly pd: ProtectionDomain;
  readonly state: QpState;
  /** Every completion of this connection's QP, in order. Completes after disconnect has drained the flushes. */
  readonly completions: Observable<WorkCompletion>;
  /** Disconnection and QP errors. Completes when the connection is torn down. */
  readonly events: Observable<ConnectionEvent>;
  /** Posts to the send queue. Throws {@link VerbsError} `ERR_VERBS_QUEUE_FULL` / `ERR_VERBS_INVALID_WR` at once. */
  postSend(wrs: readonly SendWorkRequest[]): void;
  /** Posts receive buffers. Throws like {@link RdmaConnection.postSend}. */
  postRecv(wrs: readonly RecvWorkRequest[]): void;
  /**
   * Moves the QP to ERROR, sends DREQ, and resolves once every outstanding work request has been flushed.
   * The protection domain dies with the connection: its regions are deregistered.
   */
  disconnect(): Promise<void>;
}

/** Limits and features of a provider. */
export interface VerbsCapabilities {
  /** The provider can process SEND_WITH_INV and invalidatable regions. */
  readonly sendWithInvalidate: boolean;
  readonly maxSge: number;
  readonly maxQpWr: number;
  /** Largest message a SEND or RDMA operation may carry. */
  readonly maxMessageSize: number;
}

/** A source of RDMA connections. */
export interface VerbsProvider {
  /** e.g. `sim-fabric`, `softroce`, `native:rxe0`. */
  readonly name: string;
  readonly caps: VerbsCapabilities;
  listen(address: RdmaAddress): Promise<RdmaListener>;
  connect(address: RdmaAddress, options: ConnectOptions): Promise<RdmaConnection>;
}

/** Stable codes of {@link VerbsError}. */
export type VerbsErrorCode =
  /** The peer rejected the connection (CM REJ); `privateData` holds its consumer reason, if any. */
  | 'ERR_VERBS_REJECTED'
  /** Nobody listens there (`RDMA_CM_EVENT_UNREACHABLE`, or REJ with reason "invalid service ID"). */
  | 'ERR_VERBS_UNREACHABLE'
  /** Address or route resolution failed (`RDMA_CM_EVENT_ADDR_ERROR` / `ROUTE_ERROR`). */
  | 'ERR_VERBS_ADDRESS'
  /** Resolution or the CM handshake did not finish within `timeoutMs`. */
  | 'ERR_VERBS_TIMEOUT'
  /** The address is already being listened on (`EADDRINUSE`). */
  | 'ERR_VERBS_ADDRESS_IN_USE'
  /** More outstanding work requests than the queue holds (`ENOMEM` from ibv_post_*). */
  | 'ERR_VERBS_QUEUE_FULL'
  /** A malformed work request: too many SGEs, an SGE outside its region, a deregistered region. */
  | 'ERR_VERBS_INVALID_WR'
  /** A bad argument to a verbs call: oversized private data, a retry count out of range, bad queue sizes. */
  | 'ERR_VERBS_INVALID_ARGUMENT'
  /** Registration failed (e.g. a zero-length or pooled buffer, or `ENOMEM` pinning pages). */
  | 'ERR_VERBS_REGISTER'
  /** The connection is closed. */
  | 'ERR_VERBS_CLOSED'
  /** No RDMA here: the provider cannot run (the message says precisely why). */
  | 'ERR_VERBS_UNAVAILABLE';

/** A failure of a verbs call (not of a work request: those complete with a {@link WcStatus}). */
export class VerbsError extends IserError<VerbsErrorCode> {
  /** The errno name reported by rdma-core, where there is one (e.g. `ECONNREFUSED`). */
  readonly errno: string | undefined;
  /** The peer's private data on `ERR_VERBS_REJECTED`. */
  readonly privateData: Buffer | undefined;

  constructor(
    code: VerbsErrorCode,
    message: string,
    options?: { readonly errno?: string; readonly privateData?: Buffer; readonly cause?: unknown },
  ) {
    super(code, message, options);
    this.errno = options?.errno;
    this.privateData = options?.privateData;
  }
}
