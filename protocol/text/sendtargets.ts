/**
 * Answers to SendTargets (RFC 7143 §13.3, Appendix C): a TargetName followed by the TargetAddress pairs of the
 * portals that reach it, repeated per target. Decode the text with `allowDuplicateKeys`, then group it here.
 */
import type { TextPair } from './codec.js';
import { TextError } from './errors.js';

/** A portal a target is reachable at: TargetAddress=domainname[:port][,portal-group-tag]. */
export interface TargetAddress {
  /** DNS name, IPv4 address, or IPv6 address (without brackets). */
  readonly host: string;
  /** TCP port, when given (the well-known port is 3260). */
  readonly port: number | undefined;
  /** Target portal group tag, when given. */
  readonly portalGroupTag: number | undefined;
}

/** One target of a SendTargets answer. */
export interface DiscoveredTarget {
  /** The target's iSCSI name. */
  readonly name: string;
  /** Its portals, in the order given. */
  readonly addresses: readonly TargetAddress[];
}

function bad(value: string): never {
  throw new TextError('ERR_TEXT_BAD_DECLARATION', `malformed TargetAddress ${JSON.stringify(value.slice(0, 80))}`, {
    key: 'TargetAddress',
  });
}

function parseBounded(text: string, max: number, value: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) bad(value);
  const n = Number(text);
  if (n > max) bad(value);
  return n;
}

/** Parses a TargetAddress value. IPv6 addresses are bracketed (RFC 7143 §13.8). */
export function parseTargetAddress(value: string): TargetAddress {
  let rest = value;
  let portalGroupTag: number | undefined;
  const comma = rest.lastIndexOf(',');
  if (comma !== -1) {
    portalGroupTag = parseBounded(rest.slice(comma + 1), 65535, value);
    rest = rest.slice(0, comma);
  }
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) bad(value);
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) bad(value);
      portText = after.slice(1);
    }
  } else {
    const colon = rest.indexOf(':');
    if (colon !== rest.lastIndexOf(':')) bad(value);
    host = colon === -1 ? rest : rest.slice(0, colon);
    portText = colon === -1 ? undefined : rest.slice(colon + 1);
  }
  if (host.length === 0 || /[\s,[\]]/.test(host)) bad(value);
  const port = portText === undefined ? undefined : parseBounded(portText, 65535, value);
  return { host, port, portalGroupTag };
}

/** Formats a TargetAddress value, bracketing IPv6 addresses. */
export function formatTargetAddress(address: TargetAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  const port = address.port === undefined ? '' : `:${address.port}`;
  const tag = address.portalGroupTag === undefined ? '' : `,${address.portalGroupTag}`;
  return `${host}${port}${tag}`;
}

/** Groups the pairs of a SendTargets answer by target. A TargetAddress before any TargetName is an error. */
export function parseSendTargetsResponse(pairs: readonly TextPair[]): DiscoveredTarget[] {
  const targets: { name: string; addresses: TargetAddress[] }[] = [];
  for (const { key, value } of pairs) {
    if (key === 'TargetName') {
      if (value.length === 0) bad(value);
      targets.push({ name: value, addresses: [] });
    } else if (key === 'TargetAddress') {
      const current = targets.at(-1);
      if (current === undefined) bad(value);
      current.addresses.push(parseTargetAddress(value));
    }
    // Other keys (e.g. TargetAlias) may accompany the answer; they carry nothing SendTargets needs.
  }
  return targets;
}

/** Builds the pairs of a SendTargets answer. */
export function formatSendTargetsResponse(targets: readonly DiscoveredTarget[]): TextPair[] {
  return targets.flatMap((target) => [
    { key: 'TargetName', value: target.name },
    ...target.addresses.map((address) => ({ key: 'TargetAddress', value: formatTargetAddress(address) })),
  ]);
}
