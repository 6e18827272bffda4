/**
 * Chooses the Datamover connector for a URL's transport: iscsi:// is TCP (through a capturing relay with --pcap);
 * iser:// needs a Verbs provider: an RDMA device, or with --iser-softroce a soft-RoCE device on loopback UDP (whose
 * RoCEv2 datagrams --pcap captures). --pcap is explained where there are no packets to capture.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { asyncScheduler } from 'rxjs';
import type { DatamoverConnector } from '../protocol/datamover.js';
import type { TransportKind } from '../protocol/text/negotiator.js';
import { IserConnector } from '../transports/iser/connector.js';
import { TcpConnector } from '../transports/tcp/connector.js';
import type { VerbsProvider } from '../transports/verbs.js';
import { ROCE_PORT } from '../sim/roce/link/link.js';
import { CliError } from './errors.js';
import { CapturingTcpConnector } from './pcap/capturing-tcp-connector.js';
import type { CommandContext } from './context.js';
import type { SoftRoceEndpoint } from './softroce-endpoint.js';

/** A connector and how to release what it holds. */
export interface OpenedConnector {
  readonly connector: DatamoverConnector;
  readonly close: () => Promise<void>;
}

/** What choosing a connector needs. */
export interface ConnectorRequest {
  readonly transport: TransportKind;
  readonly connectTimeoutMs: number;
  readonly pcap: string | undefined;
  /** iSER over soft-RoCE on UDP instead of an RDMA device. */
  readonly softroce?: SoftRoceEndpoint | undefined;
}

/** A connector for `request.transport`; throws ERR_CLI_UNSUPPORTED (exit 2) when it cannot be had here. */
export function openConnector(request: ConnectorRequest, ctx: CommandContext): Promise<OpenedConnector> {
  if (request.transport === 'tcp') return openTcp(request, ctx);
  if (request.softroce !== undefined) return openSoftRoceIser(request, request.softroce, ctx);
  return openNativeIser(request, ctx);
}

/** The soft-RoCE device of each run: one per address, shared by its connections, closed when the run ends. */
const softRoceDevices = new WeakMap<CommandContext, Promise<VerbsProvider>>();

/**
 * iSER through a soft-RoCE device on UDP at the endpoint's loopback address (4791, or an ephemeral port when it is
 * taken). One device serves every connection of the run (discovery, then each session): the target answers the
 * device's port, so a second device on the same address would not hear it. With --pcap every datagram is captured.
 */
async function openSoftRoceIser(
  request: ConnectorRequest,
  endpoint: SoftRoceEndpoint,
  ctx: CommandContext,
): Promise<OpenedConnector> {
  const provider = await softRoceDevice(endpoint, request.pcap, ctx);
  return {
    connector: new IserConnector(provider, { scheduler: asyncScheduler, connectTimeoutMs: request.connectTimeoutMs }),
    close: () => Promise.resolve(),
  };
}

/** The run's soft-RoCE device (opened on first use, closed by `ctx.close()`), capturing to `pcap` when given. */
export function softRoceDevice(
  endpoint: SoftRoceEndpoint,
  pcap: string | undefined,
  ctx: CommandContext,
): Promise<VerbsProvider> {
  let device = softRoceDevices.get(ctx);
  if (device === undefined) {
    device = (async () => {
      const [{ FIRST_QPN, SoftRoceProvider }, { UdpLink }, { PcapngFileTap }] = await Promise.all([
        import('../sim/roce/provider/provider.js'),
        import('../sim/roce/link/udp-link.js'),
        import('./pcap/roce-file-tap.js'),
      ]);
      const file =
        pcap === undefined ? undefined : await ctx.capture(pcap, 'iser (RoCEv2 of a soft-RoCE device on UDP loopback)');
      const link = new UdpLink({
        peerPorts: endpoint.peerPorts,
        // Received too: the target may be another process's device, which this link does not see send.
        ...(file === undefined ? {} : { tap: new PcapngFileTap(asyncScheduler, file), captureReceived: true }),
      });
      // A fresh seed each run: a seeded device would reuse its CM comm IDs and QPNs, and a target still holding the
      // previous run's connection (its DREQ unanswered) takes the new REQ for a retransmission of the old one.
      const provider = await SoftRoceProvider.open({
        link,
        address: endpoint.address,
        scheduler: asyncScheduler,
        seed: randomUUID(),
        // and a first QPN of its own: a target still holding the last run's connection (QPN 17 too) would refuse
        // the new REQ as a stale connection (REJ 10), as ib_cm does when a rebooted host reuses a QPN.
        firstQpn: randomInt(FIRST_QPN, 0x1000000),
      });
      ctx.onClose(() => provider.close());
      if (provider.port !== ROCE_PORT) {
        // A target answers a RoCE peer on 4791: one in another process will not find this port.
        ctx.noteOnce(
          'softroce-port',
          `note: UDP ${ROCE_PORT} on ${endpoint.address} is taken (kernel rxe?); the soft-RoCE device listens on ` +
            `${provider.port}, which only a target told so can answer`,
        );
      }
      return provider;
    })();
    softRoceDevices.set(ctx, device);
  }
  return device;
}

/** TCP, through a capturing relay when --pcap asks for one. */
async function openTcp(request: ConnectorRequest, ctx: CommandContext): Promise<OpenedConnector> {
  const connector =
    request.pcap === undefined
      ? new TcpConnector({ connectTimeoutMs: request.connectTimeoutMs })
      : new CapturingTcpConnector(await ctx.capture(request.pcap), request.connectTimeoutMs);
  return { connector, close: () => Promise.resolve() };
}

/**
 * iSER through rdma-core: the native addon on this machine's first RDMA device (rxe or hardware). Loaded only here,
 * so TCP commands never touch the addon.
 */
async function openNativeIser(request: ConnectorRequest, ctx: CommandContext): Promise<OpenedConnector> {
  if (request.pcap !== undefined) {
    ctx.noteOnce(
      'pcap',
      `note: --pcap ${request.pcap}: native iSER has no packet tap (capture on the rxe netdev instead)`,
    );
  }
  let provider;
  try {
    const { NativeVerbs } = await import('../native/index.js');
    provider = NativeVerbs.open({ timeoutMs: request.connectTimeoutMs });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new CliError(
      'ERR_CLI_UNSUPPORTED',
      `iser:// needs an RDMA device (${why}); use iscsi:// (TCP), or \`npm start\` for iSER on the simulated fabric`,
      { cause: err },
    );
  }
  const native = provider;
  return {
    connector: new IserConnector(native, { connectTimeoutMs: request.connectTimeoutMs }),
    close: () => {
      native.close();
      return Promise.resolve();
    },
  };
}
