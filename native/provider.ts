/**
 * NativeVerbs: the Verbs provider over rdma-core (rxe or hardware). Connection setup is the rdma_cm sequence
 * every user-space ULP follows — resolve address, resolve route, PD + CQ + QP, connect/accept with private
 * data — with each asynchronous step awaited on the event channel and bounded by a timeout.
 */
import { asyncScheduler, Observable, type SchedulerLike, Subject } from 'rxjs';
import {
  type AcceptOptions,
  type ConnectOptions,
  type ConnectRequest,
  type QpCapabilities,
  type RdmaAddress,
  type RdmaConnection,
  type RdmaListener,
  type VerbsCapabilities,
  VerbsError,
  type VerbsProvider,
} from '../transports/verbs.js';
import { type Addon, type AddonCmEvent, type AddonCmId, type AddonConnParam, loadAddon } from './addon.js';
import { CmRouter } from './cm-router.js';
import { CompletionSink, NativeConnection, type QpResources } from './connection.js';
import { callVerbs } from './errors.js';
import { probe } from './probe.js';

/** Private data room in IB CM messages after rdma_cm's own header (REQ) or as is (REP, REJ). */
const REQ_PRIVATE_DATA_MAX = 56;
const REP_PRIVATE_DATA_MAX = 196;
const REJ_PRIVATE_DATA_MAX = 148;

/** IB CM reject reasons rdma_cm reports as the REJECTED event's status. */
const REJ_INVALID_SERVICE_ID = 8;
const REJ_CONSUMER_DEFINED = 28;

/** Options of {@link NativeVerbs.open}. */
export interface NativeVerbsOptions {
  /** Where timeouts are scheduled (default: rxjs asyncScheduler, i.e. real time). */
  readonly scheduler?: SchedulerLike;
  /** Default bound of address/route resolution and of each CM handshake, in ms (default 10000). */
  readonly timeoutMs?: number;
  /** Bound of disconnect()'s wait for flushes and the peer's DREP, in ms (default 2000). */
  readonly drainTimeoutMs?: number;
  /** Local ACK timeout exponent of every QP: 4.096 µs × 2^n (default 14, about 67 ms; rxe honours it). */
  readonly ackTimeout?: number;
  /**
   * How long a peer waits before resending a SEND that found no receive posted here, in the IB encoding
   * (default 20: 10.24 ms; 12: 0.64 ms; 0: 655 ms, which is what rdma_cm leaves). With the peer's RNR retry
   * count this bounds how late a receive may be posted.
   */
  readonly minRnrTimer?: number;
  /** Listen backlog (default 64). */
  readonly backlog?: number;
}

interface Settings {
  readonly scheduler: SchedulerLike;
  readonly timeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly ackTimeout: number;
  readonly minRnrTimer: number;
  readonly backlog: number;
}

/** The Verbs provider over the native addon. Create it with {@link NativeVerbs.open}. */
export class NativeVerbs implements VerbsProvider {
  private routerInstance: CmRouter | undefined;

  private constructor(
    private readonly addon: Addon,
    private readonly settings: Settings,
    readonly name: string,
    readonly caps: VerbsCapabilities,
  ) {}

  /** Opens the provider on this machine's first device, or throws VerbsError ERR_VERBS_UNAVAILABLE saying why. */
  static open(options: NativeVerbsOptions = {}): NativeVerbs {
    const found = probe();
    const load = loadAddon();
    if (!found.available || !load.ok) {
      throw new VerbsError('ERR_VERBS_UNAVAILABLE', found.available ? 'addon not loaded' : found.reason);
    }
    const device = found.devices.find((d) => d.ports?.some((p) => p.state === 'ACTIVE')) ?? found.devices[0];
    if (device === undefined) throw new VerbsError('ERR_VERBS_UNAVAILABLE', 'no RDMA device');
    const port = device.ports?.find((p) => p.state === 'ACTIVE') ?? device.ports?.[0];
    return new NativeVerbs(
      load.addon,
      {
        scheduler: options.scheduler ?? asyncScheduler,
        timeoutMs: options.timeoutMs ?? 10_000,
        drainTimeoutMs: options.drainTimeoutMs ?? 2_000,
        ackTimeout: options.ackTimeout ?? 14,
        minRnrTimer: options.minRnrTimer ?? 20,
        backlog: options.backlog ?? 64,
      },
      `native:${device.name}`,
      {
        sendWithInvalidate: (device.maxMw ?? 0) > 0,
        maxSge: device.maxSge ?? 1,
        maxQpWr: device.maxQpWr ?? 1,
        maxMessageSize: port?.maxMsgSize ?? 1 << 31,
      },
    );
  }

