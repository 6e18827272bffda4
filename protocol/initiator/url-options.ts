/** From an iSCSI URL to login options: portal, target, LUN, transport, CHAP and digest preferences. */
import type { PortalAddress } from '../datamover.js';
import type { InitiatorAuthConfig } from '../login/initiator-login.js';
import type { NegotiationConfig } from '../text/config.js';
import type { TransportKind } from '../text/negotiator.js';
import { InitiatorError } from './errors.js';
import { parseIscsiUrl, type IscsiUrl, type ParseIscsiUrlOptions } from './url.js';

/** The login options a URL determines. */
export interface UrlLoginOptions {
  readonly portal: PortalAddress;
  readonly transport: TransportKind;
  /** The target (absent in a portal URL). */
  readonly targetName?: string;
  /** The LUN (absent in a portal URL). */
  readonly lun?: number;
  readonly auth?: InitiatorAuthConfig;
  readonly negotiation?: NegotiationConfig;
}

/**
 * Login options from a URL (text or parsed). A user name needs a password; CHAP is mutual when target_user is
 * given; `auth=` restricts CHAP_A to that algorithm (with MD5 appended, as RFC 7143 §12.1.3 requires it offered).
 */
export function urlLoginOptions(
  url: string | IscsiUrl,
  parse: ParseIscsiUrlOptions = { form: 'any' },
): UrlLoginOptions {
  const parsed = typeof url === 'string' ? parseIscsiUrl(url, parse) : url;
  let auth: InitiatorAuthConfig | undefined;
  if (parsed.user !== undefined) {
    if (parsed.password === undefined) {
      throw new InitiatorError(
        'ERR_INITIATOR_BAD_URL',
        'invalid iSCSI URL: a CHAP user needs a password (user%password@)',
      );
    }
    const algorithms =
      parsed.chapAlgorithm === undefined ? undefined : parsed.chapAlgorithm === 5 ? [5] : [parsed.chapAlgorithm, 5];
    auth = {
      method: 'CHAP',
      credentials: { user: parsed.user, secret: parsed.password },
      ...(parsed.targetUser !== undefined && parsed.targetPassword !== undefined
        ? { mutual: { user: parsed.targetUser, secret: parsed.targetPassword } }
        : {}),
      ...(algorithms === undefined ? {} : { algorithms }),
    };
  }
  const negotiation: NegotiationConfig = {
    ...(parsed.headerDigest === undefined ? {} : { headerDigest: parsed.headerDigest }),
    ...(parsed.dataDigest === undefined ? {} : { dataDigest: parsed.dataDigest }),
  };
  return {
    portal: { host: parsed.host, port: parsed.port },
    transport: parsed.transport,
    ...(parsed.targetName === undefined ? {} : { targetName: parsed.targetName }),
    ...(parsed.lun === undefined ? {} : { lun: parsed.lun }),
    ...(auth === undefined ? {} : { auth }),
    ...(Object.keys(negotiation).length === 0 ? {} : { negotiation }),
  };
}
