/**
 * Ethernet + IP + UDP frames.
 */
import { internetChecksum } from './checksum.js';
import { ethernetHeader, macFor, type EthernetAddresses } from './ethernet.js';
import { checkRange, etherTypeOf, ipHeader, IPPROTO_UDP, pseudoHeaderSum, type IpOptions } from './ip.js';

/** Everything but the payload of a UDP frame. */
export interface UdpFrameOptions {
  /** MACs; default: {@link macFor} of the IP addresses. */
  readonly eth?: EthernetAddresses;
  /** IP header options (version, addresses, ID/DF/TTL or hop limit). */
  readonly ip: IpOptions;
  /** UDP source port. */
  readonly srcPort: number;
  /** UDP destination port. */
  readonly dstPort: number;
  /** `'compute'` (default) fills in the checksum; `'zero'` sends 0, as rxe does for RoCEv2. */
  readonly checksum?: 'compute' | 'zero';
}

/** Payload given as one buffer or a chunk list. */
export type Payload = Buffer | readonly Buffer[];

/** Normalizes a {@link Payload} to a chunk list. */
export function chunksOf(payload: Payload): readonly Buffer[] {
  return Buffer.isBuffer(payload) ? [payload] : payload;
}

/** Default MACs for a frame whose caller gave none. */
export function ethernetFor(ip: IpOptions, eth?: EthernetAddresses): EthernetAddresses {
  return eth ?? { src: macFor(ip.src), dst: macFor(ip.dst) };
}

/** A complete Ethernet II / IPv4-or-IPv6 / UDP frame. */
export function udpFrame(opts: UdpFrameOptions, payload: Payload): Buffer {
  const chunks = chunksOf(payload);
  const payloadLength = chunks.reduce((n, c) => n + c.length, 0);
  const udpLength = checkRange('UDP length', 8 + payloadLength, 0xffff);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(checkRange('srcPort', opts.srcPort, 0xffff), 0);
  udp.writeUInt16BE(checkRange('dstPort', opts.dstPort, 0xffff), 2);
  udp.writeUInt16BE(udpLength, 4);
  if ((opts.checksum ?? 'compute') === 'compute') {
    const sum = internetChecksum([udp, ...chunks], pseudoHeaderSum(opts.ip, IPPROTO_UDP, udpLength));
    // A computed zero is sent as all ones: zero means "no checksum" (RFC 768).
    udp.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  }
  return Buffer.concat([
    ethernetHeader(ethernetFor(opts.ip, opts.eth), etherTypeOf(opts.ip)),
    ipHeader(opts.ip, IPPROTO_UDP, udpLength),
    udp,
    ...chunks,
  ]);
}
