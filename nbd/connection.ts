/**
 * One client connection: wires a byte stream (a `net.Socket`, or any Duplex) to the pure pieces: the input parser,
 * the handshake answers and the request checks, and runs commands against the export's device. Several requests
 * run at once and each is answered as it completes; input stops being read while too many requests or bytes are
 * outstanding, so memory per connection stays bounded. Timers come from the injected scheduler.
 */
import type { Duplex } from 'node:stream';
import type { SchedulerLike, Subscription } from 'rxjs';
import { NbdErrno } from './constants.js';
import { BlockDeviceError, nbdErrnoOf } from './errors.js';
import type { NbdExport } from './export.js';
import {
  answerOption,
  answerOversizedOption,
  checkClientFlags,
  type HandshakeStep,
  type SelectedExport,
  SERVER_HANDSHAKE_FLAGS,
} from './handshake.js';
import { type ClientEvent, NbdInputParser } from './input.js';
import { checkRequest, type RequestVerdict } from './requests.js';
import { encodeGreeting, encodeSimpleReplyHeader, type RequestHeader } from './wire.js';
import { writeZeroBuffers } from './zero-fill.js';

/** Bounds on one connection (see `DEFAULT_CONNECTION_LIMITS`). */
export interface ConnectionLimits {
  /** Longest option data held in memory. */
  readonly maxOptionLength: number;
  /** Longest option or write payload skipped rather than treated as abuse. */
  readonly maxSkip: number;
  /** Most options in one handshake. */
  readonly maxOptions: number;
  /** Most requests running at once. */
  readonly maxInFlight: number;
  /** Most bytes held for running requests, or queued for the client to read, before input pauses. */
  readonly maxBufferedBytes: number;
  /** Time allowed from connect to the end of the handshake. */
  readonly handshakeTimeoutMs: number;
  /** Time allowed for the client to close after the server ended the connection, or for in-flight requests to finish. */
  readonly closeTimeoutMs: number;
}

/** The bounds used unless a server is told otherwise. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxOptionLength: 16 * 1024,
  maxSkip: 32 * 1024 * 1024,
  maxOptions: 10_000,
  maxInFlight: 64,
  maxBufferedBytes: 64 * 1024 * 1024,
  handshakeTimeoutMs: 30_000,
  closeTimeoutMs: 10_000,
};

/** Something that happened on a connection, for logs and metrics. */
export type NbdConnectionEvent =
  | { readonly type: 'connect'; readonly connection: number; readonly remote: string }
  | {
      readonly type: 'select';
      readonly connection: number;
      readonly export: string;
      /** True when the client asked for NBD_INFO_BLOCK_SIZE, promising to honour the constraints. */
      readonly blockSizesAcknowledged: boolean;
    }
  | { readonly type: 'protocol-error'; readonly connection: number; readonly message: string }
  | {
      readonly type: 'device-error';
      readonly connection: number;
      readonly export: string;
      readonly errno: NbdErrno;
      readonly error: unknown;
    }
  | { readonly type: 'close'; readonly connection: number; readonly reason: string };

/** What a connection needs from its server. */
export interface ConnectionHost {
  /** The export a name selects, or undefined. */
  readonly lookup: (name: string) => NbdExport | undefined;
  /** Every export. */
  readonly list: () => readonly NbdExport[];
  /** True once the server is closing. */
  readonly shuttingDown: () => boolean;
  /** Source of timers. */
  readonly scheduler: SchedulerLike;
  /** Bounds. */
  readonly limits: ConnectionLimits;
  /** Receives events. */
  readonly onEvent: (event: NbdConnectionEvent) => void;
}

type State = 'handshake' | 'transmission' | 'draining' | 'ending' | 'closed';

/** Serves one client. */
export class NbdConnection {
  /** Resolves once the stream has closed. */
  readonly closed: Promise<void>;
  private state: State = 'handshake';
  private readonly parser: NbdInputParser;
  private noZeroes = false;
  private options = 0;
  private selected: SelectedExport | undefined;
  private shuttingDown = false;
  private inFlight = 0;
  private bufferedBytes = 0;
  private pumping = false;
  private timer: Subscription | undefined;
  private reason = 'client closed the connection';
  private resolveClosed!: () => void;