  async listen(address: RdmaAddress): Promise<RdmaListener> {
    const router = this.router();
    const id = router.createId();
    try {
      callVerbs('ERR_VERBS_ADDRESS', 'rdma_bind_addr', () => {
        id.bindAddr(address.host, address.port);
      });
      callVerbs('ERR_VERBS_ADDRESS', 'rdma_listen', () => {
        id.listen(this.settings.backlog);
      });
    } catch (err) {
      router.destroy(id);
      throw err instanceof VerbsError && err.errno === 'EADDRINUSE'
        ? new VerbsError('ERR_VERBS_ADDRESS_IN_USE', err.message, { errno: 'EADDRINUSE', cause: err })
        : err;
    }
    const bound = id.localAddress() ?? address;
    return Promise.resolve(new NativeListener(this, router, id, { host: bound.host, port: bound.port }));
  }

  async connect(address: RdmaAddress, options: ConnectOptions): Promise<RdmaConnection> {
    checkConnOptions(options, REQ_PRIVATE_DATA_MAX, 'connect');
    checkQp(options.qp, this.caps);
    const router = this.router();
    const timeoutMs = options.timeoutMs ?? this.settings.timeoutMs;
    const id = router.createId();
    let resources: QpResources | undefined;
    try {
      callVerbs('ERR_VERBS_ADDRESS', 'rdma_resolve_addr', () => {
        id.resolveAddr(address.host, address.port, timeoutMs);
      });
      expect(await router.next(id, timeoutMs + 1000, 'rdma_resolve_addr'), 'ADDR_RESOLVED', 'ERR_VERBS_ADDRESS');
      callVerbs('ERR_VERBS_ADDRESS', 'rdma_resolve_route', () => {
        id.resolveRoute(timeoutMs);
      });
      expect(await router.next(id, timeoutMs + 1000, 'rdma_resolve_route'), 'ROUTE_RESOLVED', 'ERR_VERBS_ADDRESS');
      resources = this.createQpResources(id, options.qp);
      const param = connParam(options);
      callVerbs('ERR_VERBS_UNREACHABLE', 'rdma_connect', () => {
        id.connect(param);
      });
      const established = handshakeOutcome(await router.next(id, timeoutMs, 'rdma_connect'));
      this.tuneRts(id);
      const local = id.localAddress() ?? { host: '', port: 0 };
      return new NativeConnection(
        this.addon,
        router,
        resources,
        this.settings,
        local,
        address,
        established.privateData ?? Buffer.alloc(0),
      );
    } catch (err) {
      this.releaseQpResources(router, id, resources);
      throw err;
    }
  }

  /** Closes the event channel once every listener and connection is gone (it never keeps the process alive). */
  close(): void {
    if (this.routerInstance !== undefined && this.routerInstance.size === 0) {
      this.routerInstance.close();
      this.routerInstance = undefined;
    }
  }

  /** @internal PD, CQ and RC QP on the device `id` is bound to. */
  createQpResources(id: AddonCmId, qp: QpCapabilities): QpResources {
    try {
      id.setAckTimeout(this.settings.ackTimeout);
    } catch {
      // older kernels lack the option; the CM's default timeout then applies
    }
    const pd = callVerbs('ERR_VERBS_UNAVAILABLE', 'ibv_alloc_pd', () => new this.addon.Pd(id));
    const sink = new CompletionSink();
    let cq;
    try {
      cq = callVerbs(
        'ERR_VERBS_UNAVAILABLE',
        'ibv_create_cq',
        () => new this.addon.Cq(id, qp.maxSendWr + qp.maxRecvWr + 1, sink.deliver),
      );
    } catch (err) {
      pd.dealloc();
      throw err;
    }
    try {
      // One extra send slot for disconnect's drain marker, one for a memory-window bind.
      callVerbs('ERR_VERBS_INVALID_WR', 'rdma_create_qp', () =>
        id.createQp(pd, cq, cq, { ...qp, maxSendWr: qp.maxSendWr + 2, maxSendSge: Math.max(1, qp.maxSendSge) }),
      );
    } catch (err) {
      cq.close();
      pd.dealloc();
      throw err;
    }
    return { caps: qp, id, pd, cq, sink };
  }

  /** @internal Settings only changeable once the QP is in RTS; best effort (the defaults still work). */
  tuneRts(id: AddonCmId): void {
    try {
      id.setMinRnrTimer(this.settings.minRnrTimer);
    } catch {
      // a device that refuses keeps rdma_cm's 655 ms
    }
  }

