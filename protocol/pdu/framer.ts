/**
 * A sans-IO byte-stream framer for iSCSI over TCP: push bytes as they arrive, get whole PDUs back (header and data
 * as views of the pushed chunks, padding and digests stripped and verified).
 *
 * Bounds: a header is at most 48 + 1020 + 4 bytes; a DataSegmentLength above `maxDataSegmentLength` is refused as
 * soon as its header is in, before any of the data is buffered; and the framer never holds more than
 * `maxBufferedBytes`. When not paused it holds at most one partial PDU.
 *
 * Errors: a header digest mismatch, an oversized PDU or a malformed AHS length is fatal (the stream cannot be
 * resynchronised) and `push` throws a {@link FramerError}, which also carries the PDUs completed before it in that
 * call. A data digest mismatch is not fatal: it comes back as a `data-digest-error` entry with the PDU's header,
 * so a target can answer with a Reject (reason "data digest error") and go on.
 *
 * Digests and the data segment bound change after login; `pauseAfter` stops framing after a chosen PDU (e.g.
 * the last Login Response) so new settings apply exactly from the next one, then {@link PduFramer.resume}.
 */
import { peekBhs } from './bhs.js';
import {
  BHS_LENGTH,
  DEFAULT_MAX_RECV_DATA_SEGMENT_LENGTH,
  DIGEST_LENGTH,
  MAX_DATA_SEGMENT_LENGTH,
  MAX_TOTAL_AHS_LENGTH,
  paddingLength,
} from './constants.js';
import { crc32c } from './crc32c.js';
import { fastCrc32c, headerDigest, readDigest } from './digest.js';
import { PduDecodeError, PduEncodeError, type PduDecodeErrorCode, type PduDecodeErrorOptions } from './errors.js';
import { LoginStage } from './login.js';
import { Opcode, OPCODE_MASK } from './opcodes.js';

/** A whole PDU: its header (BHS+AHS, no digest) and data segment (no padding, no digest) as views. */
export interface FramedPdu {
  readonly type: 'pdu';
  readonly header: Buffer;
  readonly data: readonly Buffer[];
}

/** A PDU whose data digest did not match: the header is good, the data must not be used. */
export interface FramedDataDigestError {
  readonly type: 'data-digest-error';
  readonly header: Buffer;
  /** An ERR_PDU_DATA_DIGEST error whose `rejectReason` is DataDigestError. */
  readonly error: PduDecodeError;
}

/** What {@link PduFramer.push} yields. */
export type Framed = FramedPdu | FramedDataDigestError;

/** Settings of a {@link PduFramer}. */
export interface FramerOptions {
  /** Largest DataSegmentLength accepted (our MaxRecvDataSegmentLength). Default 8192, the login-phase value. */
  readonly maxDataSegmentLength?: number;
  /** Largest AHS accepted, in bytes (at most 1020). Default 1020. */
  readonly maxAhsLength?: number;
  /** Expect a CRC32C header digest after each header. Default false. */
  readonly headerDigest?: boolean;
  /** Expect a CRC32C data digest after each non-empty data segment. Default false. */
  readonly dataDigest?: boolean;
  /** Called with each framed header; returning true pauses framing until {@link PduFramer.resume}. */
  readonly pauseAfter?: (header: Buffer) => boolean;
  /** Most bytes the framer may hold (only reachable while paused). Default: twice the largest PDU allowed. */
  readonly maxBufferedBytes?: number;
}

/** A fatal framing error; `framed` holds the PDUs completed earlier in the same `push`. */
export class FramerError extends PduDecodeError {
  /** PDUs framed before the error in the call that threw. */
  readonly framed: readonly Framed[];

  constructor(code: PduDecodeErrorCode, message: string, framed: readonly Framed[], options?: PduDecodeErrorOptions) {
    super(code, message, options);
    this.framed = framed;
  }
}

/** True for a Login Request or Response header with T=1 and NSG=FullFeaturePhase: the login may end here. */
export function mayEndLoginPhase(header: Buffer): boolean {
  if (header.length < BHS_LENGTH) return false;
  const opcode = header.readUInt8(0) & OPCODE_MASK;
  const flags = header.readUInt8(1);
  return (
    (opcode === Opcode.LoginRequest || opcode === Opcode.LoginResponse) &&
    (flags & 0x80) !== 0 &&
    (flags & 3) === LoginStage.FullFeaturePhase
  );
}

