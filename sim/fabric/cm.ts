/**
 * Connection management on the fabric, rdma_cm style: a listener per port, a REQ → REP → RTU handshake whose
 * messages take the link's latency (and the fault plan's delays), REJ with private data, a bounded wait.
 *
 * The passive side's `accept()` resolves as soon as its REP is sent, with the QP in RTR: it can post receives
 * before the active side can send (the active side's first request arrives after the RTU, on the same ordered
 * channel). Its own sends wait for the RTU. rdma_cm semantics for the retry counts: `retryCount` of the REQ
 * applies to both sides; each side's `rnrRetryCount` says how often the *peer* retries on RNR.
 */
import { Subject } from 'rxjs';
import type { Observable, Subscription } from 'rxjs';
import { VerbsError } from '../../transports/verbs.js';
import type {
  AcceptOptions,
  ConnectOptions,
  ConnectRequest,
  RdmaAddress,
  RdmaListener,
} from '../../transports/verbs.js';
import type { ActiveHandshake, CmReply, InboundRequest, ListenerSink, RejectReason } from './cm-messages.js';
import { checkPrivateData, checkQpCapabilities, optionIn, rejected } from './cm-options.js';
import type { ConnectionRecord } from './connection.js';
import type { FabricContext } from './context.js';
import type { HostState } from './host.js';
import { SimQueuePair } from './queue-pair.js';

/** RDMA READ depth fits the 8-bit CM fields. */
const MAX_DEPTH = 255;

/** The active side of one connection attempt, from REQ to the outcome. */
export class ActiveAttempt implements ActiveHandshake {
  readonly #ctx: FabricContext;
  readonly #record: ConnectionRecord;
  readonly #host: HostState;
  readonly #local: RdmaAddress;
  readonly #remote: RdmaAddress;
  readonly #options: ConnectOptions;
  readonly #resolve: (connection: SimQueuePair) => void;
  readonly #reject: (error: VerbsError) => void;
  #done = false;
  #timer: Subscription | undefined;

  constructor(
    ctx: FabricContext,
    record: ConnectionRecord,
    host: HostState,
    local: RdmaAddress,
    remote: RdmaAddress,
    options: ConnectOptions,
    settle: { resolve: (connection: SimQueuePair) => void; reject: (error: VerbsError) => void },
  ) {
    this.#ctx = ctx;
    this.#record = record;
    this.#host = host;
    this.#local = local;
    this.#remote = remote;
    this.#options = options;
    this.#resolve = settle.resolve;
    this.#reject = settle.reject;
  }

