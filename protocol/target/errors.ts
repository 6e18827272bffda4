/**
 * Errors of the target's configuration model. A configuration a person wrote gets a message that names the
 * offending target, LUN, portal or account, and a stable code a script can match.
 */
import { IserError } from '../errors.js';

/** Stable codes of {@link TargetConfigError}. */
export type TargetConfigErrorCode =
  /** A target or initiator name is not a valid iSCSI name (RFC 7143 §4.2.7). */
  | 'ERR_TARGET_CONFIG_NAME'
  /** Two targets, LUNs, portal groups, portals or CHAP users share what must be unique. */
  | 'ERR_TARGET_CONFIG_DUPLICATE'
  /** A LUN number is out of range or its backend is unusable. */
  | 'ERR_TARGET_CONFIG_LUN'
  /** A portal or portal group is malformed, or a target names a portal group that does not exist. */
  | 'ERR_TARGET_CONFIG_PORTAL'
  /** A CHAP account is unusable (empty user, short secret, one secret for both directions). */
  | 'ERR_TARGET_CONFIG_CHAP'
  /** A number (queue depth, timer) or negotiation preference is out of range. */
  | 'ERR_TARGET_CONFIG_VALUE';

/** A target configuration that cannot be served, and why. */
export class TargetConfigError extends IserError<TargetConfigErrorCode> {}
