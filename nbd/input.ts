/**
 * Sans-IO framing of what an NBD client sends: client flags, then options, then (once the connection enters
 * transmission) requests with their write payloads. Bytes go in with `push`; `next` returns one complete event
 * or undefined when more bytes are needed, so the caller decides when to switch phase and when to stop pulling
 * (backpressure). Every length is bounded: an oversized option or write payload is skipped without being held,
 * and one too large even to skip, or a wrong magic, ends the stream.
 */
import { ByteQueue } from './byte-queue.js';
import { Command, OPTION_HEADER_LENGTH, REQUEST_HEADER_LENGTH } from './constants.js';
import { NbdDecodeError } from './errors.js';
import { decodeClientFlags, decodeOptionHeader, decodeRequestHeader, type RequestHeader } from './wire.js';

/** One thing the client said. */
export type ClientEvent =
  | {
      readonly kind: 'client-flags';
      /** The 32 client flags. */
      readonly flags: number;
    }
  | {
      readonly kind: 'option';
      /** Option code. */
      readonly option: number;
      /** Option data (at most the parser's `maxOptionLength`). */
      readonly data: Buffer;
    }
  | {
      /** An option whose data was longer than `maxOptionLength`; the data was skipped. */
      readonly kind: 'option-too-big';
      readonly option: number;
      readonly length: number;
    }
  | {
      readonly kind: 'request';
      readonly header: RequestHeader;
      /** A write's payload as received (empty for other commands). */
      readonly payload: readonly Buffer[];
    }
  | {
      /** A write whose payload exceeded the maximum; the payload was skipped. */
      readonly kind: 'write-too-big';
      readonly header: RequestHeader;
    }
  | {
      /** The stream cannot be followed any more; nothing further is parsed. */
      readonly kind: 'fatal';
      readonly error: NbdDecodeError;
    };

/** Bounds of an {@link NbdInputParser}. */
export interface InputLimits {
  /** Longest option data held in memory (longer options are skipped and answered NBD_REP_ERR_TOO_BIG). */
  readonly maxOptionLength: number;
  /** Longest option or write payload skipped rather than treated as abuse (proto.md tolerates 2^25). */
  readonly maxSkip: number;
}

type Pending =
  | { readonly kind: 'option-data'; readonly option: number; readonly length: number }
  | { readonly kind: 'write-payload'; readonly header: RequestHeader }
  | { readonly kind: 'skip'; remaining: number; readonly then: ClientEvent };

/** Turns the client's byte stream into {@link ClientEvent}s. */
export class NbdInputParser {
  private readonly queue = new ByteQueue();
  private phase: 'client-flags' | 'options' | 'transmission' | 'failed' = 'client-flags';
  private pending: Pending | undefined;
  private maxPayload = 0;

  constructor(private readonly limits: InputLimits) {}

  /** Bytes received and not yet consumed (including a partly received option or payload). */
  get buffered(): number {
    return this.queue.length;
  }

  /** Appends bytes from the socket. */
  push(chunk: Buffer): void {
    if (this.phase !== 'failed') this.queue.push(chunk);
  }

  /** From now on, parse requests; write payloads up to `maxPayload` are collected, longer ones skipped. */
  startTransmission(maxPayload: number): void {
    this.phase = 'transmission';
    this.maxPayload = maxPayload;
  }

  /** The next complete event, or undefined when more bytes are needed (or after a fatal event). */
  next(): ClientEvent | undefined {
    const pending = this.pending;
    if (pending !== undefined) return this.continuePending(pending);
    switch (this.phase) {
      case 'failed':
        return undefined;
      case 'client-flags':
        if (this.queue.length < 4) return undefined;
        this.phase = 'options';
        return { kind: 'client-flags', flags: decodeClientFlags(this.queue.takeBuffer(4)) };
      case 'options':
        return this.nextOption();
      case 'transmission':
        return this.nextRequest();
    }
  }

  private continuePending(pending: Pending): ClientEvent | undefined {
    switch (pending.kind) {
      case 'skip':
        pending.remaining -= this.queue.skip(pending.remaining);
        if (pending.remaining > 0) return undefined;
        this.pending = undefined;
        return pending.then;
      case 'option-data':
        if (this.queue.length < pending.length) return undefined;
        this.pending = undefined;
        return { kind: 'option', option: pending.option, data: Buffer.from(this.queue.takeBuffer(pending.length)) };
      case 'write-payload':
        if (this.queue.length < pending.header.length) return undefined;
        this.pending = undefined;
        return { kind: 'request', header: pending.header, payload: this.queue.take(pending.header.length) };
    }
  }

  private nextOption(): ClientEvent | undefined {
    if (this.queue.length < OPTION_HEADER_LENGTH) return undefined;
    const header = this.decode(() => decodeOptionHeader(this.queue.takeBuffer(OPTION_HEADER_LENGTH)));
    if ('kind' in header) return header;
    const { option, length } = header;
    if (length <= this.limits.maxOptionLength) {
      this.pending = { kind: 'option-data', option, length };
    } else if (length <= this.limits.maxSkip) {
      this.pending = { kind: 'skip', remaining: length, then: { kind: 'option-too-big', option, length } };
    } else {
      return this.fail('ERR_NBD_LENGTH', `option ${option} carries ${length} bytes of data`);
    }
    return this.next();
  }

  private nextRequest(): ClientEvent | undefined {
    if (this.queue.length < REQUEST_HEADER_LENGTH) return undefined;
    const header = this.decode(() => decodeRequestHeader(this.queue.takeBuffer(REQUEST_HEADER_LENGTH)));
    if ('kind' in header) return header;
    if (header.type !== Command.WRITE || header.length === 0) return { kind: 'request', header, payload: [] };
    if (header.length <= this.maxPayload) {
      this.pending = { kind: 'write-payload', header };
    } else if (header.length <= Math.max(this.limits.maxSkip, this.maxPayload)) {
      this.pending = { kind: 'skip', remaining: header.length, then: { kind: 'write-too-big', header } };
    } else {
      return this.fail('ERR_NBD_LENGTH', `write payload of ${header.length} bytes`);
    }
    return this.next();
  }

  private decode<T extends object>(decode: () => T): T | ClientEvent {
    try {
      return decode();
    } catch (err) {
      if (err instanceof NbdDecodeError) return this.fail(err.code, err.message);
      throw err;
    }
  }

  private fail(code: NbdDecodeError['code'], message: string): ClientEvent {
    this.phase = 'failed';
    this.pending = undefined;
    this.queue.skip(this.queue.length);
    return { kind: 'fatal', error: new NbdDecodeError(code, message) };
  }
}
