/**
 * libiscsi's URL form, `iscsi://[user[%secret]@]host[:port]/target-iqn/lun[?header_digest=..&target_user=..]`
 * (libiscsi lib/init.c `iscsi_parse_url`). Every libiscsi tool and iscsi-test-cu take one.
 *
 * libiscsi splits the URL on `@`, `%`, `:`, `/`, `?`, `&` and `=` without escapes, so names and secrets that hold
 * one of those cannot travel in a URL: we refuse them rather than build a URL that means something else.
 */
import { PeerError, PeerErrorCode } from './errors.js';
import { assertLoopback } from './free-port.js';

/** A CHAP name and secret. */
export interface ChapCredentials {
  readonly user: string;
  readonly secret: string;
}

/** What an iSCSI URL names. */
export interface IscsiUrlParts {
  readonly host: string;
  readonly port: number;
  /** Target name; omit for a portal URL (discovery: iscsi-ls). */
  readonly iqn?: string;
  /** LUN; required with `iqn`. */
  readonly lun?: number;
  /** One-way CHAP: the initiator proves itself to the target. */
  readonly chap?: ChapCredentials;
  /** Mutual CHAP: the target proves itself back (libiscsi's `target_user`/`target_password`). Needs `chap`. */
  readonly mutualChap?: ChapCredentials;
  /** `header_digest=`: libiscsi accepts only these two; without it libiscsi offers `None,CRC32C`. */
  readonly headerDigest?: 'none' | 'crc32c';
}

const URL_SPECIALS = /[@%:/?&=\s]/;

/** Builds a libiscsi URL; throws a {@link PeerError} for non-loopback hosts or unencodable names. */
export function iscsiUrl(parts: IscsiUrlParts): string {
  assertLoopback(parts.host);
  let url = 'iscsi://';
  if (parts.chap !== undefined) {
    url += `${plain('CHAP user', parts.chap.user)}%${plain('CHAP secret', parts.chap.secret)}@`;
  } else if (parts.mutualChap !== undefined) {
    throw new PeerError(PeerErrorCode.BadOption, 'mutual CHAP needs one-way CHAP credentials too');
  }
  url += `${parts.host}:${parts.port}`;
  if (parts.iqn !== undefined) {
    if (parts.lun === undefined) throw new PeerError(PeerErrorCode.BadOption, 'a target URL needs a LUN');
    url += `/${plain('target name', parts.iqn, /[/?&@%\s]/)}/${parts.lun}`;
  }
  const query: string[] = [];
  if (parts.headerDigest !== undefined) query.push(`header_digest=${parts.headerDigest}`);
  if (parts.mutualChap !== undefined) {
    query.push(`target_user=${plain('target CHAP user', parts.mutualChap.user)}`);
    query.push(`target_password=${plain('target CHAP secret', parts.mutualChap.secret)}`);
  }
  return query.length === 0 ? url : `${url}?${query.join('&')}`;
}

function plain(what: string, value: string, forbidden: RegExp = URL_SPECIALS): string {
  if (value === '' || forbidden.test(value)) {
    throw new PeerError(
      PeerErrorCode.BadOption,
      `${what} ${JSON.stringify(value)} cannot be written in a libiscsi URL`,
    );
  }
  return value;
}
