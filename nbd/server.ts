/**
 * The NBD server: named exports served over unix sockets or TCP (node:net), or over any stream handed to
 * `accept`. Exports can be added and removed while clients are connected; removing one lets its clients' running
 * requests finish, answers new ones ESHUTDOWN, and then closes those connections.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import {
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  NbdConnection,
  type NbdConnectionEvent,
} from './connection.js';
import { NbdServerError } from './errors.js';
import { createExport, type NbdExport, type NbdExportOptions } from './export.js';

/** Options of {@link NbdServer}. */
export interface NbdServerOptions {
  /** The export an empty name ("the default export") selects; none when unset. */
  readonly defaultExport?: string;
  /** Bounds per connection; unset ones take `DEFAULT_CONNECTION_LIMITS`. */
  readonly limits?: Partial<ConnectionLimits>;
  /** Source of timers (handshake and close timeouts); default RxJS's asyncScheduler. */
  readonly scheduler?: SchedulerLike;
  /** Receives connection events (for logs and metrics). */
  readonly onEvent?: (event: NbdServerEvent) => void;
}

/** Something that happened on the server. */
export type NbdServerEvent =
  | NbdConnectionEvent
  | {
      /** A listening socket failed after it was set up (e.g. out of file descriptors); it keeps listening. */
      readonly type: 'listener-error';
      readonly message: string;
    };

/** Where to listen: a unix socket path, or a TCP port (host default 127.0.0.1; port 0 picks a free one). */
export type NbdListenAddress = { readonly path: string } | { readonly host?: string; readonly port: number };

/** Where a server is listening. */
export type NbdBoundAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/** Serves block devices over NBD (fixed newstyle handshake, simple replies). */
export class NbdServer {
  private readonly exportsByName = new Map<string, NbdExport>();
  private readonly connections = new Set<NbdConnection>();
  private readonly listeners: Server[] = [];
  private readonly limits: ConnectionLimits;
  private readonly scheduler: SchedulerLike;
  private readonly onEvent: (event: NbdServerEvent) => void;
  private nextId = 1;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: NbdServerOptions = {}) {
    this.limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.onEvent = options.onEvent ?? (() => undefined);
  }

  /** The exports served, in the order they were added. */
  get exports(): readonly NbdExport[] {
    return [...this.exportsByName.values()];
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Adds an export; throws ERR_NBD_EXPORT for bad options and ERR_NBD_EXPORT_EXISTS for a taken name. */
  addExport(options: NbdExportOptions): NbdExport {
    this.checkOpen();
    const exp = createExport(options);
    if (this.exportsByName.has(exp.name)) {
      throw new NbdServerError('ERR_NBD_EXPORT_EXISTS', `an export named "${exp.name}" is already served`);
    }
    this.exportsByName.set(exp.name, exp);
    return exp;
  }

  /** The export with this name, if served. */
  getExport(name: string): NbdExport | undefined {
    return this.exportsByName.get(name);
  }

  /**
   * Stops serving an export. New clients can no longer choose it; connected ones finish their running requests
   * and are closed. Resolves once they are all closed.
   */
  async removeExport(name: string): Promise<void> {
    if (!this.exportsByName.delete(name)) {
      throw new NbdServerError('ERR_NBD_NO_EXPORT', `no export named "${name}" is served`);
    }
    const affected = [...this.connections].filter((connection) => connection.exportName === name);
    for (const connection of affected) connection.shutdown(`export "${name}" was removed`);
    await Promise.all(affected.map((connection) => connection.closed));
  }

  /** Starts listening; resolves with the bound address. Can be called more than once. */
  listen(address: NbdListenAddress): Promise<NbdBoundAddress> {
    this.checkOpen();
    // allowHalfOpen: a client that shuts down its side still gets the replies to what it already sent.
    const server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
      const remote = socket.remoteAddress === undefined ? 'unix' : `${socket.remoteAddress}:${socket.remotePort}`;
      this.accept(socket, remote);
    });
    this.listeners.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', (cause: Error) => {
        this.listeners.splice(this.listeners.indexOf(server), 1);
        const where = 'path' in address ? address.path : `${address.host ?? '127.0.0.1'}:${address.port}`;
        reject(new NbdServerError('ERR_NBD_LISTEN', `cannot listen on ${where}: ${cause.message}`, { cause }));
      });
      const onListening = (): void => {
        // From now on an error must not go unhandled (it would crash the process): report it instead.
        server.removeAllListeners('error');
        server.on('error', (err: Error) => {
          this.onEvent({ type: 'listener-error', message: err.message });
        });
        const bound = server.address();
        if (bound === null || typeof bound === 'string') {
          resolve({ kind: 'unix', path: typeof bound === 'string' ? bound : 'path' in address ? address.path : '' });
        } else {
          resolve({ kind: 'tcp', host: bound.address, port: bound.port });
        }
      };
      if ('path' in address) server.listen(address.path, onListening);
      else server.listen(address.port, address.host ?? '127.0.0.1', onListening);
    });
  }

  /** Serves a stream that is already connected (a socket from elsewhere, or one end of a pair in tests). */
  accept(stream: Duplex, remote = 'stream'): NbdConnection {
    const connection = new NbdConnection(this.nextId++, stream, {
      lookup: (name) => this.lookup(name),
      list: () => this.exports,
      shuttingDown: () => this.closing !== undefined,
      scheduler: this.scheduler,
      limits: this.limits,
      onEvent: this.onEvent,
    });
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
    if (this.closing !== undefined) {
      connection.start(remote);
      connection.shutdown('the server is shutting down');
    } else {
      connection.start(remote);
    }
    return connection;
  }

  /** Stops listening and closes every connection cleanly (running requests finish first). */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const stopped = this.listeners.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        }),
    );
    for (const connection of this.connections) connection.shutdown('the server is shutting down');
    await Promise.all([...[...this.connections].map((connection) => connection.closed), ...stopped]);
  }

  private lookup(name: string): NbdExport | undefined {
    const wanted = name === '' && this.options.defaultExport !== undefined ? this.options.defaultExport : name;
    return this.exportsByName.get(wanted);
  }

  private checkOpen(): void {
    if (this.closing !== undefined) throw new NbdServerError('ERR_NBD_CLOSED', 'the NBD server is closed');
  }
}
