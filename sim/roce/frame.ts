/**
 * RoCEv2 on UDP: from a {@link RocePacket} and its IP/UDP addressing to the UDP payload (BTH .. ICRC) or the
 * whole IP datagram, and back, with the ICRC checked in one of three modes:
 *
 * - `strict`: compute on send, verify on receive (sim ↔ sim, or captures whose IP header is known);
 * - `tx-only`: compute on send, skip on receive (from kernel rxe over a UDP socket the IPv4 ID is invisible);
 * - `off`: send zeros, skip on receive.
 *
 * The IPv4 ID and DF bit are covered by the ICRC: rxe-compatible senders use ID 0 with DF (roce-rxe.md §3.9).
 */
import { RoceError } from './errors.js';
import { checkUint, need } from './fields.js';
import {
  computeIcrc,
  ICRC_BYTES,
  IPV4_HEADER_BYTES,
  IPV6_HEADER_BYTES,
  readIcrc,
  UDP_HEADER_BYTES,
  writeIcrc,
} from './icrc.js';
import { formatIp, ipv4Bytes, ipv6Bytes, type IpAddress } from './ip-address.js';
import { decodeRocePacket, encodeRocePacket, type RocePacket } from './packet.js';

/** The UDP destination port of RoCEv2 (`ROCE_V2_UDP_DPORT`), for requests and responses alike. */
export const ROCE_V2_UDP_PORT = 4791;

/** IP protocol number of UDP. */
export const IPPROTO_UDP = 17;

/** How the ICRC is treated: see the module comment. */
export type IcrcMode = 'strict' | 'tx-only' | 'off';

/** IPv4 addressing of a RoCEv2 packet. */
export interface RoceIpv4 {
  /** Selects IPv4. */
  readonly version: 4;
  /** Source address. */
  readonly src: IpAddress;
  /** Destination address. */
  readonly dst: IpAddress;
  /** Identification; default 0 (what the kernel picks for an unconnected socket with IP_PMTUDISC_DO). */
  readonly id?: number;
  /** Don't Fragment; default true (rxe sets it). */
  readonly df?: boolean;
  /** Time to live (masked out of the ICRC); default 64. */
  readonly ttl?: number;
  /** Type of service (masked out of the ICRC); default 0. */
  readonly tos?: number;
}

/** IPv6 addressing of a RoCEv2 packet. */
export interface RoceIpv6 {
  /** Selects IPv6. */
  readonly version: 6;
  /** Source address. */
  readonly src: IpAddress;
  /** Destination address. */
  readonly dst: IpAddress;
  /** Hop limit (masked out of the ICRC); default 64. */
  readonly hopLimit?: number;
  /** Traffic class (masked out of the ICRC); default 0. */
  readonly trafficClass?: number;
  /** Flow label (masked out of the ICRC); default 0. */
  readonly flowLabel?: number;
}

/** IP and UDP addressing of a RoCEv2 packet (field names match `sim/trace`'s frame options). */
export interface RoceUdpAddressing {
  /** IP header fields. */
  readonly ip: RoceIpv4 | RoceIpv6;
  /** UDP source port (entropy; rxe uses 0xC000 | hash). */
  readonly srcPort: number;
  /** UDP destination port; default 4791. */
  readonly dstPort?: number;
}

/** IP and UDP headers exactly as they go on the wire (UDP checksum 0, as rxe sends). */
export interface IpUdpHeaders {
  /** The 20-byte IPv4 or 40-byte IPv6 header. */
  readonly ip: Buffer;
  /** The 8-byte UDP header. */
  readonly udp: Buffer;
}