function checkSetting(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new PduEncodeError('ERR_PDU_SETTING', `${name} = ${value} is outside 0..${max}`);
  }
}

/** Byte-stream framer; see the file comment for its contract. */
export class PduFramer {
  private readonly chunks: Buffer[] = [];
  /** Offset of the first unread byte in chunks[0]. */
  private head = 0;
  private buffered = 0;
  private maxData: number;
  private readonly maxAhs: number;
  private withHeaderDigest: boolean;
  private withDataDigest: boolean;
  private readonly pauseAfter: ((header: Buffer) => boolean) | undefined;
  private readonly maxBufferedOption: number | undefined;
  private isPaused = false;
  private failure: PduDecodeError | undefined;

  constructor(options: FramerOptions = {}) {
    this.maxData = options.maxDataSegmentLength ?? DEFAULT_MAX_RECV_DATA_SEGMENT_LENGTH;
    checkSetting('maxDataSegmentLength', this.maxData, MAX_DATA_SEGMENT_LENGTH);
    this.maxAhs = options.maxAhsLength ?? MAX_TOTAL_AHS_LENGTH;
    checkSetting('maxAhsLength', this.maxAhs, MAX_TOTAL_AHS_LENGTH);
    this.withHeaderDigest = options.headerDigest ?? false;
    this.withDataDigest = options.dataDigest ?? false;
    this.pauseAfter = options.pauseAfter;
    this.maxBufferedOption = options.maxBufferedBytes;
    if (this.maxBufferedOption !== undefined) {
      checkSetting('maxBufferedBytes', this.maxBufferedOption, Number.MAX_SAFE_INTEGER);
    }
  }

  /** Sets MaxRecvDataSegmentLength (e.g. once login has negotiated it). Applies from the next header. */
  setMaxDataSegmentLength(length: number): void {
    checkSetting('maxDataSegmentLength', length, MAX_DATA_SEGMENT_LENGTH);
    this.maxData = length;
  }

  /** Switches digests on or off (after login). Applies from the next header. */
  setDigests(digests: { readonly headerDigest: boolean; readonly dataDigest: boolean }): void {
    this.withHeaderDigest = digests.headerDigest;
    this.withDataDigest = digests.dataDigest;
  }

  /** Bytes held, waiting for the rest of a PDU (or for {@link resume}). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** True after `pauseAfter` asked to pause and before {@link resume}. */
  get paused(): boolean {
    return this.isPaused;
  }

  /** The largest PDU, on the wire, the current settings admit. */
  get maxPduBytes(): number {
    return BHS_LENGTH + this.maxAhs + DIGEST_LENGTH + this.maxData + 3 + DIGEST_LENGTH;
  }

