/**
 * Opens iSER initiator connections over any Verbs provider: rdma_cm connect with the initiator's iser_cm_hdr, a QP
 * sized by the reference formulas, then an {@link IserConnection} in the login phase.
 *
 * Send with Invalidate: we set 0x40 ("not supported") unless the provider's caps say `sendWithInvalidate`; without
 * it, our STags could not be registered invalidatable and a target invalidating one would break the connection.
 * ZBVA (0x80) is never supported: our STags carry virtual addresses.
 */
import { asyncScheduler } from 'rxjs';
import type { DatamoverConnector, PortalAddress } from '../../protocol/datamover.js';
import { VerbsError, type VerbsProvider } from '../verbs.js';
import { encodeIserCmHeader } from './cm-header.js';
import { IserConnection, type IserConnectionOptions } from './connection.js';
import { iserError } from './errors.js';
import { checkMaxReceiveDataSegmentLength, DEFAULT_QUEUE_DEPTH, qpCapabilities } from './sizing.js';

/** Options of an {@link IserConnector}. */
export interface IserConnectorOptions extends IserConnectionOptions {
  /** Bound on address/route resolution and the CM handshake, in ms of the provider's clock. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Transport retries (0..6). Default 6; 7 would mean "forever" on rxe. */
  readonly retryCount?: number;
  /**
   * How often the target may retry a Send we answer with RNR NAK. Default 7 (forever, per the IB spec): flow control
   * keeps bursts within our ring, and a momentary shortage must slow the peer, never break the connection.
   */
  readonly rnrRetryCount?: number;
  /** RDMA Reads the target may have outstanding against us (`responder_resources`). Default 16. */
  readonly responderResources?: number;
}

/** Default of {@link IserConnectorOptions.connectTimeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The initiator side's {@link DatamoverConnector} for iSER. */
export class IserConnector implements DatamoverConnector {
  /** Always 'iser'. */
  readonly kind = 'iser' as const;

  /** Throws `ERR_ISER_CONFIG` when `maxReceiveDataSegmentLength` is outside 512..262144. */
  constructor(
    private readonly provider: VerbsProvider,
    private readonly options: IserConnectorOptions = {},
  ) {
    checkMaxReceiveDataSegmentLength(options.maxReceiveDataSegmentLength);
  }

  /** Connects to `portal`; rejects with ERR_ISER_CONNECT_REJECTED or ERR_ISER_CONNECT_FAILED. */
  async connect(portal: PortalAddress): Promise<IserConnection> {
    const caps = this.provider.caps;
    const queueDepth = Math.max(1, this.options.queueDepth ?? DEFAULT_QUEUE_DEPTH);
    const qp = qpCapabilities('initiator', queueDepth, caps);
    const allowRemoteInvalidate = caps.sendWithInvalidate;
    const where = `${portal.host}:${portal.port}`;
    let rdma;
    try {
      rdma = await this.provider.connect(
        { host: portal.host, port: portal.port },
        {
          qp,
          privateData: encodeIserCmHeader({
            zbvaNotSupported: true,
            sendWithInvalidateNotSupported: !allowRemoteInvalidate,
          }),
          // We never issue RDMA Reads ourselves; 1, not 0, as the FreeBSD initiator does for old targets.
          initiatorDepth: 1,
          responderResources: this.options.responderResources ?? 16,
          retryCount: this.options.retryCount ?? 6,
          rnrRetryCount: this.options.rnrRetryCount ?? 7,
          timeoutMs: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        },
      );
    } catch (err) {
      if (err instanceof VerbsError && err.code === 'ERR_VERBS_REJECTED') {
        const reason = printableReason(err.privateData);
        throw iserError(
          'ERR_ISER_CONNECT_REJECTED',
          `${where} rejected the iSER connection${reason === undefined ? '' : `: ${reason}`}`,
          { cause: err },
        );
      }
      const message = err instanceof Error ? err.message : String(err);
      throw iserError(
        'ERR_ISER_CONNECT_FAILED',
        `iSER connect to ${where} over ${this.provider.name} failed: ${message}`,
        {
          cause: err,
        },
      );
    }
    return new IserConnection({
      ...this.options,
      scheduler: this.options.scheduler ?? asyncScheduler,
      queueDepth,
      role: 'initiator',
      rdma,
      qp,
      allowRemoteInvalidate,
      useSendWithInvalidate: false,
      maxMessageSize: caps.maxMessageSize,
    });
  }
}

/** A reject reason our listener put in the REJ private data, if it is printable text. */
export function printableReason(privateData: Buffer | undefined): string | undefined {
  if (privateData === undefined || privateData.length === 0) return undefined;
  const text = privateData.toString('latin1').replace(/\0+$/, '');
  return /^[\x20-\x7e]+$/.test(text) ? text : undefined;
}
