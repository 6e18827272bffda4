/**
 * Parsing of MAC, IPv4 and IPv6 addresses given as text or bytes, for the frame synthesizers.
 */
import { TraceError } from './errors.js';

/** A MAC address: `'02:00:00:00:00:01'` or 6 bytes. */
export type MacAddress = string | Buffer;
/** An IPv4 or IPv6 address: dotted quad / RFC 4291 text, or 4 / 16 bytes. */
export type IpAddress = string | Buffer;

function bad(what: string, value: string | Buffer): TraceError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : `<${value.length} bytes>`;
  return new TraceError('ERR_TRACE_BAD_ADDRESS', `not a valid ${what} address: ${shown}`);
}

/** The 6 bytes of a MAC address. */
export function macBytes(mac: MacAddress): Buffer {
  if (typeof mac !== 'string') {
    if (mac.length !== 6) throw bad('MAC', mac);
    return mac;
  }
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) throw bad('MAC', mac);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/** The 4 bytes of an IPv4 address. */
export function ipv4Bytes(addr: IpAddress): Buffer {
  if (typeof addr !== 'string') {
    if (addr.length !== 4) throw bad('IPv4', addr);
    return addr;
  }
  const parts = addr.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) throw bad('IPv4', addr);
  return Buffer.from(parts.map(Number));
}

/** The 16 bytes of an IPv6 address (`::` compression and a trailing dotted quad are accepted). */
export function ipv6Bytes(addr: IpAddress): Buffer {
  if (typeof addr !== 'string') {
    if (addr.length !== 16) throw bad('IPv6', addr);
    return addr;
  }
  const halves = addr.split('::');
  if (halves.length > 2) throw bad('IPv6', addr);
  const words = (text: string | undefined): number[] => {
    if (text === undefined || text === '') return [];
    const out: number[] = [];
    const groups = text.split(':');
    groups.forEach((g, i) => {
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = ipv4Bytes(g);
        out.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        out.push(parseInt(g, 16));
      } else {
        throw bad('IPv6', addr);
      }
    });
    return out;
  };
  const head = words(halves[0]);
  const tail = words(halves[1]);
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) throw bad('IPv6', addr);
  const all = [...head, ...new Array<number>(halves.length === 1 ? 0 : fill).fill(0), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}