  constructor(
    /** Number identifying this connection in events. */
    readonly id: number,
    private readonly socket: Duplex,
    private readonly host: ConnectionHost,
  ) {
    this.parser = new NbdInputParser(host.limits);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** The export this connection is using, once the handshake chose one. */
  get exportName(): string | undefined {
    return this.selected?.export.name;
  }

  /** Sends the greeting and starts reading. */
  start(remote: string): void {
    this.host.onEvent({ type: 'connect', connection: this.id, remote });
    this.socket.on('data', (chunk: Buffer) => {
      this.onData(chunk);
    });
    this.socket.on('end', () => {
      this.onEnd();
    });
    this.socket.on('drain', () => {
      this.pump();
    });
    this.socket.on('error', (err: Error) => {
      // Once we are ending, the reason is already known (a client that aborts may close before reading our ACK).
      if (this.state !== 'ending') this.reason = `socket error: ${err.message}`;
    });
    this.socket.on('close', () => {
      this.onClose();
    });
    this.arm(this.host.limits.handshakeTimeoutMs, () => {
      this.protocolError('handshake timed out');
      this.end('handshake timed out');
    });
    this.send([encodeGreeting(SERVER_HANDSHAKE_FLAGS)]);
  }

  /**
   * Ends the connection cleanly: a connection still in the handshake is closed; one in transmission answers any
   * new request ESHUTDOWN, finishes the requests already running, then closes.
   */
  shutdown(reason: string): void {
    if (this.state === 'handshake') {
      this.end(reason);
    } else if (this.state === 'transmission' || this.state === 'draining') {
      this.shuttingDown = true;
      this.reason = reason;
      if (this.inFlight === 0) this.end(reason);
      else this.armDrainTimeout();
    }
  }

  /** Closes the stream at once, dropping anything in flight. */
  destroy(reason: string): void {
    if (this.state !== 'closed') this.reason = reason;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.state !== 'handshake' && this.state !== 'transmission') return;
    this.parser.push(chunk);
    this.pump();
  }

  private onEnd(): void {
    // The client will send nothing more: finish what is running, then close our side too.
    if (this.state === 'handshake') this.end('client closed during the handshake');
    else if (this.state === 'transmission') this.drain('client closed its side');
  }

  private onClose(): void {
    this.state = 'closed';
    this.cancelTimer();
    this.host.onEvent({ type: 'close', connection: this.id, reason: this.reason });
    this.resolveClosed();
  }

  private canAccept(): boolean {
    if (this.socket.writableLength >= this.host.limits.maxBufferedBytes) return false;
    if (this.state !== 'transmission') return this.state === 'handshake';
    return this.inFlight < this.host.limits.maxInFlight && this.bufferedBytes < this.host.limits.maxBufferedBytes;
  }

