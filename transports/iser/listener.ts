/**
 * Accepts iSER target connections on a portal of any Verbs provider: each rdma_cm connect request is accepted with
 * the target's iser_cm_hdr (0x80, plus 0x40 unless we will use Send with Invalidate) and a QP sized by the reference
 * formulas, and becomes an {@link IserConnection} in the login phase (one login receive already posted).
 *
 * Send with Invalidate is used only when the initiator did not set 0x40 and our provider can do it (isert's rule);
 * an initiator sending no private data at all is treated as having set it.
 */
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { DatamoverListener, PortalAddress } from '../../protocol/datamover.js';
import type { ConnectRequest, RdmaListener, VerbsProvider } from '../verbs.js';
import { decodeIserCmHeader, encodeIserCmHeader } from './cm-header.js';
import { IserConnection, type IserConnectionOptions } from './connection.js';
import { iserError } from './errors.js';
import { checkMaxReceiveDataSegmentLength, DEFAULT_QUEUE_DEPTH, qpCapabilities } from './sizing.js';

/** Options of {@link IserListener.listen}. */
export interface IserListenerOptions extends IserConnectionOptions {
  /** How often the initiator may retry a Send we answer with RNR NAK. Default 7 (forever), as isert. */
  readonly rnrRetryCount?: number;
}

/** Why we refuse a connection while the listener closes (REJ private data, printable). */
export const REJECT_LISTENER_CLOSING = 'iSER listener closing';

/** The target side's {@link DatamoverListener} for iSER. */
export class IserListener implements DatamoverListener {
  /** Always 'iser'. */
  readonly kind = 'iser' as const;
  /** Accepted connections, target role; completes when the listener closes. */
  readonly connections: Observable<IserConnection>;
  private readonly accepted = new Subject<IserConnection>();
  private readonly subscription: Subscription;
  private readonly accepting = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly provider: VerbsProvider,
    private readonly rdmaListener: RdmaListener,
    /** The bound portal (the real port when 0 was asked for). */
    readonly address: PortalAddress,
    private readonly options: IserListenerOptions,
  ) {
    this.connections = this.accepted.asObservable();
    this.subscription = rdmaListener.connectRequests.subscribe((request) => {
      const work = this.onRequest(request);
      this.accepting.add(work);
      void work.finally(() => this.accepting.delete(work));
    });
  }

  /**
   * Listens on `address` of `provider`; rejects with ERR_ISER_LISTEN_FAILED when it cannot, and with ERR_ISER_CONFIG
   * (before binding anything) when `maxReceiveDataSegmentLength` is outside 512..262144.
   */
  static async listen(
    provider: VerbsProvider,
    address: PortalAddress,
    options: IserListenerOptions = {},
  ): Promise<IserListener> {
    checkMaxReceiveDataSegmentLength(options.maxReceiveDataSegmentLength);
    let rdmaListener: RdmaListener;
    try {
      rdmaListener = await provider.listen({ host: address.host, port: address.port });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw iserError(
        'ERR_ISER_LISTEN_FAILED',
        `cannot listen for iSER on ${address.host}:${address.port} (${provider.name}): ${message}`,
        { cause: err },
      );
    }
    const bound = { host: rdmaListener.address.host, port: rdmaListener.address.port };
    return new IserListener(provider, rdmaListener, bound, options);
  }

  /**
   * Stops accepting: requests still being answered are rejected with a reason, later ones find nobody listening.
   * Connections already accepted stay open (close them yourself).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.accepting]);
      // Still subscribed while the RDMA listener closes: a request arriving meanwhile gets our reason.
      await this.rdmaListener.close();
      this.subscription.unsubscribe();
      await Promise.allSettled([...this.accepting]);
      this.accepted.complete();
    })();
    return this.closing;
  }

  /** A method, not a field read, so checks after an await see the current state. */
  private isClosing(): boolean {
    return this.closing !== undefined;
  }

  private async onRequest(request: ConnectRequest): Promise<void> {
    if (this.isClosing()) {
      await request.reject(Buffer.from(REJECT_LISTENER_CLOSING, 'latin1')).catch(() => undefined);
      return;
    }
    const caps = this.provider.caps;
    const queueDepth = Math.max(1, this.options.queueDepth ?? DEFAULT_QUEUE_DEPTH);
    const qp = qpCapabilities('target', queueDepth, caps);
    const peer = decodeIserCmHeader(request.privateData);
    const useSendWithInvalidate = caps.sendWithInvalidate && peer !== undefined && !peer.sendWithInvalidateNotSupported;
    let rdma;
    try {
      rdma = await request.accept({
        qp,
        privateData: encodeIserCmHeader({
          zbvaNotSupported: true,
          sendWithInvalidateNotSupported: !useSendWithInvalidate,
        }),
        // Our RDMA Reads fetch write data: as many outstanding as the initiator lets us (isert's rule).
        initiatorDepth: Math.min(request.responderResources, 255),
        responderResources: 0,
        rnrRetryCount: this.options.rnrRetryCount ?? 7,
      });
    } catch {
      // The initiator gave up (timeout) or the device refused: nothing was accepted, nothing to report.
      return;
    }
    if (this.isClosing()) {
      await rdma.disconnect().catch(() => undefined);
      return;
    }
    this.accepted.next(
      new IserConnection({
        ...this.options,
        queueDepth,
        role: 'target',
        rdma,
        qp,
        allowRemoteInvalidate: false,
        useSendWithInvalidate,
        maxMessageSize: caps.maxMessageSize,
      }),
    );
  }
}
