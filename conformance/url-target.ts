/** A {@link ConformanceTarget} from an iscsi:// or iser:// URL, in real time. */
import { asyncScheduler } from 'rxjs';
import type { TransportKind } from '../protocol/datamover.js';
import { parseIscsiUrl, redactIscsiUrl } from '../protocol/initiator/url.js';
import type { InitiatorAuthConfig } from '../protocol/login/initiator-login.js';
import { IserConnector } from '../transports/iser/connector.js';
import { RECEIVE_DATA_SEGMENT_LENGTH_CAP } from '../transports/iser/sizing.js';
import { TcpConnector } from '../transports/tcp/connector.js';
import type { VerbsProvider } from '../transports/verbs.js';
import { ConformanceError } from './errors.js';
import type { ConformanceTarget, ScratchRegion } from './target.js';

/** The initiator name the suite logs in with unless told otherwise. */
export const DEFAULT_INITIATOR_NAME = 'iqn.2024-01.org.iser:conformance';

/** Options of {@link targetFromUrl}. */
export interface UrlTargetOptions {
  /** Overrides the URL's scheme. */
  readonly transport?: TransportKind;
  /** The Verbs provider an iSER connection needs (e.g. the native addon). */
  readonly provider?: VerbsProvider;
  readonly initiatorName?: string;
  readonly scratch?: ScratchRegion;
  readonly opTimeoutMs?: number;
}

/** Parses `url` (throws ERR_INITIATOR_BAD_URL) and builds the target it names. */
export function targetFromUrl(url: string, options: UrlTargetOptions = {}): ConformanceTarget {
  const parsed = parseIscsiUrl(url);
  const transport = options.transport ?? parsed.transport;
  const targetName = parsed.targetName;
  if (targetName === undefined || parsed.lun === undefined) {
    throw new ConformanceError('ERR_CONFORMANCE_BAD_OPTIONS', 'the URL must name a target and a LUN');
  }
  const provider = options.provider;
  if (transport === 'iser' && provider === undefined) {
    throw new ConformanceError(
      'ERR_CONFORMANCE_BAD_OPTIONS',
      'iSER needs a Verbs provider (the native addon on an RDMA device, or a simulator); none was given',
    );
  }
  const auth: InitiatorAuthConfig | undefined =
    parsed.user === undefined || parsed.password === undefined
      ? undefined
      : {
          method: 'CHAP',
          credentials: { user: parsed.user, secret: parsed.password },
          ...(parsed.targetUser === undefined || parsed.targetPassword === undefined
            ? {}
            : { mutual: { user: parsed.targetUser, secret: parsed.targetPassword } }),
          ...(parsed.chapAlgorithm === undefined ? {} : { algorithms: [parsed.chapAlgorithm] }),
        };
  return {
    description: `${redactIscsiUrl(url)} over ${transport === 'iser' ? 'iSER' : 'TCP'}`,
    transport,
    portal: { host: parsed.host, port: parsed.port },
    targetName,
    lun: parsed.lun,
    initiatorName: options.initiatorName ?? DEFAULT_INITIATOR_NAME,
    ...(auth === undefined ? {} : { auth }),
    negotiation: {
      ...(parsed.headerDigest === undefined ? {} : { headerDigest: parsed.headerDigest }),
      ...(parsed.dataDigest === undefined ? {} : { dataDigest: parsed.dataDigest }),
    },
    scheduler: asyncScheduler,
    connector: () =>
      transport === 'iser' && provider !== undefined
        ? // The suite's offers declare InitiatorRecvDataSegmentLength up to the transport's cap (conformance/arbitraries.ts).
          new IserConnector(provider, {
            scheduler: asyncScheduler,
            maxReceiveDataSegmentLength: RECEIVE_DATA_SEGMENT_LENGTH_CAP,
          })
        : new TcpConnector({ connectTimeoutMs: options.opTimeoutMs ?? 10_000 }),
    run: (work) => work,
    ...(options.opTimeoutMs === undefined ? {} : { opTimeoutMs: options.opTimeoutMs }),
    ...(options.scratch === undefined ? {} : { scratch: options.scratch }),
  };
}
