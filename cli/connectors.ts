/**
 * Chooses the Datamover connector for a URL's transport: iscsi:// is TCP (through a capturing relay with --pcap);
 * iser:// needs a Verbs provider with an RDMA device. --pcap is explained where there are no packets to capture.
 */
import type { DatamoverConnector } from '../protocol/datamover.js';
import type { TransportKind } from '../protocol/text/negotiator.js';
import { IserConnector } from '../transports/iser/connector.js';
import { TcpConnector } from '../transports/tcp/connector.js';
import { CliError } from './errors.js';
import { CapturingTcpConnector } from './pcap/capturing-tcp-connector.js';
import type { CommandContext } from './context.js';

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
}

/** A connector for `request.transport`; throws ERR_CLI_UNSUPPORTED (exit 2) when it cannot be had here. */
export function openConnector(request: ConnectorRequest, ctx: CommandContext): Promise<OpenedConnector> {
  if (request.transport === 'tcp') return openTcp(request, ctx);
  return openNativeIser(request, ctx);
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
