/**
 * What soft-RoCE needs of a network: UDP datagrams carrying RoCEv2 (BTH through ICRC) between IP endpoints.
 * Two links implement it: {@link MemoryLink} (virtual time, seeded faults) and {@link UdpLink} (node:dgram).
 */
import { formatIp, ipv4Bytes, ipv6Bytes } from '../ip-address.js';
import { ROCE_V2_UDP_PORT } from '../frame.js';

/** One UDP datagram of RoCEv2 traffic. */
export interface RoceDatagram {
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
  /** BTH, extension headers, payload, pad, ICRC. */
  readonly payload: Buffer;
}

/** An endpoint attached to a link: one IP address and its UDP port. */
export interface RoceLinkEndpoint {
  /** The endpoint's address, in canonical text form. */
  readonly ip: string;
  /** The UDP port it receives on (4791, or another when 4791 was taken). */
  readonly port: number;
  /** The UDP source port a datagram will really carry when the sender would like `preferred` (rxe's entropy). */
  sourcePort(preferred: number): number;
  /** The UDP port that reaches `ip` (4791, unless the peer is attached to the same link on another port). */
  destinationPort(ip: string): number;
  /** Sends a datagram (never throws for the network's sake: a datagram may just be lost). */
  send(datagram: RoceDatagram): void;
  /** Detaches; nothing is delivered afterwards. */
  close(): Promise<void>;
}

/** A network soft-RoCE endpoints attach to. */
export interface RoceLink {
  /** Attaches an endpoint at `ip`; `receive` gets every datagram addressed to it, one at a time. */
  attach(ip: string, receive: (datagram: RoceDatagram) => void): Promise<RoceLinkEndpoint>;
}

/** The RoCEv2 UDP port. */
export const ROCE_PORT = ROCE_V2_UDP_PORT;

/** The IP version of an address in text form. */
export function ipVersionOf(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}

/** The canonical text of an address (throws ERR_ROCE_BAD_IP): dotted quad, or RFC 5952 IPv6. */
export function canonicalIp(ip: string): string {
  return ipVersionOf(ip) === 4 ? formatIp(ipv4Bytes(ip)) : formatIp(ipv6Bytes(ip));
}
