/**
 * Synthesizes a whole TCP conversation between two endpoints (handshake, MSS-sized data segments both ways,
 * FIN exchange) with consistent sequence and acknowledgement numbers, so Wireshark reassembles the byte streams
 * and dissects what rides on them (iSCSI on 3260) without TCP analysis warnings.
 *
 * The model is a lossless wire: everything sent is received at once. The receiver acknowledges by piggybacking
 * on its own data, and with a pure ACK before unacknowledged data would exceed half the window.
 */
import type { IpAddress, MacAddress } from './addresses.js';
import { macFor } from './ethernet.js';
import { TraceError } from './errors.js';
import { checkRange, type IpOptions } from './ip.js';
import type { CapturedFrame } from './pcapng.js';
import { tcpFrame, type TcpFlags } from './tcp.js';
import { chunksOf, type Payload } from './udp.js';

/** One end of the conversation. */
export interface TcpEndpoint {
  /** IP address (IPv4 or IPv6; both ends must use the same version). */
  readonly ip: IpAddress;
  /** TCP port. */
  readonly port: number;
  /** MAC; default derived from the IP address. */
  readonly mac?: MacAddress;
  /** Initial sequence number; default 0x1000 for a, 0x8000 for b. */
  readonly isn?: number;
}

/** Options of a {@link TcpStreamSynth}. */
export interface TcpStreamOptions {
  /** The active opener (sends the SYN). */
  readonly a: TcpEndpoint;
  /** The passive opener. */
  readonly b: TcpEndpoint;
  /** IP version; default 6 when a's address is IPv6 text or 16 bytes, else 4. */
  readonly ipVersion?: 4 | 6;
  /** Maximum segment size (payload bytes per segment); default 1460. */
  readonly mss?: number;
  /** Advertised receive window (no scaling); default 65535. */
  readonly window?: number;
}

/** Which way bytes flow. */
export type TcpDirection = 'a->b' | 'b->a';

interface Side {
  readonly ep: TcpEndpoint;
  readonly mac: MacAddress;
  nextSeq: number;
  /** Highest sequence number the peer has acknowledged. */
  ackedByPeer: number;
  nextIpId: number;
}

type State = 'new' | 'open' | 'closed';

/** Stateful synthesizer of one TCP connection's frames. */
export class TcpStreamSynth {
  private readonly sides: { readonly a: Side; readonly b: Side };
  private readonly mss: number;
  private readonly window: number;
  private readonly ipVersion: 4 | 6;
  private state: State = 'new';

  /** Sets up both endpoints; no frames are produced until {@link open} or {@link send}. */
  constructor(opts: TcpStreamOptions) {
    const side = (ep: TcpEndpoint, isn: number): Side => ({
      ep,
      mac: ep.mac ?? macFor(ep.ip),
      nextSeq: (ep.isn ?? isn) >>> 0,
      ackedByPeer: (ep.isn ?? isn) >>> 0,
      nextIpId: 1,
    });
    this.sides = { a: side(opts.a, 0x1000), b: side(opts.b, 0x8000) };
    this.mss = checkRange('mss', opts.mss ?? 1460, 0xffff);
    if (this.mss === 0) throw new TraceError('ERR_TRACE_FIELD_RANGE', 'mss must be positive');
    this.window = checkRange('window', opts.window ?? 65535, 0xffff);
    const aIp = opts.a.ip;
    this.ipVersion = opts.ipVersion ?? ((typeof aIp === 'string' ? aIp.includes(':') : aIp.length === 16) ? 6 : 4);
  }

  /** The three-way handshake (SYN, SYN-ACK, ACK), all at `timeMs`. */
  open(timeMs: number): CapturedFrame[] {
    if (this.state !== 'new') throw new TraceError('ERR_TRACE_STREAM_STATE', `open() on a ${this.state} stream`);
    this.state = 'open';
    const { a, b } = this.sides;
    return [
      this.segment(a, b, { syn: true }, [], timeMs, this.mss),
      this.segment(b, a, { syn: true, ack: true }, [], timeMs, this.mss),
      this.segment(a, b, { ack: true }, [], timeMs),
    ];
  }

