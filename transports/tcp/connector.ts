/** Opens iSCSI/TCP initiator connections with `node:net`: bounded connect time, TCP_NODELAY and keepalive. */
import { connect, type Socket } from 'node:net';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { DatamoverConnector, PortalAddress } from '../../protocol/datamover.js';
import { TcpConnection, type TcpConnectionOptions } from './connection.js';
import { TcpTransportError } from './errors.js';

/** Options of a {@link TcpConnector}. */
export interface TcpConnectorOptions extends Omit<TcpConnectionOptions, 'role'> {
  /** How long connect() may take before failing with ERR_TCP_CONNECT_TIMEOUT. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** TCP keepalive initial delay; 0 turns keepalive off. Default 30 s. */
  readonly keepAliveMs?: number;
}

/** Default of {@link TcpConnectorOptions.connectTimeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Default of {@link TcpConnectorOptions.keepAliveMs}. */
export const DEFAULT_KEEPALIVE_MS = 30_000;

/** The initiator side's {@link DatamoverConnector} for iSCSI over TCP. */
export class TcpConnector implements DatamoverConnector {
  /** Always 'tcp'. */
  readonly kind = 'tcp' as const;

  constructor(private readonly options: TcpConnectorOptions = {}) {}

  /** Connects to `portal`; rejects with ERR_TCP_CONNECT_REFUSED, ERR_TCP_CONNECT_TIMEOUT or ERR_TCP_CONNECT_FAILED. */
  connect(portal: PortalAddress): Promise<TcpConnection> {
    const scheduler: SchedulerLike = this.options.scheduler ?? asyncScheduler;
    const timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const keepAliveMs = this.options.keepAliveMs ?? DEFAULT_KEEPALIVE_MS;
    const where = `${portal.host}:${portal.port}`;
    let socket: Socket;
    try {
      socket = connect({ host: portal.host, port: portal.port });
    } catch (err) {
      // node:net throws at once for portals it cannot even try (e.g. a port above 65535).
      const message = err instanceof Error ? err.message : String(err);
      return Promise.reject(
        new TcpTransportError('ERR_TCP_CONNECT_FAILED', `connect to ${where}: ${message}`, { cause: err }),
      );
    }
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        timer.unsubscribe();
        socket.removeListener('error', onError);
        socket.removeListener('connect', onConnect);
      };
      const onError = (err: NodeJS.ErrnoException): void => {
        settle();
        socket.destroy();
        const code = err.code === 'ECONNREFUSED' ? 'ERR_TCP_CONNECT_REFUSED' : 'ERR_TCP_CONNECT_FAILED';
        reject(new TcpTransportError(code, `connect to ${where} failed: ${err.message}`, { cause: err }));
      };
      const onConnect = (): void => {
        settle();
        socket.setKeepAlive(keepAliveMs > 0, keepAliveMs);
        resolve(new TcpConnection(socket, { ...this.options, role: 'initiator' }));
      };
      const timer = scheduler.schedule(() => {
        settle();
        socket.destroy();
        reject(new TcpTransportError('ERR_TCP_CONNECT_TIMEOUT', `connect to ${where} took over ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', onError);
      socket.once('connect', onConnect);
    });
  }
}
