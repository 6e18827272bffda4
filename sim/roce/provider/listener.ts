/**
 * The passive side of rdma_cm over soft-RoCE: a listener per port, and each inbound REQ offered to the consumer
 * as a {@link ConnectRequest} to accept (REP) or reject (REJ with the consumer's reason).
 */
import { Subject } from 'rxjs';
import type { Observable } from 'rxjs';
import { VerbsError } from '../../../transports/verbs.js';
import type {
  AcceptOptions,
  ConnectRequest,
  RdmaAddress,
  RdmaConnection,
  RdmaListener,
} from '../../../transports/verbs.js';
import type { CmFailure } from '../cm/cm-session.js';
import type { SoftRoceConnection } from './connection.js';

/** What a connect request needs from its device. */
export interface ConnectRequestHost {
  /** Accepts: creates the QP, sends the REP; returns the connection (in RTR). */
  accept(request: SoftRoceConnectRequest, options: AcceptOptions): SoftRoceConnection;
  /** Rejects with the consumer's private data. */
  reject(request: SoftRoceConnectRequest, privateData: Buffer): void;
}

/** What the connect request learned from the REQ. */
export interface ConnectRequestInit {
  readonly remote: RdmaAddress;
  readonly local: RdmaAddress;
  readonly privateData: Buffer;
  readonly initiatorDepth: number;
  readonly responderResources: number;
}

/** An inbound REQ offered to the consumer; also the owner of its CM session until it is answered. */
export class SoftRoceConnectRequest implements ConnectRequest {
  readonly remote: RdmaAddress;
  readonly local: RdmaAddress;
  readonly privateData: Buffer;
  readonly initiatorDepth: number;
  readonly responderResources: number;
  readonly #host: ConnectRequestHost;
  #answered = false;
  #abandoned = false;
  #connection: SoftRoceConnection | undefined;

  /** A request `host` answers. */
  constructor(host: ConnectRequestHost, init: ConnectRequestInit) {
    this.#host = host;
    this.remote = init.remote;
    this.local = init.local;
    this.privateData = init.privateData;
    this.initiatorDepth = init.initiatorDepth;
    this.responderResources = init.responderResources;
  }

  /** Whether accept or reject was called. */
  get answered(): boolean {
    return this.#answered;
  }

  accept(options: AcceptOptions): Promise<RdmaConnection> {
    try {
      this.#claim();
      const connection = this.#host.accept(this, options);
      this.#connection = connection;
      return new Promise((resolve) => {
        queueMicrotask(() => {
          resolve(connection);
        });
      });
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  reject(privateData?: Buffer): Promise<void> {
    try {
      this.#claim();
      this.#host.reject(this, privateData ?? Buffer.alloc(0));
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** The connecting side gave up (REJ, or its REQ retries ran out): an accept now fails. */
  failed(failure: CmFailure): void {
    this.#abandoned = true;
    if (failure.kind !== 'timeout') this.#connection?.teardown();
  }

  /** The RTU (or the first packet) arrived. */
  established(): void {
    this.#connection?.readyToSend();
  }

  /** The peer disconnected. */
  disconnected(): void {
    this.#connection?.teardown();
  }

  #claim(): void {
    if (this.#answered) throw new VerbsError('ERR_VERBS_CLOSED', 'this connect request was already answered');
    if (this.#abandoned) {
      throw new VerbsError('ERR_VERBS_TIMEOUT', 'the connecting side gave up before this answer', {
        errno: 'ETIMEDOUT',
      });
    }
    this.#answered = true;
  }
}

/** A port listened on. */
export class SoftRoceListener implements RdmaListener {
  readonly address: RdmaAddress;
  readonly connectRequests: Observable<ConnectRequest>;
  readonly #requests = new Subject<ConnectRequest>();
  readonly #pending = new Set<SoftRoceConnectRequest>();
  readonly #onClose: (listener: SoftRoceListener, unanswered: readonly SoftRoceConnectRequest[]) => void;
  #closed = false;

  /** A listener on `address`; `onClose` releases the port and rejects what was never answered. */
  constructor(
    address: RdmaAddress,
    onClose: (listener: SoftRoceListener, unanswered: readonly SoftRoceConnectRequest[]) => void,
  ) {
    this.address = address;
    this.#onClose = onClose;
    this.connectRequests = this.#requests.asObservable();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Offers a request to the consumer. */
  offer(request: SoftRoceConnectRequest): void {
    for (const answered of [...this.#pending].filter((r) => r.answered)) this.#pending.delete(answered);
    this.#pending.add(request);
    this.#requests.next(request);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const unanswered = [...this.#pending].filter((r) => !r.answered);
      this.#pending.clear();
      this.#onClose(this, unanswered);
      this.#requests.complete();
    }
    return Promise.resolve();
  }
}