  /** Data from one side to the other, cut at the MSS (PSH on the last segment); opens the stream if needed. */
  send(direction: TcpDirection, bytes: Payload, timeMs: number, comment?: string): CapturedFrame[] {
    if (this.state === 'closed') throw new TraceError('ERR_TRACE_STREAM_STATE', 'send() on a closed stream');
    const frames = this.state === 'new' ? this.open(timeMs) : [];
    const [from, to] = this.ends(direction);
    const pieces = cut(chunksOf(bytes), this.mss);
    pieces.forEach((piece, i) => {
      const length = piece.reduce((n, c) => n + c.length, 0);
      // Keep unacknowledged data well inside the window, as a real receiver's ACKs would.
      if (((from.nextSeq - from.ackedByPeer) >>> 0) + length > this.window / 2) {
        frames.push(this.segment(to, from, { ack: true }, [], timeMs));
      }
      const last = i === pieces.length - 1;
      const frame = this.segment(from, to, { ack: true, psh: last }, piece, timeMs);
      frames.push(i === 0 && comment !== undefined ? { ...frame, comment } : frame);
    });
    return frames;
  }

  /** A pure ACK from the sending side of `direction` (the receiver of the other direction's data). */
  ack(direction: TcpDirection, timeMs: number): CapturedFrame[] {
    const [from, to] = this.ends(direction);
    return [this.segment(from, to, { ack: true }, [], timeMs)];
  }

  /** Orderly close: FIN from the side that starts `direction`, FIN-ACK back, final ACK. */
  close(timeMs: number, direction: TcpDirection = 'a->b'): CapturedFrame[] {
    if (this.state !== 'open') throw new TraceError('ERR_TRACE_STREAM_STATE', `close() on a ${this.state} stream`);
    this.state = 'closed';
    const [from, to] = this.ends(direction);
    return [
      this.segment(from, to, { fin: true, ack: true }, [], timeMs),
      this.segment(to, from, { fin: true, ack: true }, [], timeMs),
      this.segment(from, to, { ack: true }, [], timeMs),
    ];
  }

  /** The next sequence number each side will send (for assertions). */
  nextSeq(side: 'a' | 'b'): number {
    return this.sides[side].nextSeq;
  }

  private ends(direction: TcpDirection): [Side, Side] {
    const { a, b } = this.sides;
    return direction === 'a->b' ? [a, b] : [b, a];
  }

  private segment(
    from: Side,
    to: Side,
    flags: TcpFlags,
    payload: readonly Buffer[],
    timeMs: number,
    mss?: number,
  ): CapturedFrame {
    const ip: IpOptions =
      this.ipVersion === 4
        ? { version: 4, src: from.ep.ip, dst: to.ep.ip, id: from.nextIpId, df: true }
        : { version: 6, src: from.ep.ip, dst: to.ep.ip };
    from.nextIpId = (from.nextIpId + 1) & 0xffff;
    const hasAck = flags.ack === true;
    const data = tcpFrame(
      {
        eth: { src: from.mac, dst: to.mac },
        ip,
        srcPort: from.ep.port,
        dstPort: to.ep.port,
        seq: from.nextSeq,
        ack: hasAck ? to.nextSeq : 0,
        flags,
        window: this.window,
        ...(mss === undefined ? {} : { mss }),
      },
      payload,
    );
    // The receiver got everything: what we acknowledge is all the peer has sent.
    if (hasAck) to.ackedByPeer = to.nextSeq;
    const consumed =
      payload.reduce((n, c) => n + c.length, 0) + (flags.syn === true ? 1 : 0) + (flags.fin === true ? 1 : 0);
    from.nextSeq = (from.nextSeq + consumed) >>> 0;
    return { data, timeMs };
  }
}

/** Splits a chunk list into pieces of at most `size` bytes without copying. */
function cut(chunks: readonly Buffer[], size: number): Buffer[][] {
  const pieces: Buffer[][] = [];
  let current: Buffer[] = [];
  let room = size;
  for (const chunk of chunks) {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(room, chunk.length - offset);
      current.push(chunk.subarray(offset, offset + take));
      offset += take;
      room -= take;
      if (room === 0) {
        pieces.push(current);
        current = [];
        room = size;
      }
    }
  }
  if (current.length > 0) pieces.push(current);
  return pieces;
}