  /** @internal Undoes {@link createQpResources} and destroys the id (after a failed handshake). */
  releaseQpResources(router: CmRouter, id: AddonCmId, resources: QpResources | undefined): void {
    if (resources !== undefined) {
      for (const step of [
        () => {
          id.destroyQp();
        },
        () => {
          resources.cq.close();
        },
        () => {
          resources.pd.dealloc();
        },
      ]) {
        try {
          step();
        } catch {
          // best effort: this is cleanup after a failure already being reported
        }
      }
    }
    router.destroy(id);
  }

  /** @internal */
  get internals(): { readonly addon: Addon; readonly settings: Settings } {
    return { addon: this.addon, settings: this.settings };
  }

  private router(): CmRouter {
    this.routerInstance ??= new CmRouter(this.addon, this.settings.scheduler);
    return this.routerInstance;
  }
}

/** A rejected promise carrying `err` (always an Error). */
function rejected<T>(err: unknown): Promise<T> {
  return Promise.reject(err instanceof Error ? err : new Error(String(err)));
}

function invalid(what: string): VerbsError {
  return new VerbsError('ERR_VERBS_INVALID_ARGUMENT', what);
}

function isIntIn(v: number | undefined, lo: number, hi: number): boolean {
  return v === undefined || (Number.isInteger(v) && v >= lo && v <= hi);
}

/** Private data and retry counts within what IB CM can carry. */
function checkConnOptions(o: ConnectOptions | AcceptOptions, privateMax: number, what: string): void {
  if (o.privateData !== undefined && o.privateData.length > privateMax) {
    throw invalid(`${what}: private data is ${o.privateData.length} bytes, at most ${privateMax} fit`);
  }
  if (!isIntIn(o.retryCount, 0, 7)) throw invalid(`${what}: retryCount must be 0..7`);
  if (!isIntIn(o.rnrRetryCount, 0, 7)) throw invalid(`${what}: rnrRetryCount must be 0..7`);
  if (!isIntIn(o.initiatorDepth, 0, 255)) throw invalid(`${what}: initiatorDepth must be 0..255`);
  if (!isIntIn(o.responderResources, 0, 255)) throw invalid(`${what}: responderResources must be 0..255`);
}

/** Queue sizes the device can give (two send slots are ours: the drain marker and a window bind). */
function checkQp(qp: QpCapabilities, caps: VerbsCapabilities): void {
  if (!isIntIn(qp.maxSendWr, 1, caps.maxQpWr - 2) || !isIntIn(qp.maxRecvWr, 1, caps.maxQpWr)) {
    throw invalid(`queue sizes must be 1..${caps.maxQpWr - 2} (send) and 1..${caps.maxQpWr} (receive)`);
  }
  if (!isIntIn(qp.maxSendSge, 0, caps.maxSge) || !isIntIn(qp.maxRecvSge, 0, caps.maxSge)) {
    throw invalid(`SGE counts must be 0..${caps.maxSge}`);
  }
}

function connParam(o: ConnectOptions | AcceptOptions, request?: AddonCmEvent): AddonConnParam {
  return {
    ...(o.privateData !== undefined && { privateData: o.privateData }),
    // Passive side: by default grant what the requester asked for, mirrored.
    responderResources: o.responderResources ?? request?.initiatorDepth ?? 4,
    initiatorDepth: o.initiatorDepth ?? request?.responderResources ?? 4,
    retryCount: o.retryCount ?? 6,
    rnrRetryCount: o.rnrRetryCount ?? 6,
  };
}

function expect(event: AddonCmEvent, type: string, code: 'ERR_VERBS_ADDRESS'): void {
  if (event.type === type) return;
  throw new VerbsError(
    code,
    `expected ${type}, got ${event.type}${event.errno !== undefined ? ` (${event.errno})` : ''}`,
    {
      ...(event.errno !== undefined && { errno: event.errno }),
    },
  );
}

/** The CM's answer to connect/accept: ESTABLISHED, or the typed reason it is not. */
function handshakeOutcome(event: AddonCmEvent): AddonCmEvent {
  switch (event.type) {
    case 'ESTABLISHED':
      return event;
    case 'REJECTED': {
      if (event.status === REJ_INVALID_SERVICE_ID) {
        throw new VerbsError(
          'ERR_VERBS_UNREACHABLE',
          'connection rejected: nobody listens on that port (invalid service ID)',
        );
      }
      const why = event.status === REJ_CONSUMER_DEFINED ? 'by the peer' : `(IB CM reason ${event.status})`;
      throw new VerbsError('ERR_VERBS_REJECTED', `connection rejected ${why}`, {
        ...(event.privateData !== undefined && { privateData: event.privateData }),
      });
    }
    case 'UNREACHABLE':
    case 'CONNECT_ERROR':
      throw new VerbsError(
        'ERR_VERBS_UNREACHABLE',
        `connection failed: ${event.type}${event.errno !== undefined ? ` (${event.errno})` : ''}`,
        {
          ...(event.errno !== undefined && { errno: event.errno }),
        },
      );
    default:
      throw new VerbsError('ERR_VERBS_UNREACHABLE', `connection failed: unexpected ${event.type}`);
  }
}

