/**
 * IP addresses as RoCEv2 uses them: bytes for headers, and GIDs (IPv4 as `::ffff:a.b.c.d`) for CM paths.
 * Parsing is `sim/trace/addresses.ts`'s (one parser for all of `sim/`); this layer throws ERR_ROCE_BAD_IP.
 */
import { parseIpv4, parseIpv6, type IpAddress } from '../trace/addresses.js';
import { RoceError } from './errors.js';

/** An IPv4 or IPv6 address: dotted quad / RFC 4291 text, or 4 / 16 bytes. */
export type { IpAddress };

function bad(what: string, value: IpAddress): RoceError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : `<${value.length} bytes>`;
  return new RoceError('ERR_ROCE_BAD_IP', `not a valid ${what} address: ${shown}`);
}

/** The 4 bytes of an IPv4 address (throws ERR_ROCE_BAD_IP). */
export function ipv4Bytes(addr: IpAddress): Buffer {
  const bytes = parseIpv4(addr);
  if (bytes === undefined) throw bad('IPv4', addr);
  return bytes;
}

/** The 16 bytes of an IPv6 address, `::` compression and a trailing dotted quad accepted (throws ERR_ROCE_BAD_IP). */
export function ipv6Bytes(addr: IpAddress): Buffer {
  const bytes = parseIpv6(addr);
  if (bytes === undefined) throw bad('IPv6', addr);
  return bytes;
}

const V4_MAPPED_PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/** The RoCEv2 GID of an address: IPv4 becomes the IPv4-mapped IPv6 address `::ffff:a.b.c.d`. */
export function gidFromIp(addr: IpAddress, version: 4 | 6): Buffer {
  return version === 4 ? Buffer.concat([V4_MAPPED_PREFIX, ipv4Bytes(addr)]) : ipv6Bytes(addr);
}

/** True when a 16-byte GID is IPv4-mapped (`::ffff:a.b.c.d`). */
export function isIpv4MappedGid(gid: Buffer): boolean {
  return gid.length === 16 && gid.subarray(0, 12).equals(V4_MAPPED_PREFIX);
}

/** Text form of a 4- or 16-byte address; IPv4-mapped GIDs print as the IPv4 address. */
export function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length !== 16) throw bad('IP', bytes);
  if (isIpv4MappedGid(bytes)) return [...bytes.subarray(12)].join('.');
  const words = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  // Compress the longest run of two or more zero words (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
