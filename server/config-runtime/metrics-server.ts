/**
 * Serves `GET /metrics` (Prometheus text format) over node:http. Loopback addresses only unless the caller allows
 * others explicitly: the metrics name targets and initiators' traffic, and there is no authentication.
 */
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import type { PortalAddress } from '../../protocol/datamover.js';
import { TargetServerError } from '../errors.js';

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** Options of {@link MetricsServer.listen}. */
export interface MetricsServerOptions {
  /** Serve on a non-loopback address too (default false: such an address is refused). */
  readonly allowRemote?: boolean;
}

/** The HTTP endpoint. */
export class MetricsServer {
  private constructor(
    private readonly server: Server,
    /** Where it listens (the real port when 0 was asked for). */
    readonly address: PortalAddress,
  ) {}

  /** Listens on `address`; `render` produces the body of each scrape. */
  static async listen(
    address: PortalAddress,
    render: () => Promise<string>,
    contentType: string,
    options: MetricsServerOptions = {},
  ): Promise<MetricsServer> {
    if (options.allowRemote !== true && !isLoopbackHost(address.host)) {
      throw new TargetServerError(
        'ERR_SERVER_USAGE',
        `metrics on ${address.host}:${address.port}: only a loopback address (127.x, ::1) unless --metrics-allow-remote`,
      );
    }
    const server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET' || path !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
        return;
      }
      render().then(
        (body) => {
          response.writeHead(200, { 'content-type': contentType }).end(body);
        },
        (err: unknown) => {
          response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`);
        },
      );
    });
    // A scrape is one small request: bound how long a client may hold a socket.
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw new TargetServerError(
        'ERR_SERVER_TRANSPORT',
        `metrics on ${address.host}:${address.port}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    return new MetricsServer(server, { host: address.host, port });
  }

  /** Stops listening and closes open sockets. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => {
        resolve();
      });
      this.server.closeAllConnections();
    });
  }
}
