/**
 * iSCSI URLs as libiscsi and QEMU spell them:
 *
 *     iscsi://[user[%password]@]host[:port]/target-iqn/lun[?key=value&...]
 *     iser://…                                   (same, over iSER)
 *
 * Query keys: `header_digest` and `data_digest` (none | crc32c | none-crc32c | crc32c-none), `target_user` and
 * `target_password` (mutual CHAP), `auth` (the CHAP algorithm: md5 | sha1 | sha-256 | sha3-256). A portal URL
 * (for discovery) stops after the host. IPv6 hosts are bracketed.
 *
 * libiscsi splits on `@`, `%`, `/`, `?`, `&` without escapes, and so do we: the user name ends at the first `%`,
 * the password runs to the last `@`, and values that would change the split cannot be written. Parsing is strict
 * (a URL is hostile input) and errors never quote a password; {@link redactIscsiUrl} makes a URL safe to log.
 */
import type { ChapAlgorithmId } from '../login/chap.js';
import { isIscsiName } from '../text/config.js';
import type { TransportKind } from '../text/negotiator.js';
import type { Digest } from '../text/params.js';
import { InitiatorError } from './errors.js';

/** The well-known iSCSI port. */
export const ISCSI_DEFAULT_PORT = 3260;

/** Longest URL accepted. */
export const MAX_URL_LENGTH = 4096;

/** Highest LUN a URL may name (flat space addressing). */
export const MAX_URL_LUN = 16383;

/** What an iSCSI URL names. */
export interface IscsiUrl {
  /** `tcp` for iscsi://, `iser` for iser://. */
  readonly transport: TransportKind;
  /** Host name, IPv4 address, or IPv6 address (without brackets). */
  readonly host: string;
  /** TCP port (3260 unless given). */
  readonly port: number;
  /** The target's iSCSI name; undefined in a portal URL. */
  readonly targetName?: string;
  /** The LUN; undefined in a portal URL. */
  readonly lun?: number;
  /** CHAP name the initiator authenticates as. */
  readonly user?: string;
  /** CHAP secret of `user`. Never logged. */
  readonly password?: string;
  /** Mutual CHAP: the name the target authenticates as. */
  readonly targetUser?: string;
  /** Mutual CHAP: the target's secret. Never logged. */
  readonly targetPassword?: string;
  /** HeaderDigest values to offer, in order of preference. */
  readonly headerDigest?: readonly Digest[];
  /** DataDigest values to offer, in order of preference. */
  readonly dataDigest?: readonly Digest[];
  /** The CHAP algorithm to offer. */
  readonly chapAlgorithm?: ChapAlgorithmId;
}

/** Options of {@link parseIscsiUrl}. */
export interface ParseIscsiUrlOptions {
  /** `target` (default): target name and LUN required; `portal`: neither allowed; `any`: either form. */
  readonly form?: 'target' | 'portal' | 'any';
}

const DIGESTS: ReadonlyMap<string, readonly Digest[]> = new Map([
  ['none', ['None']],
  ['crc32c', ['CRC32C']],
  ['none-crc32c', ['None', 'CRC32C']],
  ['crc32c-none', ['CRC32C', 'None']],
]);

const ALGORITHMS: ReadonlyMap<string, ChapAlgorithmId> = new Map([
  ['md5', 5],
  ['sha1', 6],
  ['sha-256', 7],
  ['sha3-256', 8],
]);

const QUERY_KEYS = new Set(['header_digest', 'data_digest', 'target_user', 'target_password', 'auth']);

// eslint-disable-next-line no-control-regex
const CONTROL_OR_SPACE = /[\s\u0000-\u001f\u007f]/u;
const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

function bad(message: string): never {
  throw new InitiatorError('ERR_INITIATOR_BAD_URL', `invalid iSCSI URL: ${message}`);
}

function parseBoundedInt(text: string, max: number, what: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) bad(`${what} must be a decimal number`);
  const n = Number(text);
  if (n > max) bad(`${what} ${n} is above ${max}`);
  return n;
}

function checkCredential(value: string, what: string, forbidden: RegExp): string {
  if (value.length === 0) bad(`${what} is empty`);
  if (Buffer.byteLength(value, 'utf8') > 255) bad(`${what} is longer than 255 bytes`);
  if (forbidden.test(value)) bad(`${what} holds a character that cannot be written in an iSCSI URL`);
  return value;
}