function ipv4Checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The IP and UDP headers for a UDP payload (BTH .. ICRC) of `udpPayloadLength` bytes. */
export function ipUdpHeaders(addressing: RoceUdpAddressing, udpPayloadLength: number): IpUdpHeaders {
  const udpLength = UDP_HEADER_BYTES + udpPayloadLength;
  const udp = Buffer.alloc(UDP_HEADER_BYTES);
  udp.writeUInt16BE(checkUint('UDP source port', addressing.srcPort, 16), 0);
  udp.writeUInt16BE(checkUint('UDP destination port', addressing.dstPort ?? ROCE_V2_UDP_PORT, 16), 2);
  udp.writeUInt16BE(checkUint('UDP length', udpLength, 16), 4);
  const ip = addressing.ip;
  if (ip.version === 4) {
    const header = Buffer.alloc(IPV4_HEADER_BYTES);
    header[0] = 0x45;
    header[1] = checkUint('IPv4 TOS', ip.tos ?? 0, 8);
    header.writeUInt16BE(checkUint('IPv4 total length', IPV4_HEADER_BYTES + udpLength, 16), 2);
    header.writeUInt16BE(checkUint('IPv4 ID', ip.id ?? 0, 16), 4);
    header.writeUInt16BE((ip.df ?? true) ? 0x4000 : 0, 6);
    header[8] = checkUint('IPv4 TTL', ip.ttl ?? 64, 8);
    header[9] = IPPROTO_UDP;
    ipv4Bytes(ip.src).copy(header, 12);
    ipv4Bytes(ip.dst).copy(header, 16);
    header.writeUInt16BE(ipv4Checksum(header), 10);
    return { ip: header, udp };
  }
  const header = Buffer.alloc(IPV6_HEADER_BYTES);
  const tc = checkUint('IPv6 traffic class', ip.trafficClass ?? 0, 8);
  const flow = checkUint('IPv6 flow label', ip.flowLabel ?? 0, 20);
  header.writeUInt32BE(((6 << 28) | (tc << 20) | flow) >>> 0, 0);
  header.writeUInt16BE(checkUint('IPv6 payload length', udpLength, 16), 4);
  header[6] = IPPROTO_UDP;
  header[7] = checkUint('IPv6 hop limit', ip.hopLimit ?? 64, 8);
  ipv6Bytes(ip.src).copy(header, 8);
  ipv6Bytes(ip.dst).copy(header, 24);
  return { ip: header, udp };
}

function sealed(transport: Buffer, headers: (udpPayloadLength: number) => IpUdpHeaders, mode: IcrcMode): Buffer {
  const out = Buffer.alloc(transport.length + ICRC_BYTES);
  transport.copy(out);
  if (mode !== 'off') {
    const { ip, udp } = headers(out.length);
    writeIcrc(computeIcrc(ip, udp, transport), out, transport.length);
  }
  return out;
}

/** The UDP payload of `pkt` (BTH .. pad, ICRC) for the given addressing. */
export function encodeRoceUdpPayload(
  pkt: RocePacket,
  addressing: RoceUdpAddressing,
  mode: IcrcMode = 'strict',
): Buffer {
  return sealed(encodeRocePacket(pkt), (n) => ipUdpHeaders(addressing, n), mode);
}

/** True when the ICRC at the end of `udpPayload` is right for the given addressing. */
export function verifyRoceUdpPayload(udpPayload: Buffer, addressing: RoceUdpAddressing): boolean {
  need(udpPayload, 0, ICRC_BYTES, 'RoCEv2 UDP payload');
  const transport = udpPayload.subarray(0, udpPayload.length - ICRC_BYTES);
  const { ip, udp } = ipUdpHeaders(addressing, udpPayload.length);
  return computeIcrc(ip, udp, transport) === readIcrc(udpPayload, transport.length);
}

/** Decodes a received UDP payload, verifying its ICRC first in `strict` mode (ERR_ROCE_ICRC_MISMATCH). */
export function decodeRoceUdpPayload(
  udpPayload: Buffer,
  addressing: RoceUdpAddressing,
  mode: IcrcMode = 'strict',
): RocePacket {
  need(udpPayload, 0, ICRC_BYTES, 'RoCEv2 UDP payload');
  if (mode === 'strict' && !verifyRoceUdpPayload(udpPayload, addressing)) {
    throw new RoceError('ERR_ROCE_ICRC_MISMATCH', 'ICRC mismatch: the packet was corrupted or its IP header differs');
  }
  return decodeRocePacket(udpPayload.subarray(0, udpPayload.length - ICRC_BYTES));
}

/** The whole IP datagram (IP header, UDP header, BTH .. ICRC) carrying `pkt`, e.g. for a capture file. */
export function encodeRoceIpDatagram(
  pkt: RocePacket,
  addressing: RoceUdpAddressing,
  mode: IcrcMode = 'strict',
): Buffer {
  const payload = encodeRoceUdpPayload(pkt, addressing, mode);
  const { ip, udp } = ipUdpHeaders(addressing, payload.length);
  return Buffer.concat([ip, udp, payload]);
}

