/**
 * A minimal NBD client for tests, built on the same wire codecs: it sends exactly what a test scripts and reads
 * replies with bounded waits, so a test can also misbehave on purpose.
 */
import { connect, type Socket } from 'node:net';
import { ClientFlag, Option, Reply } from '../../nbd/constants.js';
import {
  decodeGreeting,
  decodeInfo,
  decodeOptionReplyHeader,
  decodeSimpleReplyHeader,
  encodeClientFlags,
  encodeInfoRequest,
  encodeOption,
  encodeRequestHeader,
  type NbdInfo,
  type RequestHeader,
} from '../../nbd/wire.js';

/** Reads exact byte counts from a socket, failing after `timeoutMs` or when the socket ends first. */
export class SocketReader {
  private buffered = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;

  constructor(
    readonly socket: Socket,
    private readonly timeoutMs = 5000,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake?.();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true;
        this.wake?.();
        resolve();
      });
    });
  }

  /** Reads exactly `n` bytes. */
  async read(n: number): Promise<Buffer> {
    const deadline = setTimeout(() => this.wake?.(), this.timeoutMs);
    const started = Date.now();
    try {
      while (this.buffered.length < n) {
        if (this.ended) throw new Error(`socket closed with ${this.buffered.length} of ${n} bytes read`);
        if (Date.now() - started >= this.timeoutMs) throw new Error(`timed out waiting for ${n} bytes`);
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      clearTimeout(deadline);
      this.wake = undefined;
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  /** True when the peer has closed and every byte was read. */
  get atEnd(): boolean {
    return this.ended && this.buffered.length === 0;
  }

  /** Waits (bounded) for the socket to close. */
  async waitClosed(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(new Error('socket did not close in time'));
        }, this.timeoutMs);
      }),
    ]).finally(() => {
      clearTimeout(timer);
    });
  }
}

/** Opens a unix socket (bounded wait). */
export function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect timed out'));
    }, 5000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** An option reply as received. */
export interface ReceivedOptionReply {
  readonly option: number;
  readonly type: number;
  readonly data: Buffer;
}

/** A simple reply as received. */
export interface ReceivedReply {
  readonly error: number;
  readonly handle: bigint;
  readonly data: Buffer;
}

/** Scripted NBD client over one socket. */
export class ScriptedClient {
  /** Handles of reads in flight and their lengths: a successful reply to them carries data. */
  private readonly reads = new Map<bigint, number>();

  private constructor(
    readonly reader: SocketReader,
    /** Handshake flags the server sent. */
    readonly serverFlags: number,
  ) {}

  /** Connects, reads the greeting and sends the client flags. */
  static async connect(
    path: string,
    clientFlags: number = ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES,
  ): Promise<ScriptedClient> {
    const reader = new SocketReader(await connectUnix(path));
    const serverFlags = decodeGreeting(await reader.read(18));
    reader.socket.write(encodeClientFlags(clientFlags));
    return new ScriptedClient(reader, serverFlags);
  }

  /** The socket. */
  get socket(): Socket {
    return this.reader.socket;
  }

  /** Sends one option. */
  sendOption(option: number, data: Buffer = Buffer.alloc(0)): void {
    this.socket.write(encodeOption(option, data));
  }

  /** Reads one option reply. */
  async readOptionReply(): Promise<ReceivedOptionReply> {
    const header = decodeOptionReplyHeader(await this.reader.read(20));
    return { option: header.option, type: header.type, data: await this.reader.read(header.length) };
  }

  /** Sends INFO or GO and reads replies up to the final one. */
  async info(
    option: number,
    name: string,
    requests: readonly number[],
  ): Promise<{ infos: NbdInfo[]; final: ReceivedOptionReply }> {
    this.sendOption(option, encodeInfoRequest({ name, requests }));
    const infos: NbdInfo[] = [];
    for (let i = 0; i < 16; i++) {
      const reply = await this.readOptionReply();
      if (reply.type !== Reply.INFO) return { infos, final: reply };
      infos.push(decodeInfo(reply.data));
    }
    throw new Error('too many NBD_REP_INFO replies');
  }

  /** NBD_OPT_GO that must succeed. */
  async go(name: string, requests: readonly number[] = [3]): Promise<NbdInfo[]> {
    const { infos, final } = await this.info(Option.GO, name, requests);
    if (final.type !== Reply.ACK) throw new Error(`GO failed with reply type 0x${final.type.toString(16)}`);
    return infos;
  }

  /** Sends a request (and a write's payload). */
  send(header: RequestHeader, payload?: Buffer): void {
    if (header.type === 0) this.reads.set(header.handle, header.length);
    this.socket.write(
      payload === undefined ? encodeRequestHeader(header) : Buffer.concat([encodeRequestHeader(header), payload]),
    );
  }

  /** Reads the next simple reply (with data if it answers a successful read). */
  async reply(): Promise<ReceivedReply> {
    const header = decodeSimpleReplyHeader(await this.reader.read(16));
    const readLength = this.reads.get(header.handle);
    this.reads.delete(header.handle);
    const data = header.error === 0 && readLength !== undefined ? await this.reader.read(readLength) : Buffer.alloc(0);
    return { error: header.error, handle: header.handle, data };
  }

  /** Sends a request and reads the reply, which must be for the same handle. */
  async call(header: RequestHeader, payload?: Buffer): Promise<ReceivedReply> {
    this.send(header, payload);
    const reply = await this.reply();
    if (reply.handle !== header.handle) throw new Error(`reply for handle ${reply.handle}, expected ${header.handle}`);
    return reply;
  }
}