/** Characters each part may not hold, so that the split is unambiguous. */
/* eslint-disable no-control-regex */
const USER_FORBIDDEN = /[%@/?&=#\s\u0000-\u001f\u007f]/u;
const PASSWORD_FORBIDDEN = /[?#\s\u0000-\u001f\u007f]/u;
const QUERY_VALUE_FORBIDDEN = /[&#?\s\u0000-\u001f\u007f]/u;
/* eslint-enable no-control-regex */

function parseHost(text: string): { host: string; port: number } {
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) bad('an IPv6 address lacks its closing bracket');
    host = text.slice(1, close);
    if (host.length === 0 || !IPV6.test(host) || !host.includes(':')) bad('the bracketed host is not an IPv6 address');
    const after = text.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) bad('unexpected characters after the IPv6 address');
      portText = after.slice(1);
    }
  } else {
    const colon = text.indexOf(':');
    host = colon === -1 ? text : text.slice(0, colon);
    portText = colon === -1 ? undefined : text.slice(colon + 1);
    if (host.length === 0) bad('the host is empty');
    if (host.length > 253 || !HOST_NAME.test(host)) bad('the host is not a host name or IPv4 address');
  }
  const port = portText === undefined ? ISCSI_DEFAULT_PORT : parseBoundedInt(portText, 65535, 'the port');
  if (port === 0) bad('the port is 0');
  return { host, port };
}

/** Parses an iscsi:// or iser:// URL. Throws {@link InitiatorError} ERR_INITIATOR_BAD_URL, never quoting secrets. */
export function parseIscsiUrl(text: string, options: ParseIscsiUrlOptions = {}): IscsiUrl {
  const form = options.form ?? 'target';
  if (typeof text !== 'string') bad('not a string');
  if (text.length > MAX_URL_LENGTH) bad(`longer than ${MAX_URL_LENGTH} characters`);
  if (CONTROL_OR_SPACE.test(text)) bad('it holds whitespace or control characters');
  const scheme = /^([A-Za-z]+):\/\//.exec(text);
  const schemeName = scheme?.[1]?.toLowerCase();
  if (schemeName !== 'iscsi' && schemeName !== 'iser') bad('the scheme must be iscsi:// or iser://');
  const transport: TransportKind = schemeName === 'iser' ? 'iser' : 'tcp';
  let rest = text.slice((scheme?.[0] ?? '').length);
  if (rest.includes('#')) bad('fragments (#) are not allowed');

  let query: string | undefined;
  const questionMark = rest.indexOf('?');
  if (questionMark !== -1) {
    query = rest.slice(questionMark + 1);
    rest = rest.slice(0, questionMark);
  }

  let user: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const percent = userinfo.indexOf('%');
    user = checkCredential(percent === -1 ? userinfo : userinfo.slice(0, percent), 'the user name', USER_FORBIDDEN);
    if (percent !== -1) password = checkCredential(userinfo.slice(percent + 1), 'the password', PASSWORD_FORBIDDEN);
  }

  const slash = rest.indexOf('/');
  const { host, port } = parseHost(slash === -1 ? rest : rest.slice(0, slash));
  const path = slash === -1 ? '' : rest.slice(slash + 1);

  let targetName: string | undefined;
  let lun: number | undefined;
  if (path !== '') {
    const parts = path.split('/');
    if (parts.length !== 2) bad('the path must be /target-name/lun');
    const [name = '', lunText = ''] = parts;
    if (!isIscsiName(name) || name.includes('%') || name.includes('@')) bad('the target name is not an iSCSI name');
    targetName = name;
    lun = parseBoundedInt(lunText, MAX_URL_LUN, 'the LUN');
  }
  if (form === 'target' && targetName === undefined) bad('a target URL needs /target-name/lun');
  if (form === 'portal' && targetName !== undefined) bad('a portal URL has no target name or LUN');

  const parsed: {
    headerDigest?: readonly Digest[];
    dataDigest?: readonly Digest[];
    targetUser?: string;
    targetPassword?: string;
    chapAlgorithm?: ChapAlgorithmId;
  } = {};
  if (query !== undefined) {
    if (query === '') bad('the query is empty');
    const seen = new Set<string>();
    for (const item of query.split('&')) {
      const equals = item.indexOf('=');
      if (equals <= 0) bad('every query item must be key=value');
      const key = item.slice(0, equals);
      const value = item.slice(equals + 1);
      if (!QUERY_KEYS.has(key)) bad(`unknown query key ${JSON.stringify(key.slice(0, 32))}`);
      if (seen.has(key)) bad(`query key ${key} appears twice`);
      seen.add(key);
      if (value === '') bad(`query key ${key} has no value`);
      switch (key) {
        case 'header_digest':
        case 'data_digest': {
          const digest = DIGESTS.get(value.toLowerCase());
          if (digest === undefined) bad(`${key} must be none, crc32c, none-crc32c or crc32c-none`);
          if (key === 'header_digest') parsed.headerDigest = digest;
          else parsed.dataDigest = digest;
          break;
        }
        case 'target_user':
          parsed.targetUser = checkCredential(value, 'target_user', QUERY_VALUE_FORBIDDEN);
          break;
        case 'target_password':
          parsed.targetPassword = checkCredential(value, 'target_password', QUERY_VALUE_FORBIDDEN);
          break;
        case 'auth': {
          const algorithm = ALGORITHMS.get(value.toLowerCase());
          if (algorithm === undefined) bad('auth must be md5, sha1, sha-256 or sha3-256');
          parsed.chapAlgorithm = algorithm;
          break;
        }
      }
    }
  }
  if ((parsed.targetUser === undefined) !== (parsed.targetPassword === undefined)) {
    bad('target_user and target_password go together');
  }
  if (parsed.targetUser !== undefined && user === undefined) bad('mutual CHAP (target_user) needs a user name too');
  if (parsed.chapAlgorithm !== undefined && user === undefined) bad('auth= needs a user name (CHAP)');

  return {
    transport,
    host,
    port,
    ...(targetName === undefined ? {} : { targetName, lun }),
    ...(user === undefined ? {} : { user }),
    ...(password === undefined ? {} : { password }),
    ...parsed,
  };
}