/** A RoCEv2 IP datagram taken apart: its addressing as read from the headers, and the packet. */
export interface ReceivedRoceDatagram {
  /** Addressing read from the IP and UDP headers. */
  readonly addressing: RoceUdpAddressing;
  /** The decoded transport packet. */
  readonly packet: RocePacket;
  /** True when the ICRC matched (always computed here, whatever the mode). */
  readonly icrcOk: boolean;
}

function parseIpUdp(datagram: Buffer): { headers: IpUdpHeaders; addressing: RoceUdpAddressing; udpEnd: number } {
  const version = (datagram[0] ?? 0) >> 4;
  const ipBytes = version === 6 ? IPV6_HEADER_BYTES : IPV4_HEADER_BYTES;
  need(datagram, 0, ipBytes + UDP_HEADER_BYTES, 'IP and UDP headers');
  const ipHeader = datagram.subarray(0, ipBytes);
  const udp = datagram.subarray(ipBytes, ipBytes + UDP_HEADER_BYTES);
  let ip: RoceIpv4 | RoceIpv6;
  if (version === 4) {
    if (datagram[0] !== 0x45 || datagram[9] !== IPPROTO_UDP) {
      throw new RoceError('ERR_ROCE_BAD_IP', 'not an IPv4 header without options carrying UDP');
    }
    const flags = datagram.readUInt16BE(6);
    if ((flags & 0x3fff) !== 0) throw new RoceError('ERR_ROCE_BAD_IP', 'fragmented IPv4 datagram');
    if (datagram.readUInt16BE(2) !== datagram.length) {
      throw new RoceError('ERR_ROCE_BAD_IP', 'IPv4 total length does not match the datagram');
    }
    ip = {
      version: 4,
      src: formatIp(datagram.subarray(12, 16)),
      dst: formatIp(datagram.subarray(16, 20)),
      id: datagram.readUInt16BE(4),
      df: (flags & 0x4000) !== 0,
      ttl: datagram[8] ?? 0,
      tos: datagram[1] ?? 0,
    };
  } else if (version === 6) {
    if (datagram[6] !== IPPROTO_UDP) throw new RoceError('ERR_ROCE_BAD_IP', 'IPv6 next header is not UDP');
    if (datagram.readUInt16BE(4) + IPV6_HEADER_BYTES !== datagram.length) {
      throw new RoceError('ERR_ROCE_BAD_IP', 'IPv6 payload length does not match the datagram');
    }
    const word = datagram.readUInt32BE(0);
    ip = {
      version: 6,
      src: formatIp(datagram.subarray(8, 24)),
      dst: formatIp(datagram.subarray(24, 40)),
      trafficClass: (word >>> 20) & 0xff,
      flowLabel: word & 0xfffff,
      hopLimit: datagram[7] ?? 0,
    };
  } else {
    throw new RoceError('ERR_ROCE_BAD_IP', `IP version ${version} is neither 4 nor 6`);
  }
  if (udp.readUInt16BE(4) !== datagram.length - ipBytes) {
    throw new RoceError('ERR_ROCE_BAD_IP', 'UDP length does not match the datagram');
  }
  return {
    headers: { ip: ipHeader, udp },
    addressing: { ip, srcPort: udp.readUInt16BE(0), dstPort: udp.readUInt16BE(2) },
    udpEnd: ipBytes + UDP_HEADER_BYTES,
  };
}

/**
 * Takes apart a whole IP datagram (as captured), checking the ICRC against the header bytes as they are
 * (so a nonzero IPv4 ID is honoured). In `strict` mode a bad ICRC throws ERR_ROCE_ICRC_MISMATCH.
 */
export function decodeRoceIpDatagram(datagram: Buffer, mode: IcrcMode = 'strict'): ReceivedRoceDatagram {
  const { headers, addressing, udpEnd } = parseIpUdp(datagram);
  const udpPayload = datagram.subarray(udpEnd);
  need(udpPayload, 0, ICRC_BYTES, 'RoCEv2 UDP payload');
  const transport = udpPayload.subarray(0, udpPayload.length - ICRC_BYTES);
  need(transport, 0, 12, 'BTH');
  const icrcOk = computeIcrc(headers.ip, headers.udp, transport) === readIcrc(udpPayload, transport.length);
  if (mode === 'strict' && !icrcOk) {
    throw new RoceError('ERR_ROCE_ICRC_MISMATCH', 'ICRC mismatch: the packet was corrupted in transit');
  }
  return { addressing, packet: decodeRocePacket(transport), icrcOk };
}
