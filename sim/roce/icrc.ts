/**
 * The RoCEv2 invariant CRC exactly as rxe computes it (`rxe_icrc.c`), checked against scapy's `compute_icrc`.
 *
 * CRC-32 over: 8 bytes of 0xFF (the masked LRH IB would have; rxe starts from the equivalent 0xdebb20e3), the IP
 * header with its variant fields set to all ones (IPv4: TOS, TTL, header checksum; IPv6: traffic class, flow
 * label, hop limit), the UDP header with checksum 0xFFFF, the BTH with byte 4 (FECN, BECN, resv6a) 0xFF, then
 * everything else up to and including the pad. The result goes on the wire least-significant byte first.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';
import { BTH_BYTES } from './bth.js';
import { RoceError } from './errors.js';
import { need } from './fields.js';

/** Size of the ICRC trailer in bytes. */
export const ICRC_BYTES = 4;

/** Size of an IPv4 header without options, the only kind rxe sends. */
export const IPV4_HEADER_BYTES = 20;

/** Size of an IPv6 header (rxe uses no extension headers). */
export const IPV6_HEADER_BYTES = 40;

/** Size of a UDP header. */
export const UDP_HEADER_BYTES = 8;

const LRH_MASK = Buffer.alloc(8, 0xff);

/** A copy of an IPv4 (20-byte) or IPv6 (40-byte) header with the fields the ICRC does not cover set to ones. */
export function maskIpHeader(ip: Buffer): Buffer {
  const version = (ip[0] ?? 0) >> 4;
  if (version === 4) {
    if (ip.length !== IPV4_HEADER_BYTES || ip[0] !== 0x45) {
      throw new RoceError('ERR_ROCE_BAD_IP', 'RoCEv2 over IPv4 needs a 20-byte header without options');
    }
    const masked = Buffer.from(ip);
    masked[1] = 0xff; // TOS
    masked[8] = 0xff; // TTL
    masked.writeUInt16BE(0xffff, 10); // header checksum
    return masked;
  }
  if (version === 6 && ip.length === IPV6_HEADER_BYTES) {
    const masked = Buffer.from(ip);
    masked.writeUInt32BE(0x6fff_ffff, 0); // traffic class and flow label
    masked[7] = 0xff; // hop limit
    return masked;
  }
  throw new RoceError('ERR_ROCE_BAD_IP', `not an IPv4 (20-byte) or IPv6 (40-byte) header: ${ip.length} bytes`);
}

/**
 * The ICRC (as a number; {@link writeIcrc} puts it on the wire) of `transport` (BTH .. pad, no ICRC) sent in
 * the given IP and UDP headers, which must be the ones on the wire (lengths include the 4 ICRC bytes).
 */
export function computeIcrc(ipHeader: Buffer, udpHeader: Buffer, transport: Buffer): number {
  need(udpHeader, 0, UDP_HEADER_BYTES, 'UDP header');
  need(transport, 0, BTH_BYTES, 'BTH');
  const udp = Buffer.from(udpHeader.subarray(0, UDP_HEADER_BYTES));
  udp.writeUInt16BE(0xffff, 6);
  const bth = Buffer.from(transport.subarray(0, BTH_BYTES));
  bth[4] = 0xff;
  let crc = zlibCrc32(LRH_MASK);
  crc = zlibCrc32(maskIpHeader(ipHeader), crc);
  crc = zlibCrc32(udp, crc);
  crc = zlibCrc32(bth, crc);
  return zlibCrc32(transport.subarray(BTH_BYTES), crc) >>> 0;
}

/** Writes `icrc` at `offset` of `out`, least-significant byte first, as rxe does. */
export function writeIcrc(icrc: number, out: Buffer, offset: number): void {
  need(out, offset, ICRC_BYTES, 'ICRC');
  out.writeUInt32LE(icrc >>> 0, offset);
}

/** Reads the ICRC at `offset` of `buf`. */
export function readIcrc(buf: Buffer, offset: number): number {
  need(buf, offset, ICRC_BYTES, 'ICRC');
  return buf.readUInt32LE(offset);
}
