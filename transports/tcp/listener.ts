/** Accepts iSCSI/TCP target connections on a portal with `node:net` (port 0 picks a free port). */
import { createServer, type Server, type Socket } from 'node:net';
import { Subject, type Observable } from 'rxjs';
import type { DatamoverListener, PortalAddress } from '../../protocol/datamover.js';
import { TcpConnection, type TcpConnectionOptions } from './connection.js';
import { DEFAULT_KEEPALIVE_MS } from './connector.js';
import { TcpTransportError } from './errors.js';

/** Options of {@link TcpListener.listen}. */
export interface TcpListenerOptions extends Omit<TcpConnectionOptions, 'role'> {
  /** TCP keepalive initial delay on accepted sockets; 0 turns it off. Default 30 s. */
  readonly keepAliveMs?: number;
}

/** The target side's {@link DatamoverListener} for iSCSI over TCP. */
export class TcpListener implements DatamoverListener {
  /** Always 'tcp'. */
  readonly kind = 'tcp' as const;
  /** Accepted connections, target role; completes when the listener closes. */
  readonly connections: Observable<TcpConnection>;
  private readonly accepted = new Subject<TcpConnection>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    /** The bound portal (the real port when 0 was asked for). */
    readonly address: PortalAddress,
  ) {
    this.connections = this.accepted.asObservable();
  }

  /** Listens on `portal`; rejects with ERR_TCP_LISTEN_FAILED when it cannot be bound. */
  static listen(portal: PortalAddress, options: TcpListenerOptions = {}): Promise<TcpListener> {
    const keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEPALIVE_MS;
    let listener: TcpListener | undefined;
    const server = createServer({ noDelay: true }, (socket: Socket) => {
      socket.setKeepAlive(keepAliveMs > 0, keepAliveMs);
      if (listener === undefined || listener.closing !== undefined) {
        socket.destroy();
        return;
      }
      listener.accepted.next(new TcpConnection(socket, { ...options, role: 'target' }));
    });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new TcpTransportError(
            'ERR_TCP_LISTEN_FAILED',
            `cannot listen on ${portal.host}:${portal.port}: ${err.message}`,
            { cause: err },
          ),
        );
      };
      server.once('error', onError);
      server.listen(portal.port, portal.host, () => {
        server.removeListener('error', onError);
        const bound = server.address();
        const port = typeof bound === 'object' && bound !== null ? bound.port : portal.port;
        const host = typeof bound === 'object' && bound !== null ? bound.address : portal.host;
        listener = new TcpListener(server, { host, port });
        resolve(listener);
      });
    });
  }

  /**
   * Stops accepting; connections already accepted stay open (close them yourself). Resolves once the listening
   * socket is closed (node's own close callback waits for every accepted connection too, so it is not used).
   */
  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      this.accepted.complete();
      this.server.close();
      resolve();
    });
    return this.closing;
  }
}
