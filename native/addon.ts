/**
 * The raw addon (`native/build/Release/iser_verbs.node`): its types, and loading it without ever throwing.
 *
 * The addon maps libibverbs/librdmacm one to one; everything that is policy (what an errno means to the caller,
 * which completions belong to whom) lives in the TypeScript beside this file. Errors it throws are plain `Error`s
 * with `code` (an errno name such as `ENODEV`), `errno` and `syscall`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A port of a verbs device as `ibv_query_port` describes it. */
export interface AddonPortInfo {
  readonly port: number;
  readonly state?: string;
  readonly linkLayer?: string;
  readonly activeMtu?: number;
  readonly maxMsgSize?: number;
  readonly gidTableLength?: number;
  readonly error?: string;
}

/** A verbs device as `ibv_get_device_list` + `ibv_query_device` describe it. */
export interface AddonDeviceInfo {
  readonly name: string;
  readonly guid: string;
  readonly transport: string;
  readonly maxQpWr?: number;
  readonly maxSge?: number;
  readonly maxCqe?: number;
  readonly maxMr?: number;
  readonly maxMrSize?: number;
  readonly maxQpRdAtom?: number;
  readonly maxQpInitRdAtom?: number;
  readonly maxMw?: number;
  readonly ports?: readonly AddonPortInfo[];
  /** errno name when the device could not be opened or queried. */
  readonly openError?: string;
}

/** Limits of the device an id is bound to (`CmId.queryDevice`). */
export interface AddonBoundDevice {
  readonly name: string;
  readonly port: number;
  readonly maxQpWr: number;
  readonly maxSge: number;
  readonly maxCqe: number;
  readonly maxMw: number;
  readonly maxQpRdAtom: number;
  readonly maxQpInitRdAtom: number;
  readonly maxMsgSize: number;
  readonly activeMtu: number;
}

/** An rdma_cm event, copied out before it was acknowledged. `type` drops the `RDMA_CM_EVENT_` prefix. */
export interface AddonCmEvent {
  readonly type: string;
  readonly status: number;
  /** errno name when `status` is a negative errno. */
  readonly errno?: string;
  readonly id?: AddonCmId;
  /** For CONNECT_REQUEST: the listening id the request arrived on (`id` is the new one). */
  readonly listenId?: AddonCmId;
  readonly privateData?: Buffer;
  readonly responderResources?: number;
  readonly initiatorDepth?: number;
  readonly retryCount?: number;
  readonly rnrRetryCount?: number;
}

/** An `ibv_wc` with the status and opcode as names (no `IBV_WC_` prefix). */
export interface AddonWc {
  readonly wrId: number;
  readonly status: string;
  readonly opcode: string;
  readonly byteLen: number;
  readonly qpNum: number;
  readonly vendorErr?: number;
  /** `wc_flags`, on successful completions. */
  readonly wcFlags?: number;
  /** The `imm_data` / `invalidated_rkey` union, when a flag says it is set. */
  readonly exData?: number;
}

/** `rdma_conn_param` (private data at most 255 bytes; the CM message type sets the real limit). */
export interface AddonConnParam {
  readonly privateData?: Buffer;
  readonly responderResources?: number;
  readonly initiatorDepth?: number;
  readonly retryCount?: number;
  readonly rnrRetryCount?: number;
}

/** An IP endpoint. */
export interface AddonAddress {
  readonly host: string;
  readonly port: number;
}

/** `ibv_qp_init_attr.cap`. */
export interface AddonQpCaps {
  readonly maxSendWr: number;
  readonly maxRecvWr: number;
  readonly maxSendSge: number;
  readonly maxRecvSge: number;
  readonly maxInlineData?: number;
}

/** A scatter/gather entry: bounds-checked against `mr` by the addon. */
export interface AddonSge {
  readonly mr: AddonMr;
  readonly offset: number;
  readonly length: number;
}

/** An `ibv_send_wr`; `opcode` is one of `verbsConstants.IBV_WR_*`. */
export interface AddonSendWr {
  readonly wrId: number;
  readonly opcode: number;
  readonly sgl?: readonly AddonSge[];
  readonly signaled?: boolean;
  readonly solicited?: boolean;
  readonly inline?: boolean;
  readonly remoteAddr?: bigint | number;
  readonly rkey?: number;
  readonly invalidateRkey?: number;
  readonly imm?: number;
  /** BIND_MW: bind `mw` to `length` bytes at `offset` in `mr` with `access`. */
  readonly mw?: AddonMw;
  readonly mr?: AddonMr;
  readonly offset?: number;
  readonly length?: number;
  readonly access?: number;
}

/** An `ibv_recv_wr`. */
export interface AddonRecvWr {
  readonly wrId: number;
  readonly sgl: readonly AddonSge[];
}

/** An rdma_cm_id and its QP. */
export interface AddonCmId {
  bindAddr(host: string, port: number): void;
  resolveAddr(host: string, port: number, timeoutMs: number, srcHost?: string): void;
  resolveRoute(timeoutMs: number): void;
  listen(backlog?: number): void;
  connect(param: AddonConnParam): void;
  accept(param: AddonConnParam): void;
  reject(privateData?: Buffer): void;
  disconnect(): void;
  setAckTimeout(exponent: number): void;
  setMinRnrTimer(encoded: number): void;
  createQp(pd: AddonPd, sendCq: AddonCq, recvCq: AddonCq, caps: AddonQpCaps): AddonQpCaps & { readonly qpNum: number };
  destroyQp(): void;
  /**
   * `rdma_destroy_qp` on a thread of its own (rxe can block it for a minute after a QP error). Until it settles the
   * id refuses everything: posts with `EBADF`, the rest with `EBUSY`.
   */
  destroyQpAsync(): Promise<void>;
  qpState(): string;
  postSend(wrs: readonly AddonSendWr[]): void;
  postRecv(wrs: readonly AddonRecvWr[]): void;
  localAddress(): AddonAddress | undefined;
  peerAddress(): AddonAddress | undefined;
  deviceName(): string | undefined;
  queryDevice(): AddonBoundDevice;
  destroy(): void;
  /**
   * The QP (if any) and the id, on a thread of its own. The id is gone for JS at once (its events arrive without
   * it and are still acked, which `rdma_destroy_id` waits for); rejects with an errno error if it failed.
   */
  destroyAsync(): Promise<void>;
}

