/**
 * The receive side of a connection: registered buffers posted for the peer's Sends.
 *
 * Login phase: one buffer of 8268 bytes (iSER header + BHS + 8192) per expected Login PDU. Full feature phase: a
 * ring of `depth` buffers sized from the negotiated keys, topped up after every completion.
 *
 * Each buffer is its own registration, so a buffer holding SCSI write data (immediate data or an unsolicited
 * Data-Out at the target) can be *lent* to its task instead of copied: the core gets views of it, a fresh buffer
 * takes its place in the ring, and the lent one is deregistered when the task ends (its memory stays valid for
 * whoever still holds the views). Every other buffer is reposted as soon as its PDU has been decoded.
 */
import { Access, type MemoryRegion, type ProtectionDomain, type WorkCompletion } from '../verbs.js';
import type { CompletionHandler, WorkRequests } from './work-requests.js';

/** A posted receive buffer. */
export interface ReceiveBuffer {
  readonly mr: MemoryRegion;
  readonly buffer: Buffer;
}

/** What to do with a completed receive. */
export type ReceiveHandler = (wc: WorkCompletion, buffer: ReceiveBuffer) => void;

/** Posted receive buffers of one connection. */
export class ReceiveBuffers {
  private readonly posted = new Map<number, ReceiveBuffer>();
  private readonly spare: ReceiveBuffer[] = [];
  private ringLength = 0;
  private ringDepth = 0;
  private lent = 0;
  private readonly complete: CompletionHandler;

  constructor(
    private readonly pd: ProtectionDomain,
    private readonly requests: WorkRequests,
    onReceive: ReceiveHandler,
  ) {
    this.complete = (wc) => {
      const buffer = this.posted.get(wc.wrId);
      if (buffer === undefined) return;
      this.posted.delete(wc.wrId);
      onReceive(wc, buffer);
    };
  }

  /** Receives posted now. */
  get postedCount(): number {
    return this.posted.size;
  }

  /** Bytes of each full-feature receive buffer (0 before the ring exists). */
  get bufferLength(): number {
    return this.ringLength;
  }

  /** Receives the ring keeps posted (0 before the ring exists). */
  get depth(): number {
    return this.ringDepth;
  }

  /** Buffers currently lent to tasks. */
  get lentCount(): number {
    return this.lent;
  }

  /** Posts one receive of `length` bytes outside the ring (a login-phase receive). */
  postOne(length: number): void {
    this.post([this.fresh(length)]);
  }

  /** Creates the full-feature ring: `depth` buffers of `length` bytes, all posted. */
  startRing(length: number, depth: number): void {
    this.ringLength = length;
    this.ringDepth = depth;
    this.topUp();
  }

  /** Gives a buffer back after its PDU was copied out: reposted if the ring is short, kept spare otherwise. */
  recycle(buffer: ReceiveBuffer): void {
    if (this.ringLength > 0 && buffer.buffer.length === this.ringLength) this.spare.push(buffer);
    else buffer.mr.deregister();
    this.topUp();
  }

  /** Lends a buffer to a task (its views live on in the core); the ring gets a fresh one. */
  lend(): void {
    this.lent++;
    this.topUp();
  }

  /** A lent buffer came back (its task ended): it is deregistered, never reused. */
  returnLent(buffer: ReceiveBuffer): void {
    this.lent--;
    buffer.mr.deregister();
  }

  /** Posts receives until the ring holds `depth`. */
  topUp(): void {
    if (this.ringDepth === 0) return;
    const missing = this.ringDepth - this.posted.size;
    if (missing <= 0) return;
    const buffers: ReceiveBuffer[] = [];
    for (let i = 0; i < missing; i++) buffers.push(this.spare.pop() ?? this.fresh(this.ringLength));
    this.post(buffers);
  }

  private fresh(length: number): ReceiveBuffer {
    const buffer = Buffer.alloc(length);
    return { mr: this.pd.register(buffer, Access.LOCAL_WRITE), buffer };
  }

  private post(buffers: readonly ReceiveBuffer[]): void {
    const wrs = buffers.map((b) => {
      const wrId = this.requests.allocate();
      this.posted.set(wrId, b);
      return { wrId, sgl: [{ mr: b.mr, offset: 0, length: b.buffer.length }] };
    });
    try {
      this.requests.receive(wrs, this.complete);
    } catch (err) {
      for (const wr of wrs) this.posted.delete(wr.wrId);
      throw err;
    }
  }
}
