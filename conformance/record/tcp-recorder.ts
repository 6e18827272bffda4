/**
 * A recording TCP proxy on 127.0.0.1 in front of a TCP portal: the suite's initiator connects to it, it forwards to
 * the target and keeps the bytes of each direction (bounded), stamped with the scheduler's time, for the run in
 * progress. After the run, `wire-decode.ts` turns them into PDUs (Data-In, R2T and Data-Out included) and
 * `pcap.ts` into a pcapng file. It can also cut every live connection (a connection drop).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { SchedulerLike } from 'rxjs';
import type { PortalAddress } from '../../protocol/datamover.js';
import { ConformanceError } from '../errors.js';

/** One chunk of bytes as it passed. */
export interface RecordedChunk {
  readonly direction: 'out' | 'in';
  readonly timeMs: number;
  readonly bytes: Buffer;
}

/** One proxied connection's recording. */
export interface TcpRecording {
  /** 1-based, in order of acceptance within the recording window. */
  readonly number: number;
  readonly client: PortalAddress;
  readonly chunks: RecordedChunk[];
  /** True when the byte bound stopped the recording early. */
  truncated: boolean;
}

/** Default bound on bytes kept per recording window. */
export const DEFAULT_RECORD_BYTES = 64 << 20;

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** The proxy. */
export class RecordingTcpProxy {
  readonly #server: Server;
  readonly #upstream: PortalAddress;
  readonly #scheduler: SchedulerLike;
  readonly #limit: number;
  readonly #pairs = new Set<Pair>();
  #recordings: TcpRecording[] = [];
  #recordedBytes = 0;
  /** Where the initiator connects. */
  readonly address: PortalAddress;

  private constructor(server: Server, upstream: PortalAddress, scheduler: SchedulerLike, limit: number) {
    this.#server = server;
    this.#upstream = upstream;
    this.#scheduler = scheduler;
    this.#limit = limit;
    const bound = server.address();
    if (bound === null || typeof bound === 'string') {
      throw new ConformanceError('ERR_CONFORMANCE_TARGET', 'the recording proxy has no TCP address');
    }
    this.address = { host: '127.0.0.1', port: bound.port };
    server.on('connection', (client) => {
      this.#accept(client);
    });
  }

  /** Listens on 127.0.0.1 (a free port) and forwards to `upstream`. */
  static async start(
    upstream: PortalAddress,
    scheduler: SchedulerLike,
    limit = DEFAULT_RECORD_BYTES,
  ): Promise<RecordingTcpProxy> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new RecordingTcpProxy(server, upstream, scheduler, limit);
  }

  /** Starts a new recording window (forgets the previous one). */
  begin(): void {
    this.#recordings = [];
    this.#recordedBytes = 0;
  }

  /** The window's recordings, in order of acceptance. */
  get recordings(): readonly TcpRecording[] {
    return this.#recordings;
  }

  /** Cuts every live connection (both sockets reset); returns how many. */
  cut(): number {
    const pairs = [...this.#pairs];
    for (const pair of pairs) {
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
    this.#pairs.clear();
    return pairs.length;
  }

  /** Stops listening and cuts what is left. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  #accept(client: Socket): void {
    client.setNoDelay(true);
    const recording: TcpRecording = {
      number: this.#recordings.length + 1,
      client: { host: client.remoteAddress ?? '', port: client.remotePort ?? 0 },
      chunks: [],
      truncated: false,
    };
    const window = this.#recordings;
    window.push(recording);
    const upstream = connect({ host: this.#upstream.host, port: this.#upstream.port });
    upstream.setNoDelay(true);
    const pair: Pair = { client, upstream };
    this.#pairs.add(pair);
    const keep = (direction: 'out' | 'in', bytes: Buffer): void => {
      if (window !== this.#recordings) return;
      if (this.#recordedBytes + bytes.length > this.#limit) {
        recording.truncated = true;
        return;
      }
      this.#recordedBytes += bytes.length;
      recording.chunks.push({ direction, timeMs: this.#scheduler.now(), bytes: Buffer.from(bytes) });
    };
    client.on('data', (bytes: Buffer) => {
      keep('out', bytes);
      upstream.write(bytes);
    });
    upstream.on('data', (bytes: Buffer) => {
      keep('in', bytes);
      client.write(bytes);
    });
    const end = (): void => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  }
}