  /** Sends the REQ to `target` (undefined: a host the fabric does not know) and arms the CM timeout. */
  start(target: HostState | undefined): void {
    const o = this.#options;
    const d = this.#ctx.defaults;
    const request: Omit<InboundRequest, 'handshake' | 'record'> = {
      remote: this.#local,
      local: this.#remote,
      privateData: checkPrivateData(o.privateData, 'REQ'),
      initiatorDepth: optionIn(o.initiatorDepth, d.initiatorDepth, MAX_DEPTH, 'initiatorDepth'),
      responderResources: optionIn(o.responderResources, d.responderResources, MAX_DEPTH, 'responderResources'),
      retryCount: optionIn(o.retryCount, d.retryCount, 7, 'retryCount'),
      rnrRetryCount: optionIn(o.rnrRetryCount, d.rnrRetryCount, 7, 'rnrRetryCount'),
    };
    checkQpCapabilities(o.qp, this.#ctx.caps);
    const timeoutMs = o.timeoutMs ?? this.#ctx.timings.cmTimeoutMs;
    if (!(timeoutMs > 0)) throw new VerbsError('ERR_VERBS_INVALID_WR', 'timeoutMs must be > 0', { errno: 'EINVAL' });
    this.#trace('cm.req', { to: this.#remote.host, port: this.#remote.port, privateData: request.privateData.length });
    if (target === undefined) {
      this.#ctx.after(0, () => {
        this.#finish(
          new VerbsError('ERR_VERBS_ADDRESS', `no route to ${this.#remote.host}: not a fabric host`, {
            errno: 'EHOSTUNREACH',
          }),
        );
      });
      return;
    }
    this.#timer = this.#ctx.after(timeoutMs, () => {
      this.#timer = undefined;
      this.#onTimeout(timeoutMs);
    });
    const inbound: InboundRequest = { ...request, record: this.#record, handshake: this };
    this.#record.send('active', 0, 'CM', () => {
      if (this.#ctx.faults.isSilent(target.name, this.#ctx.now())) {
        this.#ctx.trace(this.#record.id, 'drop', { host: target.name, reason: 'not-answering', message: 'REQ' });
        return;
      }
      const listener = target.listeners.get(this.#remote.port);
      if (listener !== undefined) {
        listener.deliver(inbound);
        return;
      }
      this.#ctx.trace(this.#record.id, 'cm.rej', { host: target.name, reason: 'unreachable' });
      this.#record.send('passive', 0, 'CM', () => {
        this.onReject('unreachable', Buffer.alloc(0));
      });
    });
  }

  onReply(reply: CmReply): void {
    if (this.#done) {
      // We gave up already: tell the passive side, whose connection then ends.
      this.#abandon();
      return;
    }
    const o = this.#options;
    const qp = new SimQueuePair({
      ctx: this.#ctx,
      record: this.#record,
      side: 'active',
      host: this.#host,
      local: this.#local,
      remote: this.#remote,
      peerPrivateData: reply.privateData,
      settings: {
        caps: o.qp,
        readDepth: Math.min(o.initiatorDepth ?? this.#ctx.defaults.initiatorDepth, reply.responderResources),
        retryCount: o.retryCount ?? this.#ctx.defaults.retryCount,
        rnrRetryCount: reply.rnrRetryCount,
      },
      state: 'RTS',
    });
    this.#trace('cm.established', { privateData: reply.privateData.length });
    this.#record.sendToPeer('active', 0, 'CM', (peer) => {
      peer.onReadyToUse();
    });
    this.#finish(qp);
  }

  onReject(reason: RejectReason, privateData: Buffer): void {
    if (this.#done) return;
    this.#trace('cm.rej', { reason, privateData: privateData.length, received: true });
    const where = `${this.#remote.host}:${this.#remote.port}`;
    this.#finish(
      reason === 'consumer'
        ? new VerbsError('ERR_VERBS_REJECTED', `${where} rejected the connection`, {
            errno: 'ECONNREFUSED',
            privateData,
          })
        : reason === 'unreachable'
          ? new VerbsError('ERR_VERBS_UNREACHABLE', `nobody listens on ${where}`, { errno: 'ECONNREFUSED' })
          : new VerbsError('ERR_VERBS_TIMEOUT', `${where} timed out the handshake`, { errno: 'ETIMEDOUT' }),
    );
  }

  #onTimeout(timeoutMs: number): void {
    if (this.#done) return;
    this.#trace('cm.timeout', { afterMs: timeoutMs });
    this.#finish(
      new VerbsError(
        'ERR_VERBS_TIMEOUT',
        `no answer from ${this.#remote.host}:${this.#remote.port} within ${timeoutMs} ms`,
        { errno: 'ETIMEDOUT' },
      ),
    );
    this.#abandon();
  }

  /** Sends a REJ (timeout) to the passive side: a pending request can no longer be accepted, a connection ends. */
  #abandon(): void {
    this.#record.send('active', 0, 'CM', () => {
      this.#record.abandoned = true;
      this.#record.side('passive')?.teardown('rejected');
    });
  }

  #finish(outcome: SimQueuePair | VerbsError): void {
    if (this.#done) return;
    this.#done = true;
    this.#timer?.unsubscribe();
    this.#timer = undefined;
    if (outcome instanceof VerbsError) this.#reject(outcome);
    else this.#resolve(outcome);
  }

  #trace(
    kind: 'cm.req' | 'cm.rej' | 'cm.timeout' | 'cm.established',
    fields: Record<string, string | number | boolean>,
  ) {
    this.#ctx.trace(this.#record.id, kind, { host: this.#host.name, ...fields });
  }
}

/** An inbound REQ offered to the consumer. */
export class SimConnectRequest implements ConnectRequest {
  readonly remote: RdmaAddress;
  readonly local: RdmaAddress;
  readonly privateData: Buffer;
  readonly initiatorDepth: number;
  readonly responderResources: number;
  readonly #ctx: FabricContext;
  readonly #host: HostState;
  readonly #inbound: InboundRequest;
  readonly #onAnswered: (request: SimConnectRequest) => void;
  #answered = false;

  constructor(
    ctx: FabricContext,
    host: HostState,
    inbound: InboundRequest,
    onAnswered: (request: SimConnectRequest) => void,
  ) {
    this.#ctx = ctx;
    this.#host = host;
    this.#inbound = inbound;
    this.#onAnswered = onAnswered;
    this.remote = inbound.remote;
    this.local = inbound.local;
    this.privateData = inbound.privateData;
    this.initiatorDepth = inbound.initiatorDepth;
    this.responderResources = inbound.responderResources;
  }

  /** Whether accept or reject was called. */
  get answered(): boolean {
    return this.#answered;
  }