  /** Handles every complete event the parser has while limits allow, then pauses or resumes the socket. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.canAccept()) {
        const event = this.parser.next();
        if (event === undefined) break;
        this.handle(event);
      }
    } finally {
      this.pumping = false;
    }
    if (this.state === 'handshake' || this.state === 'transmission') {
      if (this.canAccept()) this.socket.resume();
      else this.socket.pause();
    }
  }

  private handle(event: ClientEvent): void {
    switch (event.kind) {
      case 'client-flags': {
        const checked = checkClientFlags(event.flags);
        if ('close' in checked) {
          this.protocolError(checked.close);
          this.end(checked.close);
        } else {
          this.noZeroes = checked.noZeroes;
        }
        return;
      }
      case 'option':
      case 'option-too-big':
        if (++this.options > this.host.limits.maxOptions) {
          this.protocolError('too many options');
          this.end('too many options');
          return;
        }
        this.step(
          event.kind === 'option'
            ? answerOption(event.option, event.data, {
                lookup: this.host.lookup,
                list: this.host.list,
                shuttingDown: this.host.shuttingDown(),
                noZeroes: this.noZeroes,
              })
            : answerOversizedOption(event.option, event.length),
        );
        return;
      case 'request':
        this.request(event.header, event.payload);
        return;
      case 'write-too-big':
        this.reply(event.header.handle, NbdErrno.EINVAL);
        return;
      case 'fatal':
        this.protocolError(event.error.message);
        if (this.state === 'handshake') this.end(event.error.message);
        else this.drain(event.error.message);
        return;
    }
  }

  private step(step: HandshakeStep): void {
    this.send(step.send);
    const next = step.next;
    if (next.kind === 'close') {
      this.end(next.reason);
    } else if (next.kind === 'transmission') {
      this.cancelTimer();
      this.selected = next.selected;
      this.state = 'transmission';
      this.parser.startTransmission(next.selected.view.blockSizes.maximum);
      this.host.onEvent({
        type: 'select',
        connection: this.id,
        export: next.selected.export.name,
        blockSizesAcknowledged: next.selected.blockSizesAcknowledged,
      });
    }
  }

  private request(header: RequestHeader, payload: readonly Buffer[]): void {
    const selected = this.selected;
    if (selected === undefined) return;
    const verdict = checkRequest(header, selected.view, this.shuttingDown);
    switch (verdict.kind) {
      case 'disconnect':
        this.drain('client sent NBD_CMD_DISC');
        return;
      case 'error':
        this.reply(header.handle, verdict.errno);
        return;
      case 'empty':
        this.reply(header.handle, NbdErrno.OK);
        return;
      default:
        void this.run(header.handle, verdict, payload, selected.export);
    }
  }

  /** Runs one command on the device and answers it when it completes. */
  private async run(
    handle: bigint,
    verdict: RequestVerdict,
    payload: readonly Buffer[],
    exp: NbdExport,
  ): Promise<void> {
    const bytes = verdict.kind === 'read' || verdict.kind === 'write' ? verdict.length : 0;
    this.inFlight++;
    this.bufferedBytes += bytes;
    const device = exp.device;
    try {
      switch (verdict.kind) {
        case 'read': {
          const chunks = await device.read(verdict.offset, verdict.length);
          const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
          // A short or long read must not reach the wire: the client would lose track of the stream.
          if (total !== verdict.length) {
            throw new BlockDeviceError(`device returned ${total} bytes for a ${verdict.length}-byte read`);
          }
          this.reply(handle, NbdErrno.OK, chunks);
          break;
        }
        case 'write':
          await device.write(verdict.offset, payload, { fua: verdict.fua });
          this.reply(handle, NbdErrno.OK);
          break;
        case 'flush':
          await device.flush();
          this.reply(handle, NbdErrno.OK);
          break;
        case 'trim':
          await device.trim(verdict.offset, verdict.length);
          if (verdict.fua) await device.flush();
          this.reply(handle, NbdErrno.OK);
          break;
        case 'write-zeroes':
          await writeZeroes(exp, verdict.offset, verdict.length, verdict.fua, verdict.noHole);
          this.reply(handle, NbdErrno.OK);
          break;
        default:
          this.reply(handle, NbdErrno.EINVAL);
      }
    } catch (error) {
      const mapped = nbdErrnoOf(error);
      // A failure must never read as success.
      const errno = mapped === NbdErrno.OK ? NbdErrno.EIO : mapped;
      this.host.onEvent({ type: 'device-error', connection: this.id, export: exp.name, errno, error });
      this.reply(handle, errno);
    } finally {
      this.inFlight--;
      this.bufferedBytes -= bytes;
      if (this.inFlight === 0 && (this.state === 'draining' || this.shuttingDown)) this.end(this.reason);
      else this.pump();
    }
  }

  private reply(handle: bigint, error: NbdErrno, data: readonly Buffer[] = []): void {
    this.send([encodeSimpleReplyHeader({ error, handle }), ...data]);
  }

  private send(buffers: readonly Buffer[]): void {
    if (buffers.length === 0 || !this.socket.writable) return;
    this.socket.cork();
    for (const buffer of buffers) this.socket.write(buffer);
    this.socket.uncork();
  }

  /** Stops reading; closes once the requests already running have been answered. */
  private drain(reason: string): void {
    if (this.state !== 'transmission') return;
    this.state = 'draining';
    this.reason = reason;
    this.socket.pause();
    if (this.inFlight === 0) this.end(reason);
    else this.armDrainTimeout();
  }

  /** Ends our side of the stream (after what was sent), and destroys it if the client does not close in time. */
  private end(reason: string): void {
    if (this.state === 'ending' || this.state === 'closed') return;
    this.state = 'ending';
    this.reason = reason;
    // Keep reading (and discarding) so the client's own end of stream is seen and the socket can close.
    this.socket.resume();
    this.socket.end();
    this.arm(this.host.limits.closeTimeoutMs, () => {
      this.socket.destroy();
    });
  }

  private armDrainTimeout(): void {
    this.arm(this.host.limits.closeTimeoutMs, () => {
      this.reason = `${this.reason}; requests still running after ${this.host.limits.closeTimeoutMs} ms`;
      this.socket.destroy();
    });
  }

  private protocolError(message: string): void {
    this.host.onEvent({ type: 'protocol-error', connection: this.id, message });
  }

  private arm(delayMs: number, work: () => void): void {
    this.cancelTimer();
    this.timer = this.host.scheduler.schedule(work, delayMs);
  }

  private cancelTimer(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
  }
}

/** NBD_CMD_WRITE_ZEROES: the device's own writeZeroes, else zero buffers. */
async function writeZeroes(
  exp: NbdExport,
  offset: number,
  length: number,
  fua: boolean,
  noHole: boolean,
): Promise<void> {
  const device = exp.device;
  if (device.writeZeroes !== undefined) await device.writeZeroes(offset, length, { fua, noHole });
  else await writeZeroBuffers(device, offset, length, fua);
}