/** A listening id and the requests arriving on it. */
class NativeListener implements RdmaListener {
  readonly connectRequests: Observable<ConnectRequest>;
  private readonly requests = new Subject<ConnectRequest>();
  private closed = false;

  constructor(
    private readonly provider: NativeVerbs,
    private readonly router: CmRouter,
    private readonly id: AddonCmId,
    readonly address: RdmaAddress,
  ) {
    this.connectRequests = this.requests.asObservable();
    router.on(id, (event) => {
      this.onEvent(event);
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.router.destroy(this.id);
      this.requests.complete();
    }
    return Promise.resolve();
  }

  private onEvent(event: AddonCmEvent): void {
    if (event.type !== 'CONNECT_REQUEST' || event.id === undefined) return;
    const id = event.id;
    this.router.adopt(id);
    if (this.closed || !this.requests.observed) {
      // Nobody would ever answer: reject now instead of letting the peer time out.
      try {
        id.reject();
      } catch {
        // the peer times out instead
      }
      this.router.destroy(id);
      return;
    }
    this.requests.next(new NativeConnectRequest(this.provider, this.router, id, event));
  }
}

/** One CONNECT_REQUEST: accept it (PD, CQ, QP, then REP) or reject it (REJ with private data). */
class NativeConnectRequest implements ConnectRequest {
  readonly remote: RdmaAddress;
  readonly local: RdmaAddress;
  readonly privateData: Buffer;
  readonly initiatorDepth: number;
  readonly responderResources: number;
  private answered = false;

  constructor(
    private readonly provider: NativeVerbs,
    private readonly router: CmRouter,
    private readonly id: AddonCmId,
    private readonly event: AddonCmEvent,
  ) {
    this.remote = id.peerAddress() ?? { host: '', port: 0 };
    this.local = id.localAddress() ?? { host: '', port: 0 };
    this.privateData = event.privateData ?? Buffer.alloc(0);
    this.initiatorDepth = event.initiatorDepth ?? 0;
    this.responderResources = event.responderResources ?? 0;
  }

  accept(options: AcceptOptions): Promise<RdmaConnection> {
    try {
      this.answer('accept');
    } catch (err) {
      return rejected(err);
    }
    let resources: QpResources | undefined;
    try {
      checkConnOptions(options, REP_PRIVATE_DATA_MAX, 'accept');
      checkQp(options.qp, this.provider.caps);
      resources = this.provider.createQpResources(this.id, options.qp);
      const param = connParam(options, this.event);
      callVerbs('ERR_VERBS_UNREACHABLE', 'rdma_accept', () => {
        this.id.accept(param);
      });
      this.provider.tuneRts(this.id); // the QP is in RTS now; the requester's first SEND may already be coming
      // Ready to receive before the peer can send (the REP is out): the caller posts receives at once, and
      // the connection holds our sends until the RTU (ESTABLISHED) arrives.
      const { addon, settings } = this.provider.internals;
      return Promise.resolve(
        new NativeConnection(addon, this.router, resources, settings, this.local, this.remote, this.privateData, true),
      );
    } catch (err) {
      // Whatever failed, the requester must not wait for a REP that will never come.
      if (resources === undefined) this.refuse(undefined);
      this.provider.releaseQpResources(this.router, this.id, resources);
      return rejected(err);
    }
  }

  reject(privateData?: Buffer): Promise<void> {
    try {
      if (privateData !== undefined && privateData.length > REJ_PRIVATE_DATA_MAX) {
        throw new VerbsError('ERR_VERBS_INVALID_ARGUMENT', `reject: private data over ${REJ_PRIVATE_DATA_MAX} bytes`);
      }
      this.answer('reject');
      callVerbs('ERR_VERBS_CLOSED', 'rdma_reject', () => {
        this.id.reject(privateData);
      });
      return Promise.resolve();
    } catch (err) {
      return rejected(err);
    } finally {
      if (this.answered) this.router.destroy(this.id);
    }
  }

  /** REJ without going through answer(): for a request we cannot accept after all. */
  private refuse(privateData: Buffer | undefined): void {
    try {
      this.id.reject(privateData);
    } catch {
      // the requester times out instead
    }
  }

  private answer(what: string): void {
    if (this.answered) throw new VerbsError('ERR_VERBS_CLOSED', `${what}: this request was already answered`);
    this.answered = true;
  }
}
