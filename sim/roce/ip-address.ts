/**
 * IP addresses as RoCEv2 uses them: bytes for headers, and GIDs (IPv4 as `::ffff:a.b.c.d`) for CM paths.
 */
import { RoceError } from './errors.js';

/** An IPv4 or IPv6 address: dotted quad / RFC 4291 text, or 4 / 16 bytes. */
export type IpAddress = string | Buffer;

function bad(what: string, value: IpAddress): RoceError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : `<${value.length} bytes>`;
  return new RoceError('ERR_ROCE_BAD_IP', `not a valid ${what} address: ${shown}`);
}

/** The 4 bytes of an IPv4 address. */
export function ipv4Bytes(addr: IpAddress): Buffer {
  if (typeof addr !== 'string') {
    if (addr.length !== 4) throw bad('IPv4', addr);
    return Buffer.from(addr);
  }
  const parts = addr.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) throw bad('IPv4', addr);
  return Buffer.from(parts.map(Number));
}

/** The 16 bytes of an IPv6 address (`::` compression and a trailing dotted quad are accepted). */
export function ipv6Bytes(addr: IpAddress): Buffer {
  if (typeof addr !== 'string') {
    if (addr.length !== 16) throw bad('IPv6', addr);
    return Buffer.from(addr);
  }
  const halves = addr.split('::');
  if (halves.length > 2) throw bad('IPv6', addr);
  const words = (text: string): number[] => {
    if (text === '') return [];
    const groups = text.split(':');
    return groups.flatMap((g, i) => {
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = ipv4Bytes(g);
        return [v4.readUInt16BE(0), v4.readUInt16BE(2)];
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad('IPv6', addr);
      return [parseInt(g, 16)];
    });
  };
  const head = words(halves[0] ?? '');
  const tail = halves.length === 2 ? words(halves[1] ?? '') : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) throw bad('IPv6', addr);
  const out = Buffer.alloc(16);
  [...head, ...new Array<number>(halves.length === 1 ? 0 : fill).fill(0), ...tail].forEach((w, i) =>
    out.writeUInt16BE(w, i * 2),
  );
  return out;
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