  /** Adds received bytes and returns every PDU now complete, in order. The chunk is kept (as views), not copied. */
  push(chunk: Buffer): Framed[] {
    if (this.failure !== undefined) {
      throw new FramerError('ERR_PDU_FRAMER_FAILED', `the framer failed earlier: ${this.failure.message}`, [], {
        cause: this.failure,
      });
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    return this.frame();
  }

  /** Leaves the paused state and returns the PDUs already buffered behind the pause point. */
  resume(): Framed[] {
    this.isPaused = false;
    return this.push(Buffer.alloc(0));
  }

  private frame(): Framed[] {
    const out: Framed[] = [];
    try {
      while (!this.isPaused) {
        const framed = this.frameOne();
        if (framed === undefined) break;
        out.push(framed);
        if (this.pauseAfter?.(framed.header) === true) this.isPaused = true;
      }
      const limit = this.maxBufferedOption ?? 2 * this.maxPduBytes;
      if (this.buffered > limit) {
        throw new PduDecodeError('ERR_PDU_BUFFER_OVERFLOW', `holding ${this.buffered} bytes exceeds ${limit}`);
      }
    } catch (err) {
      if (!(err instanceof PduDecodeError)) throw err;
      this.failure = err;
      throw new FramerError(err.code, err.message, out, { cause: err, ...(err.header && { header: err.header }) });
    }
    return out;
  }

  /** Frames the next PDU if all of it is buffered; throws on fatal errors. */
  private frameOne(): Framed | undefined {
    if (this.buffered < BHS_LENGTH) return undefined;
    const bhs = peekBhs(this.peek(BHS_LENGTH));
    const headerLength = BHS_LENGTH + bhs.ahsLength;
    const headerDigestLength = this.withHeaderDigest ? DIGEST_LENGTH : 0;
    // A header is at most 1072 bytes, so waiting for all of it is bounded; the digest must check out before
    // the lengths in it are believed.
    if (this.buffered < headerLength + headerDigestLength) return undefined;
    const headerView = this.peek(headerLength + headerDigestLength);
    const header = headerView.subarray(0, headerLength);
    if (this.withHeaderDigest) {
      const expected = headerDigest(header);
      const actual = readDigest(headerView, headerLength);
      if (expected !== actual) {
        throw new PduDecodeError(
          'ERR_PDU_HEADER_DIGEST',
          `header digest 0x${hex(actual)} does not match the computed 0x${hex(expected)}`,
          { header: Buffer.from(header) },
        );
      }
    }
    if (bhs.ahsLength > this.maxAhs) {
      throw new PduDecodeError('ERR_PDU_AHS', `AHS of ${bhs.ahsLength} bytes exceeds ${this.maxAhs}`, {
        header: Buffer.from(header),
      });
    }
    if (bhs.dataSegmentLength > this.maxData) {
      throw new PduDecodeError(
        'ERR_PDU_DATA_TOO_LONG',
        `DataSegmentLength ${bhs.dataSegmentLength} exceeds MaxRecvDataSegmentLength ${this.maxData}`,
        { header: Buffer.from(header) },
      );
    }
    const pad = paddingLength(bhs.dataSegmentLength);
    const dataDigestLength = this.withDataDigest && bhs.dataSegmentLength > 0 ? DIGEST_LENGTH : 0;
    const total = headerLength + headerDigestLength + bhs.dataSegmentLength + pad + dataDigestLength;
    if (this.buffered < total) return undefined;

    this.skip(headerLength + headerDigestLength);
    const data = this.take(bhs.dataSegmentLength);
    const padding = this.take(pad);
    if (dataDigestLength === 0) return { type: 'pdu', header, data };

    // The data digest covers the padding as received.
    let computed = 0;
    for (const c of data) computed = fastCrc32c(c, computed);
    for (const c of padding) computed = crc32c(c, computed);
    const received = readDigest(this.peek(DIGEST_LENGTH), 0);
    this.skip(DIGEST_LENGTH);
    if (computed === received) return { type: 'pdu', header, data };
    const error = new PduDecodeError(
      'ERR_PDU_DATA_DIGEST',
      `data digest 0x${hex(received)} does not match the computed 0x${hex(computed)}`,
      { header },
    );
    return { type: 'data-digest-error', header, error };
  }

  /** The next `n` buffered bytes as one buffer: a view when they lie in one chunk, else a copy (n ≤ 1072). */
  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let offset = this.head;
    for (const chunk of this.chunks) {
      if (filled === n) break;
      filled += chunk.copy(out, filled, offset, Math.min(chunk.length, offset + n - filled));
      offset = 0;
    }
    return out;
  }

  /** Removes the next `n` bytes and returns them as views of the pushed chunks. */
  private take(n: number): Buffer[] {
    const out: Buffer[] = [];
    let remaining = n;
    while (remaining > 0) {
      const first = this.chunks[0];
      if (first === undefined) break; // unreachable: callers check `buffered` first
      const available = first.length - this.head;
      const used = Math.min(available, remaining);
      out.push(first.subarray(this.head, this.head + used));
      remaining -= used;
      this.consume(used, available);
    }
    return out;
  }

  /** Removes the next `n` bytes. */
  private skip(n: number): void {
    let remaining = n;
    while (remaining > 0) {
      const first = this.chunks[0];
      if (first === undefined) break; // unreachable: callers check `buffered` first
      const available = first.length - this.head;
      const used = Math.min(available, remaining);
      remaining -= used;
      this.consume(used, available);
    }
  }

  private consume(used: number, available: number): void {
    this.buffered -= used;
    if (used === available) {
      this.chunks.shift();
      this.head = 0;
    } else {
      this.head += used;
    }
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
