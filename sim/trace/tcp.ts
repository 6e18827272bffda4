/**
 * Ethernet + IP + TCP frames with a correct checksum.
 */
import { internetChecksum } from './checksum.js';
import { ethernetHeader, type EthernetAddresses } from './ethernet.js';
import { checkRange, etherTypeOf, ipHeader, IPPROTO_TCP, pseudoHeaderSum, type IpOptions } from './ip.js';
import { chunksOf, ethernetFor, type Payload } from './udp.js';

/** TCP control flags (unset means clear). */
export interface TcpFlags {
  /** FIN. */
  readonly fin?: boolean;
  /** SYN. */
  readonly syn?: boolean;
  /** RST. */
  readonly rst?: boolean;
  /** PSH. */
  readonly psh?: boolean;
  /** ACK. */
  readonly ack?: boolean;
  /** URG. */
  readonly urg?: boolean;
}

/** Everything but the payload of a TCP frame. */
export interface TcpFrameOptions {
  /** MACs; default derived from the IP addresses. */
  readonly eth?: EthernetAddresses;
  /** IP header options. */
  readonly ip: IpOptions;
  /** TCP source port. */
  readonly srcPort: number;
  /** TCP destination port. */
  readonly dstPort: number;
  /** Sequence number (32-bit, wraps). */
  readonly seq: number;
  /** Acknowledgement number (meaningful with the ACK flag). */
  readonly ack: number;
  /** Control flags. */
  readonly flags: TcpFlags;
  /** Receive window (no scaling); default 65535. */
  readonly window?: number;
  /** When set, adds an MSS option (used on SYN segments). */
  readonly mss?: number;
}

function flagBits(f: TcpFlags): number {
  return (
    (f.fin === true ? 0x01 : 0) |
    (f.syn === true ? 0x02 : 0) |
    (f.rst === true ? 0x04 : 0) |
    (f.psh === true ? 0x08 : 0) |
    (f.ack === true ? 0x10 : 0) |
    (f.urg === true ? 0x20 : 0)
  );
}

/** A complete Ethernet II / IPv4-or-IPv6 / TCP frame. */
export function tcpFrame(opts: TcpFrameOptions, payload: Payload = []): Buffer {
  const chunks = chunksOf(payload);
  const options = opts.mss === undefined ? Buffer.alloc(0) : Buffer.from([2, 4, 0, 0]);
  if (opts.mss !== undefined) options.writeUInt16BE(checkRange('mss', opts.mss, 0xffff), 2);
  const tcp = Buffer.alloc(20 + options.length);
  tcp.writeUInt16BE(checkRange('srcPort', opts.srcPort, 0xffff), 0);
  tcp.writeUInt16BE(checkRange('dstPort', opts.dstPort, 0xffff), 2);
  tcp.writeUInt32BE(opts.seq >>> 0, 4);
  tcp.writeUInt32BE(opts.ack >>> 0, 8);
  tcp[12] = (tcp.length / 4) << 4;
  tcp[13] = flagBits(opts.flags);
  tcp.writeUInt16BE(checkRange('window', opts.window ?? 65535, 0xffff), 14);
  options.copy(tcp, 20);
  const tcpLength = tcp.length + chunks.reduce((n, c) => n + c.length, 0);
  tcp.writeUInt16BE(internetChecksum([tcp, ...chunks], pseudoHeaderSum(opts.ip, IPPROTO_TCP, tcpLength)), 16);
  return Buffer.concat([
    ethernetHeader(ethernetFor(opts.ip, opts.eth), etherTypeOf(opts.ip)),
    ipHeader(opts.ip, IPPROTO_TCP, tcpLength),
    tcp,
    ...chunks,
  ]);
}
