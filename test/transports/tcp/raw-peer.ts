/**
 * A hand-driven iSCSI peer on a raw loopback socket: it writes whatever PDUs (or bytes) a test crafts, hostile ones
 * included, and decodes what the connection under test sends. Paired with a real TcpConnection of the other role.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { firstValueFrom } from 'rxjs';
import {
  decodePdu,
  encodePdu,
  NO_DIGESTS,
  PduFramer,
  type DigestOptions,
  type Pdu,
  type PduKind,
  type PduOf,
} from '../../../protocol/pdu/index.js';
import { TcpConnection, type TcpConnectionOptions } from '../../../transports/tcp/connection.js';
import { TcpConnector } from '../../../transports/tcp/connector.js';
import { TcpListener } from '../../../transports/tcp/listener.js';
import { WAIT_MS } from './support.js';

/** The raw side of a connection. */
export class RawPeer {
  private readonly framer = new PduFramer({ maxDataSegmentLength: 0xffffff });
  private readonly received: Pdu[] = [];
  private readonly waiters: (() => void)[] = [];
  private isEnded = false;
  /** Raw bytes received, for tests that look at the wire. */
  readonly bytes: Buffer[] = [];

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.bytes.push(chunk);
      for (const framed of this.framer.push(chunk)) {
        if (framed.type === 'pdu') this.received.push(decodePdu(framed.header, framed.data));
      }
      this.wake();
    });
    const end = (): void => {
      this.isEnded = true;
      this.wake();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  /** Digests expected on what the connection under test sends. */
  expectDigests(digests: DigestOptions): void {
    this.framer.setDigests(digests);
  }

  /** Writes PDUs, encoded with `digests`. */
  send(pdus: readonly Pdu[], digests: DigestOptions = NO_DIGESTS): void {
    this.sendBytes(Buffer.concat(pdus.flatMap((p) => encodePdu(p, digests))));
  }

  /** Writes raw bytes. */
  sendBytes(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** PDUs received and not yet taken. */
  get pending(): readonly Pdu[] {
    return this.received;
  }

  /** The next PDU received (bounded wait). */
  async next(): Promise<Pdu> {
    await this.until(() => this.received.length > 0 || this.isEnded, 'a PDU');
    const pdu = this.received.shift();
    if (pdu === undefined) throw new Error('the connection ended instead');
    return pdu;
  }

  /** The next PDU, which must be of `kind`. */
  async nextOf<K extends PduKind>(kind: K): Promise<PduOf<K>> {
    const pdu = await this.next();
    if (pdu.kind !== kind) throw new Error(`expected ${kind}, got ${pdu.kind}`);
    return pdu as PduOf<K>;
  }

  /** Resolves once the other side has closed the connection (bounded wait). */
  async ended(): Promise<void> {
    await this.until(() => this.isEnded, 'the connection to end');
  }

  /** Destroys the socket. */
  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until(ready: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** A raw target and the initiator TcpConnection connected to it. */
export interface RawTargetSetup {
  readonly initiator: TcpConnection;
  readonly raw: RawPeer;
  close(): Promise<void>;
}

/** Connects a TcpConnector (initiator) to a raw target on 127.0.0.1. */
export async function withRawTarget(options: Omit<TcpConnectionOptions, 'role'> = {}): Promise<RawTargetSetup> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const initiator = await new TcpConnector({ ...options, connectTimeoutMs: WAIT_MS }).connect({
    host: '127.0.0.1',
    port,
  });
  const raw = new RawPeer(await accepted);
  server.close();
  return {
    initiator,
    raw,
    async close() {
      raw.destroy();
      await initiator.close();
    },
  };
}

/** A raw initiator and the target TcpConnection it connected to. */
export interface RawInitiatorSetup {
  readonly target: TcpConnection;
  readonly raw: RawPeer;
  close(): Promise<void>;
}

/** Connects a raw initiator to a TcpListener (target) on 127.0.0.1. */
export async function withRawInitiator(options: Omit<TcpConnectionOptions, 'role'> = {}): Promise<RawInitiatorSetup> {
  const listener = await TcpListener.listen({ host: '127.0.0.1', port: 0 }, options);
  const accepted = firstValueFrom(listener.connections);
  const socket = connect({ host: '127.0.0.1', port: listener.address.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const target = await accepted;
  await listener.close();
  const raw = new RawPeer(socket);
  return {
    target,
    raw,
    async close() {
      raw.destroy();
      await target.close();
    },
  };
}
