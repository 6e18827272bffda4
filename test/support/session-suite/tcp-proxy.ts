/**
 * A tiny TCP proxy on 127.0.0.1 that a test can cut: every accepted connection is relayed to one upstream portal,
 * `cut()` resets every live pair at once (both sockets get an RST, as when a cable or a host dies), and the bytes of
 * the connections made during a `capture()` are recorded (bounded) so a test can decode what really crossed the wire.
 *
 * It is transport-blind: it moves bytes and never parses them, so what it records is independent evidence.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { PortalAddress } from '../../../protocol/datamover.js';
import { assertLoopback, LOOPBACK } from '../peers/free-port.js';

/** The bytes one relayed connection carried, each direction up to the recording bound. */
export interface ProxyRecording {
  /** Initiator → target. */
  readonly toTarget: Buffer;
  /** Target → initiator. */
  readonly toInitiator: Buffer;
  /** True when a direction carried more than was kept. */
  readonly truncated: boolean;
}

/** One direction's bounded recording. */
class Tape {
  readonly chunks: Buffer[] = [];
  kept = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    const room = this.limit - this.kept;
    if (room <= 0) {
      if (chunk.length > 0) this.truncated = true;
      return;
    }
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    if (part.length < chunk.length) this.truncated = true;
    // The chunk is handed on to the other socket: keep a copy of our own.
    this.chunks.push(Buffer.from(part));
    this.kept += part.length;
  }
}

/** Connections recorded while a capture was on. */
export interface ProxyCapture {
  /** What each captured connection carried so far, in accept order. */
  recordings(): ProxyRecording[];
  /** Stops capturing new connections (those captured go on recording up to the bound). */
  stop(): void;
}

/** One relayed connection. */
class Pair {
  readonly toTarget: Tape;
  readonly toInitiator: Tape;

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    recordBytes: number,
  ) {
    this.toTarget = new Tape(recordBytes);
    this.toInitiator = new Tape(recordBytes);
  }

  reset(): void {
    for (const socket of [this.client, this.upstream]) {
      if (!socket.destroyed) socket.resetAndDestroy();
    }
  }
}

/** A cuttable loopback TCP relay to one upstream portal. */
export class TcpProxy {
  readonly #server: Server;
  readonly #live = new Set<Pair>();
  readonly #captures = new Set<{ readonly bytes: number; readonly pairs: Pair[] }>();
  #accepted = 0;
  #cuts = 0;

  private constructor(
    server: Server,
    /** Where initiators connect. */
    readonly address: PortalAddress,
    /** Where the proxy relays to. */
    readonly upstream: PortalAddress,
  ) {
    this.#server = server;
    server.on('connection', (client: Socket) => {
      this.#relay(client);
    });
  }

  /** Listens on a free loopback port and relays every connection to `upstream` (a loopback portal). */
  static async start(upstream: PortalAddress): Promise<TcpProxy> {
    assertLoopback(upstream.host);
    const server = createServer({ noDelay: true, pauseOnConnect: true });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: LOOPBACK, port: 0 }, () => {
        server.removeListener('error', reject);
        const bound = server.address();
        const port = typeof bound === 'object' && bound !== null ? bound.port : 0;
        resolve(new TcpProxy(server, { host: LOOPBACK, port }, upstream));
      });
    });
  }

  /** Connections relayed now. */
  get liveConnections(): number {
    return this.#live.size;
  }

  /** Connections accepted since start. */
  get acceptedConnections(): number {
    return this.#accepted;
  }

  /** How many times {@link cut} reset at least one connection. */
  get cuts(): number {
    return this.#cuts;
  }

  /** Resets every live connection (RST both ways). Returns how many were cut. */
  cut(): number {
    const pairs = [...this.#live];
    for (const pair of pairs) pair.reset();
    this.#live.clear();
    if (pairs.length > 0) this.#cuts += 1;
    return pairs.length;
  }

  /** Records the connections accepted from now until `stop()`, each direction up to `bytes`. */
  capture(bytes: number): ProxyCapture {
    const capture = { bytes, pairs: [] as Pair[] };
    this.#captures.add(capture);
    return {
      recordings: () =>
        capture.pairs.map((pair) => ({
          toTarget: Buffer.concat(pair.toTarget.chunks),
          toInitiator: Buffer.concat(pair.toInitiator.chunks),
          truncated: pair.toTarget.truncated || pair.toInitiator.truncated,
        })),
      stop: () => {
        this.#captures.delete(capture);
      },
    };
  }

  /** Cuts what is live and stops listening. */
  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  #relay(client: Socket): void {
    const upstream = createConnection({ host: this.upstream.host, port: this.upstream.port, noDelay: true });
    const captures = [...this.#captures];
    const recordBytes = Math.max(0, ...captures.map((c) => c.bytes));
    const pair = new Pair(client, upstream, recordBytes);
    for (const capture of captures) capture.pairs.push(pair);
    this.#live.add(pair);
    this.#accepted += 1;
    const end = (): void => {
      this.#live.delete(pair);
    };
    // An error or reset on one side resets the other: a dead connection stays dead on both ends.
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      socket.on('error', () => {
        if (!other.destroyed) other.resetAndDestroy();
        end();
      });
      socket.on('close', end);
    }
    const record = recordBytes > 0;
    const pump = (from: Socket, to: Socket, tape: Tape): void => {
      from.on('data', (chunk: Buffer) => {
        if (record) tape.add(chunk);
        // Back-pressure: stop reading while the other side's buffer is full.
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      // A FIN is relayed as a FIN.
      from.on('end', () => {
        if (!to.destroyed) to.end();
      });
    };
    upstream.once('connect', () => {
      pump(client, upstream, pair.toTarget);
      pump(upstream, client, pair.toInitiator);
      client.resume();
    });
  }
}
