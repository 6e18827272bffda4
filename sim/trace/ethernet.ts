/**
 * Ethernet II headers for synthesized frames.
 */
import { ipv4Bytes, ipv6Bytes, macBytes, type IpAddress, type MacAddress } from './addresses.js';

/** EtherType of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of IPv6. */
export const ETHERTYPE_IPV6 = 0x86dd;

/** Source and destination MAC of a frame. */
export interface EthernetAddresses {
  /** Sender's MAC. */
  readonly src: MacAddress;
  /** Receiver's MAC. */
  readonly dst: MacAddress;
}

/** The 14-byte Ethernet II header. */
export function ethernetHeader(eth: EthernetAddresses, etherType: number): Buffer {
  const out = Buffer.alloc(14);
  macBytes(eth.dst).copy(out, 0);
  macBytes(eth.src).copy(out, 6);
  out.writeUInt16BE(etherType, 12);
  return out;
}

/**
 * A locally administered unicast MAC derived from an IP address (02:00 + its last 4 bytes), so callers that do
 * not care about MACs still get distinct, deterministic ones per host.
 */
export function macFor(ip: IpAddress): Buffer {
  const bytes = typeof ip !== 'string' ? ip : ip.includes(':') ? ipv6Bytes(ip) : ipv4Bytes(ip);
  return Buffer.concat([Buffer.from([0x02, 0x00]), bytes.subarray(bytes.length - 4)]);
}
