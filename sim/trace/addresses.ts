/**
 * Parsing of MAC, IPv4 and IPv6 addresses given as text or bytes: the one address parser of `sim/`. The frame
 * synthesizers here throw {@link TraceError}; `sim/roce/ip-address.ts` builds on {@link parseIpv4} and
 * {@link parseIpv6} and throws its own layer's error.
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

/** A copy of the 4 bytes of an IPv4 address, or undefined when `addr` is not one. */
export function parseIpv4(addr: IpAddress): Buffer | undefined {
  if (typeof addr !== 'string') return addr.length === 4 ? Buffer.from(addr) : undefined;
  const parts = addr.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return Buffer.from(parts.map(Number));
}

/** A copy of the 16 bytes of an IPv6 address (`::` and a trailing dotted quad accepted), or undefined. */
export function parseIpv6(addr: IpAddress): Buffer | undefined {
  if (typeof addr !== 'string') return addr.length === 16 ? Buffer.from(addr) : undefined;
  const halves = addr.split('::');
  if (halves.length > 2) return undefined;
  const words = (text: string): number[] | undefined => {
    if (text === '') return [];
    const out: number[] = [];
    const groups = text.split(':');
    for (const [i, g] of groups.entries()) {
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        if (v4 === undefined) return undefined;
        out.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        out.push(parseInt(g, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = words(halves[0] ?? '');
  const tail = words(halves[1] ?? '');
  if (head === undefined || tail === undefined) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const out = Buffer.alloc(16);
  [...head, ...new Array<number>(halves.length === 1 ? 0 : fill).fill(0), ...tail].forEach((w, i) =>
    out.writeUInt16BE(w, i * 2),
  );
  return out;
}

/** The 4 bytes of an IPv4 address (throws ERR_TRACE_BAD_ADDRESS). */
export function ipv4Bytes(addr: IpAddress): Buffer {
  const bytes = parseIpv4(addr);
  if (bytes === undefined) throw bad('IPv4', addr);
  return bytes;
}

/** The 16 bytes of an IPv6 address (throws ERR_TRACE_BAD_ADDRESS). */
export function ipv6Bytes(addr: IpAddress): Buffer {
  const bytes = parseIpv6(addr);
  if (bytes === undefined) throw bad('IPv6', addr);
  return bytes;
}