function digestText(digests: readonly Digest[]): string {
  for (const [text, list] of DIGESTS) {
    if (list.length === digests.length && list.every((d, i) => d === digests[i])) return text;
  }
  return bad('a digest list this URL form cannot express');
}

/** Options of {@link formatIscsiUrl}. */
export interface FormatIscsiUrlOptions {
  /** Write `***` instead of passwords (default true: formatted URLs end up in logs). */
  readonly redact?: boolean;
}

/** Writes an {@link IscsiUrl} back as text; throws ERR_INITIATOR_BAD_URL for parts the syntax cannot carry. */
export function formatIscsiUrl(url: IscsiUrl, options: FormatIscsiUrlOptions = {}): string {
  const redact = options.redact ?? true;
  const secret = (value: string, what: string, forbidden: RegExp): string =>
    redact ? '***' : checkCredential(value, what, forbidden);
  let text = url.transport === 'iser' ? 'iser://' : 'iscsi://';
  if (url.user !== undefined) {
    text += checkCredential(url.user, 'the user name', USER_FORBIDDEN);
    if (url.password !== undefined) text += `%${secret(url.password, 'the password', PASSWORD_FORBIDDEN)}`;
    text += '@';
  } else if (url.password !== undefined) {
    bad('a password needs a user name');
  }
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  text += url.port === ISCSI_DEFAULT_PORT ? host : `${host}:${url.port}`;
  if (url.targetName !== undefined) {
    if (url.lun === undefined) bad('a target name needs a LUN');
    text += `/${url.targetName}/${url.lun}`;
  }
  const query: string[] = [];
  if (url.headerDigest !== undefined) query.push(`header_digest=${digestText(url.headerDigest)}`);
  if (url.dataDigest !== undefined) query.push(`data_digest=${digestText(url.dataDigest)}`);
  if (url.targetUser !== undefined) {
    query.push(`target_user=${checkCredential(url.targetUser, 'target_user', QUERY_VALUE_FORBIDDEN)}`);
  }
  if (url.targetPassword !== undefined) {
    query.push(`target_password=${secret(url.targetPassword, 'target_password', QUERY_VALUE_FORBIDDEN)}`);
  }
  if (url.chapAlgorithm !== undefined) {
    const name = [...ALGORITHMS].find(([, id]) => id === url.chapAlgorithm)?.[0];
    if (name === undefined) bad('unknown CHAP algorithm');
    query.push(`auth=${name}`);
  }
  return query.length === 0 ? text : `${text}?${query.join('&')}`;
}

/**
 * A URL safe to log: passwords replaced by `***`. Works on malformed URLs too (best effort, erring on the side of
 * hiding more): everything between the first `%` and the last `@`, and every `*password=` value, is masked.
 */
export function redactIscsiUrl(text: string): string {
  const at = text.lastIndexOf('@');
  const start = text.indexOf('://');
  let out = text;
  if (at !== -1 && start !== -1) {
    const userinfo = text.slice(start + 3, at);
    const percent = userinfo.indexOf('%');
    if (percent !== -1) out = `${text.slice(0, start + 3 + percent)}%***${text.slice(at)}`;
  }
  return out.replace(/(password=)[^&#]*/giu, '$1***');
}
