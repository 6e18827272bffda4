/**
 * `--pcap` for iSCSI over TCP: each connection goes through a one-shot relay on 127.0.0.1 that copies the bytes both
 * ways and records them as a TCP conversation between our real local address and the portal (sim/trace's TCP
 * synthesizer: handshake, MSS segments, ACKs, FIN), which Wireshark dissects as iSCSI. The upstream connection is
 * made first, so an unreachable portal fails exactly as without --pcap. Timestamps are wall-clock.
 *
 * The relay adds a hop: figures measured with --pcap are not comparable with figures without.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { DatamoverConnector, PortalAddress } from '../../protocol/datamover.js';
import { TcpStreamSynth, type TcpDirection } from '../../sim/trace/tcp-stream.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { TcpTransportError } from '../../transports/tcp/errors.js';
import type { TcpConnection } from '../../transports/tcp/connection.js';
import type { PcapngFile } from './pcapng-file.js';

/** Wall-clock milliseconds since the epoch, with sub-millisecond precision. */
const wallMs = (): number => performance.timeOrigin + performance.now();

function connectUpstream(portal: PortalAddress, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: portal.host, port: portal.port, noDelay: true });
    const where = `${portal.host}:${portal.port}`;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TcpTransportError('ERR_TCP_CONNECT_TIMEOUT', `connect to ${where} took over ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      const code = err.code === 'ECONNREFUSED' ? 'ERR_TCP_CONNECT_REFUSED' : 'ERR_TCP_CONNECT_FAILED';
      reject(new TcpTransportError(code, `connect to ${where} failed: ${err.message}`, { cause: err }));
    });
  });
}

function listenOnce(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ noDelay: true });
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve(server);
    });
  });
}

/** Copies bytes between the initiator's socket and the portal's, recording them. */
function relay(inner: Socket, upstream: Socket, file: PcapngFile): void {
  file.notePort(upstream.remotePort ?? 3260);
  const synth = new TcpStreamSynth({
    a: { ip: upstream.localAddress ?? '127.0.0.1', port: upstream.localPort ?? 0 },
    b: { ip: upstream.remoteAddress ?? '127.0.0.1', port: upstream.remotePort ?? 3260 },
  });
  file.write(synth.open(wallMs()));
  let closed = false;
  const record = (direction: TcpDirection, chunk: Buffer): void => {
    if (!closed) file.write(synth.send(direction, chunk, wallMs()));
  };
  const finish = (direction: TcpDirection): void => {
    if (closed) return;
    closed = true;
    file.write(synth.close(wallMs(), direction));
    inner.destroy();
    upstream.destroy();
  };
  inner.on('data', (chunk: Buffer) => {
    record('a->b', chunk);
    if (!upstream.write(chunk)) inner.pause();
  });
  upstream.on('drain', () => inner.resume());
  upstream.on('data', (chunk: Buffer) => {
    record('b->a', chunk);
    if (!inner.write(chunk)) upstream.pause();
  });
  inner.on('drain', () => upstream.resume());
  inner.on('close', () => {
    finish('a->b');
  });
  upstream.on('close', () => {
    finish('b->a');
  });
  inner.on('error', () => undefined);
  upstream.on('error', () => undefined);
}

/** A TCP connector whose connections are captured into `file`. */
export class CapturingTcpConnector implements DatamoverConnector {
  readonly kind = 'tcp' as const;
  readonly #inner: TcpConnector;

  constructor(
    private readonly file: PcapngFile,
    private readonly connectTimeoutMs: number,
  ) {
    this.#inner = new TcpConnector({ connectTimeoutMs });
  }

  async connect(portal: PortalAddress): Promise<TcpConnection> {
    const upstream = await connectUpstream(portal, this.connectTimeoutMs);
    let server: Server;
    try {
      server = await listenOnce();
    } catch (err) {
      upstream.destroy();
      throw err;
    }
    const accepted = new Promise<Socket>((resolve) => {
      server.once('connection', resolve);
    });
    try {
      const { port } = server.address() as AddressInfo;
      const connection = await this.#inner.connect({ host: '127.0.0.1', port });
      relay(await accepted, upstream, this.file);
      return connection;
    } catch (err) {
      upstream.destroy();
      throw err;
    } finally {
      server.close();
    }
  }
}
