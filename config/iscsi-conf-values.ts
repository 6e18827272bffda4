/**
 * Values of iscsi.conf(5) keys, parsed the way iscsictl accepts them: target addresses (`host[:port]`, IPv6 in
 * brackets), DiffServ codepoints (numbers or the cs/af/ef/be names), small integers, and on/off switches.
 * Each returns either the value or a message saying what is accepted.
 */

/** A parsed value, or why it is not one. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/** Where a target listens. */
export interface TargetPortal {
  /** Host name, IPv4 address, or IPv6 address (without brackets). */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/** The well-known iSCSI port. */
export const DEFAULT_ISCSI_PORT = 3260;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(message: string): Parsed<T> => ({ ok: false, message });

function port(text: string, whole: string): Parsed<number> {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    return bad(`"${whole}": the port must be a number from 1 to 65535`);
  }
  return ok(Number(text));
}

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port` (port default 3260). */
export function parseTargetAddress(text: string): Parsed<TargetPortal> {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    const host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (close === -1 || host === '' || !/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(':')) {
      return bad(`"${text}": a bracketed address must be an IPv6 address, e.g. [2001:db8::1]:3260`);
    }
    if (rest === '') return ok({ host, port: DEFAULT_ISCSI_PORT });
    if (!rest.startsWith(':')) return bad(`"${text}": expected ":port" after the bracketed address`);
    const parsed = port(rest.slice(1), text);
    return parsed.ok ? ok({ host, port: parsed.value }) : parsed;
  }
  const parts = text.split(':');
  if (parts.length > 2) return bad(`"${text}": an IPv6 address must be in brackets, e.g. [2001:db8::1]:3260`);
  const [host = '', portText] = parts;
  if (!/^[^\s[\]]+$/.test(host)) return bad(`"${text}": expected address[:port]`);
  if (portText === undefined) return ok({ host, port: DEFAULT_ISCSI_PORT });
  const parsed = port(portText, text);
  return parsed.ok ? ok({ host, port: parsed.value }) : parsed;
}

/** Formats a portal back as TargetAddress text. */
export function formatTargetAddress(portal: TargetPortal): string {
  const host = portal.host.includes(':') ? `[${portal.host}]` : portal.host;
  return `${host}:${portal.port}`;
}

/** DSCP names iscsictl knows: class selectors, assured forwarding, expedited forwarding, best effort. */
function dscpName(name: string): number | undefined {
  const lower = name.toLowerCase();
  if (lower === 'be') return 0;
  if (lower === 'ef') return 46;
  const cs = /^cs([0-7])$/.exec(lower);
  if (cs?.[1] !== undefined) return Number(cs[1]) * 8;
  const af = /^af([1-4])([1-3])$/.exec(lower);
  if (af?.[1] !== undefined && af[2] !== undefined) return Number(af[1]) * 8 + Number(af[2]) * 2;
  return undefined;
}

/** Parses a DiffServ codepoint: decimal, 0x-hex, or a name (be, ef, cs0..cs7, af11..af43); 0 to 63. */
export function parseDscp(text: string): Parsed<number> {
  const named = dscpName(text);
  if (named !== undefined) return ok(named);
  let value: number | undefined;
  if (/^0x[0-9a-f]{1,2}$/i.test(text)) value = Number.parseInt(text.slice(2), 16);
  else if (/^(0|[1-9]\d{0,2})$/.test(text)) value = Number(text);
  if (value === undefined || value > 63) {
    return bad(`"${text}" is not a DSCP: use 0..63 (decimal or 0x hex), or be, ef, cs0..cs7, af11..af43`);
  }
  return ok(value);
}

/** Parses a decimal integer within [min, max] (no sign, no leading zeros). */
export function parseInteger(text: string, min: number, max: number, what: string): Parsed<number> {
  if (!/^(0|[1-9]\d{0,9})$/.test(text) || Number(text) < min || Number(text) > max) {
    return bad(`${what} must be an integer from ${min} to ${max}, not "${text}"`);
  }
  return ok(Number(text));
}

/** Parses Enable's values: on/yes or off/no, any case. */
export function parseSwitch(text: string): Parsed<boolean> {
  const lower = text.toLowerCase();
  if (lower === 'on' || lower === 'yes') return ok(true);
  if (lower === 'off' || lower === 'no') return ok(false);
  return bad(`"${text}" must be "on" or "off"`);
}

/** Parses one of a fixed set of words, any case, returning its canonical spelling. */
export function parseChoice<T extends string>(text: string, choices: readonly T[], what: string): Parsed<T> {
  const found = choices.find((choice) => choice.toLowerCase() === text.toLowerCase());
  return found === undefined
    ? bad(`${what} must be ${choices.map((c) => `"${c}"`).join(' or ')}, not "${text}"`)
    : ok(found);
}