  accept(options: AcceptOptions): Promise<SimQueuePair> {
    try {
      return Promise.resolve(this.#accept(options));
    } catch (error) {
      return rejected(error);
    }
  }

  #accept(options: AcceptOptions): Promise<SimQueuePair> {
    const record = this.#inbound.record;
    this.#assertOpen();
    if (record.abandoned) {
      throw new VerbsError('ERR_VERBS_TIMEOUT', 'the connecting side gave up before this accept', {
        errno: 'ETIMEDOUT',
      });
    }
    const d = this.#ctx.defaults;
    checkQpCapabilities(options.qp, this.#ctx.caps);
    const reply: CmReply = {
      privateData: checkPrivateData(options.privateData, 'REP'),
      initiatorDepth: optionIn(options.initiatorDepth, d.initiatorDepth, MAX_DEPTH, 'initiatorDepth'),
      responderResources: optionIn(options.responderResources, d.responderResources, MAX_DEPTH, 'responderResources'),
      rnrRetryCount: optionIn(options.rnrRetryCount, d.rnrRetryCount, 7, 'rnrRetryCount'),
    };
    optionIn(options.retryCount, d.retryCount, 7, 'retryCount'); // checked; rdma_cm ignores it on accept
    this.#claim();
    const qp = new SimQueuePair({
      ctx: this.#ctx,
      record,
      side: 'passive',
      host: this.#host,
      local: this.local,
      remote: this.remote,
      peerPrivateData: this.privateData,
      settings: {
        caps: options.qp,
        readDepth: Math.min(reply.initiatorDepth, this.#inbound.responderResources),
        retryCount: this.#inbound.retryCount,
        rnrRetryCount: this.#inbound.rnrRetryCount,
      },
      state: 'RTR',
    });
    this.#ctx.trace(record.id, 'cm.rep', { host: this.#host.name, privateData: reply.privateData.length });
    record.send('passive', 0, 'CM', () => {
      this.#inbound.handshake.onReply(reply);
    });
    return new Promise((resolve) =>
      this.#ctx.after(0, () => {
        resolve(qp);
      }),
    );
  }

  reject(privateData?: Buffer): Promise<void> {
    try {
      this.#assertOpen();
      const data = checkPrivateData(privateData, 'REJ');
      this.#claim();
      this.#sendReject('consumer', data);
      return new Promise((resolve) => this.#ctx.after(0, resolve));
    } catch (error) {
      return rejected(error);
    }
  }

  /** Rejects as "nobody listens" (the listener closed before answering). */
  rejectUnreachable(): void {
    if (this.#answered) return;
    this.#answered = true;
    this.#sendReject('unreachable', Buffer.alloc(0));
  }

  #assertOpen(): void {
    if (this.#answered) throw new VerbsError('ERR_VERBS_CLOSED', 'this connect request was already answered');
  }

  #claim(): void {
    this.#assertOpen();
    this.#answered = true;
    this.#onAnswered(this);
  }

  #sendReject(reason: RejectReason, data: Buffer): void {
    const record = this.#inbound.record;
    this.#ctx.trace(record.id, 'cm.rej', { host: this.#host.name, reason, privateData: data.length });
    record.send('passive', 0, 'CM', () => {
      this.#inbound.handshake.onReject(reason, data);
    });
  }
}

/** A listener bound to a port of a host. */
export class SimListener implements RdmaListener, ListenerSink {
  readonly address: RdmaAddress;
  readonly connectRequests: Observable<SimConnectRequest>;
  readonly #ctx: FabricContext;
  readonly #host: HostState;
  readonly #requests = new Subject<SimConnectRequest>();
  readonly #pending = new Set<SimConnectRequest>();
  #closed = false;

  constructor(ctx: FabricContext, host: HostState, address: RdmaAddress) {
    this.#ctx = ctx;
    this.#host = host;
    this.address = address;
    this.connectRequests = this.#requests.asObservable();
  }

  deliver(inbound: InboundRequest): void {
    const request = new SimConnectRequest(this.#ctx, this.#host, inbound, (answered) => {
      this.#pending.delete(answered);
    });
    this.#pending.add(request);
    this.#ctx.trace(inbound.record.id, 'cm.req', {
      host: this.#host.name,
      from: inbound.remote.host,
      port: this.address.port,
      received: true,
    });
    this.#requests.next(request);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#host.listeners.get(this.address.port) === this) this.#host.listeners.delete(this.address.port);
      this.#ctx.trace('', 'cm.close', { host: this.#host.name, port: this.address.port });
      for (const request of [...this.#pending]) request.rejectUnreachable();
      this.#pending.clear();
      this.#requests.complete();
    }
    return Promise.resolve();
  }
}
