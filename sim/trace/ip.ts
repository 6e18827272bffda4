/**
 * IPv4 and IPv6 headers (no options, no extension headers) and the transport pseudo-header sum.
 */
import { ipv4Bytes, ipv6Bytes, type IpAddress } from './addresses.js';
import { internetChecksum, onesComplementSum } from './checksum.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './ethernet.js';
import { TraceError } from './errors.js';

/** IP protocol number of TCP. */
export const IPPROTO_TCP = 6;
/** IP protocol number of UDP. */
export const IPPROTO_UDP = 17;

/** IPv4 header fields a caller may set. RoCEv2 frames need `id: 0, df: true` (the ICRC covers them). */
export interface Ipv4Options {
  /** Selects IPv4. */
  readonly version: 4;
  /** Source address. */
  readonly src: IpAddress;
  /** Destination address. */
  readonly dst: IpAddress;
  /** Identification field; default 0. */
  readonly id?: number;
  /** Don't Fragment flag; default true. */
  readonly df?: boolean;
  /** Time to live; default 64. */
  readonly ttl?: number;
  /** Type of service byte (DSCP + ECN); default 0. */
  readonly tos?: number;
}

/** IPv6 header fields a caller may set. */
export interface Ipv6Options {
  /** Selects IPv6. */
  readonly version: 6;
  /** Source address. */
  readonly src: IpAddress;
  /** Destination address. */
  readonly dst: IpAddress;
  /** Hop limit; default 64. */
  readonly hopLimit?: number;
  /** Traffic class; default 0. */
  readonly trafficClass?: number;
  /** Flow label (20 bits); default 0. */
  readonly flowLabel?: number;
}

/** Either IP version's header options. */
export type IpOptions = Ipv4Options | Ipv6Options;

/** Throws a range error unless `value` is an integer in [0, max]. */
export function checkRange(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new TraceError('ERR_TRACE_FIELD_RANGE', `${name} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}

/** The EtherType that carries this IP version. */
export function etherTypeOf(ip: IpOptions): number {
  return ip.version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
}

/** The IP header for a packet whose transport header + payload is `payloadLength` bytes long. */
export function ipHeader(ip: IpOptions, protocol: number, payloadLength: number): Buffer {
  if (ip.version === 4) {
    const out = Buffer.alloc(20);
    out[0] = 0x45;
    out[1] = checkRange('tos', ip.tos ?? 0, 0xff);
    out.writeUInt16BE(checkRange('IPv4 total length', 20 + payloadLength, 0xffff), 2);
    out.writeUInt16BE(checkRange('IPv4 id', ip.id ?? 0, 0xffff), 4);
    out.writeUInt16BE((ip.df ?? true) ? 0x4000 : 0, 6);
    out[8] = checkRange('ttl', ip.ttl ?? 64, 0xff);
    out[9] = protocol;
    ipv4Bytes(ip.src).copy(out, 12);
    ipv4Bytes(ip.dst).copy(out, 16);
    out.writeUInt16BE(internetChecksum([out]), 10);
    return out;
  }
  const out = Buffer.alloc(40);
  const tc = checkRange('trafficClass', ip.trafficClass ?? 0, 0xff);
  const flow = checkRange('flowLabel', ip.flowLabel ?? 0, 0xfffff);
  out.writeUInt32BE(((6 << 28) | (tc << 20) | flow) >>> 0, 0);
  out.writeUInt16BE(checkRange('IPv6 payload length', payloadLength, 0xffff), 4);
  out[6] = protocol;
  out[7] = checkRange('hopLimit', ip.hopLimit ?? 64, 0xff);
  ipv6Bytes(ip.src).copy(out, 8);
  ipv6Bytes(ip.dst).copy(out, 24);
  return out;
}

/** Ones'-complement sum of the pseudo-header TCP and UDP checksums cover (RFC 793 / RFC 8200 §8.1). */
export function pseudoHeaderSum(ip: IpOptions, protocol: number, transportLength: number): number {
  if (ip.version === 4) {
    const tail = Buffer.alloc(4);
    tail[1] = protocol;
    tail.writeUInt16BE(transportLength, 2);
    return onesComplementSum([ipv4Bytes(ip.src), ipv4Bytes(ip.dst), tail]);
  }
  const tail = Buffer.alloc(8);
  tail.writeUInt32BE(transportLength, 0);
  tail[7] = protocol;
  return onesComplementSum([ipv6Bytes(ip.src), ipv6Bytes(ip.dst), tail]);
}
