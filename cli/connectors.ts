/**
 * Chooses the Datamover connector for a URL's transport: iscsi:// is TCP; iser:// needs a Verbs provider with an
 * RDMA device. --pcap is accepted everywhere and explained where the transport has no packets to capture yet.
 */
import type { DatamoverConnector } from '../protocol/datamover.js';
import type { TransportKind } from '../protocol/text/negotiator.js';
import { TcpConnector } from '../transports/tcp/connector.js';
import { CliError } from './errors.js';
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
  if (request.transport === 'tcp') {
    if (request.pcap !== undefined) {
      ctx.noteOnce(
        'pcap',
        `note: --pcap ${request.pcap}: iSCSI over TCP has no packet tap yet, so nothing is written ` +
          `(capture real TCP with: tcpdump -i lo -w ${request.pcap} port <port>)`,
      );
    }
    return Promise.resolve({
      connector: new TcpConnector({ connectTimeoutMs: request.connectTimeoutMs }),
      close: () => Promise.resolve(),
    });
  }
  return Promise.reject(
    new CliError(
      'ERR_CLI_UNSUPPORTED',
      'iser:// needs an RDMA device and the native verbs addon, which this command does not open yet; ' +
        'use iscsi:// (TCP), or `npm start` for iSER on the simulated fabric',
    ),
  );
}