/** An rdma_cm event channel. */
export interface AddonEventChannel {
  createId(): AddonCmId;
  close(): void;
}

/** A protection domain. */
export interface AddonPd {
  regMr(buffer: Buffer, access: number): AddonMr;
  allocMw(): AddonMw;
  dealloc(): void;
}

/** A memory region; the getters are undefined after `dereg`. */
export interface AddonMr {
  readonly lkey: number;
  readonly rkey: number;
  readonly addr: bigint;
  readonly length: number;
  dereg(): void;
}

/** A type-2 memory window; `rkey` advances with every BIND_MW posted. */
export interface AddonMw {
  readonly rkey: number;
  dealloc(): void;
}

/** A completion queue; closing needs its QPs destroyed first. */
export interface AddonCq {
  close(): void;
  /** `ibv_destroy_cq` on a thread of its own; no completions are delivered once it is called. */
  closeAsync(): Promise<void>;
}

/** What `iser_verbs.node` exports. */
export interface Addon {
  getDevices(): AddonDeviceInfo[];
  probeCm(): void;
  errnoName(errno: number): string;
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  readonly socketConstants: Readonly<
    Record<
      | 'SOL_SOCKET'
      | 'IPPROTO_IP'
      | 'IPPROTO_IPV6'
      | 'IPPROTO_UDP'
      | 'IP_MTU_DISCOVER'
      | 'IP_PMTUDISC_DO'
      | 'UDP_NO_CHECK6_RX',
      number
    >
  >;
  readonly verbsConstants: Readonly<
    Record<
      | 'IBV_ACCESS_LOCAL_WRITE'
      | 'IBV_ACCESS_REMOTE_WRITE'
      | 'IBV_ACCESS_REMOTE_READ'
      | 'IBV_ACCESS_MW_BIND'
      | 'IBV_WR_RDMA_WRITE'
      | 'IBV_WR_RDMA_WRITE_WITH_IMM'
      | 'IBV_WR_SEND'
      | 'IBV_WR_SEND_WITH_IMM'
      | 'IBV_WR_RDMA_READ'
      | 'IBV_WR_SEND_WITH_INV'
      | 'IBV_WR_BIND_MW',
      number
    >
  >;
  readonly EventChannel: new (onEvent: (event: AddonCmEvent) => void) => AddonEventChannel;
  readonly Pd: new (id: AddonCmId) => AddonPd;
  readonly Cq: new (id: AddonCmId, cqe: number, onCompletions: (wcs: AddonWc[], error?: string) => void) => AddonCq;
}

/** The addon, or why it could not be loaded. */
export type AddonLoad = { readonly ok: true; readonly addon: Addon } | { readonly ok: false; readonly reason: string };

/** Where the built addon may be: beside the sources (native/), or two levels up from dist/native/. */
function candidatePaths(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromEnv = process.env.ISER_NATIVE_ADDON;
  return [
    ...(fromEnv !== undefined && fromEnv !== '' ? [resolve(fromEnv)] : []),
    resolve(here, 'build/Release/iser_verbs.node'),
    resolve(here, '../../native/build/Release/iser_verbs.node'),
  ];
}

/** Turns a dlopen failure into the thing to install (exported for tests). */
export function loadFailureReason(path: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (message.includes('libibverbs.so.1'))
    return 'libibverbs.so.1 missing: apt-get install libibverbs1 ibverbs-providers';
  if (message.includes('librdmacm.so.1')) return 'librdmacm.so.1 missing: apt-get install librdmacm1';
  return `addon failed to load from ${path}: ${message}`;
}

let cached: AddonLoad | undefined;

/** Loads the addon once per process; never throws. */
export function loadAddon(): AddonLoad {
  if (cached !== undefined) return cached;
  const path = candidatePaths().find((p) => existsSync(p));
  if (path === undefined) {
    cached = { ok: false, reason: 'addon not built: run npm run build:native (needs libibverbs-dev librdmacm-dev)' };
    return cached;
  }
  try {
    const require = createRequire(import.meta.url);
    cached = { ok: true, addon: require(path) as Addon };
  } catch (err) {
    cached = { ok: false, reason: loadFailureReason(path, err) };
  }
  return cached;
}

/** The `code`/`errno`/`syscall` an addon error carries. */
export interface AddonErrorInfo {
  readonly errno: string | undefined;
  readonly syscall: string | undefined;
  readonly message: string;
  readonly badIndex: number | undefined;
}

/** Reads what an addon error says, whatever was thrown. */
export function addonErrorInfo(err: unknown): AddonErrorInfo {
  if (!(err instanceof Error))
    return { errno: undefined, syscall: undefined, message: String(err), badIndex: undefined };
  const e = err as Error & { code?: unknown; syscall?: unknown; badIndex?: unknown };
  return {
    errno: typeof e.code === 'string' ? e.code : undefined,
    syscall: typeof e.syscall === 'string' ? e.syscall : undefined,
    message: e.message,
    badIndex: typeof e.badIndex === 'number' ? e.badIndex : undefined,
  };
}
