/**
 * Errors of the login phase. Every failure is a {@link LoginError} with a stable code; where RFC 7143 §11.13.5
 * defines a status for it, the error carries that status class and detail, so an initiator can tell a refusal
 * it may retry (class 3) from one it may not (class 2).
 *
 * Messages say why a login failed and never include a secret (CHAP secrets, or responses derived from them).
 */
import { IserError, type IserErrorOptions } from '../errors.js';
import { LoginStatus, loginStatusCode, loginStatusName } from '../pdu/login.js';

/** Stable codes of {@link LoginError}. */
export type LoginErrorCode =
  /** 0x0200: miscellaneous initiator error (malformed text, illegal keys or flags). */
  | 'ERR_LOGIN_INITIATOR_ERROR'
  /** 0x0201: the initiator could not be authenticated (or, locally, an authentication exchange failed). */
  | 'ERR_LOGIN_AUTHENTICATION_FAILED'
  /** 0x0202: the initiator is not allowed to log in to this target (ACL). */
  | 'ERR_LOGIN_AUTHORIZATION_FAILED'
  /** 0x0203: the target name does not exist at this portal. */
  | 'ERR_LOGIN_TARGET_NOT_FOUND'
  /** 0x0204: the target was removed and has no forwarding address. */
  | 'ERR_LOGIN_TARGET_REMOVED'
  /** 0x0205: no iSCSI version both sides support. */
  | 'ERR_LOGIN_UNSUPPORTED_VERSION'
  /** 0x0206: the session already has as many connections as it may. */
  | 'ERR_LOGIN_TOO_MANY_CONNECTIONS'
  /** 0x0207: a required key (InitiatorName, TargetName) is missing. */
  | 'ERR_LOGIN_MISSING_PARAMETER'
  /** 0x0208: the target cannot add this connection to the session. */
  | 'ERR_LOGIN_CANNOT_INCLUDE_IN_SESSION'
  /** 0x0209: the session type is not supported (e.g. discovery is disabled). */
  | 'ERR_LOGIN_SESSION_TYPE_NOT_SUPPORTED'
  /** 0x020a: a non-zero TSIH names no existing session. */
  | 'ERR_LOGIN_SESSION_DOES_NOT_EXIST'
  /** 0x020b: a request that is not valid during login. */
  | 'ERR_LOGIN_INVALID_DURING_LOGIN'
  /** 0x0300: the target failed (retryable). */
  | 'ERR_LOGIN_TARGET_ERROR'
  /** 0x0301: the service is temporarily unavailable (retryable). */
  | 'ERR_LOGIN_SERVICE_UNAVAILABLE'
  /** 0x0302: the target is out of resources (retryable). */
  | 'ERR_LOGIN_OUT_OF_RESOURCES'
  /** A class 2 or 3 status RFC 7143 does not define. */
  | 'ERR_LOGIN_UNKNOWN_STATUS'
  /** The target broke the login rules (wrong ITT, ISID, stage, flags, sequence numbers, status class). */
  | 'ERR_LOGIN_PROTOCOL'
  /** Mutual CHAP: the target did not prove it knows the secret. */
  | 'ERR_LOGIN_TARGET_AUTHENTICATION_FAILED'
  /** An iSER login ended without RDMAExtensions=Yes. */
  | 'ERR_LOGIN_NO_ISER'
  /** The target's text broke the negotiation rules (the TextError is the cause). */
  | 'ERR_LOGIN_NEGOTIATION'
  /** The login took more PDU round trips than the configured bound. */
  | 'ERR_LOGIN_TOO_MANY_ROUND_TRIPS'
  /** Our own configuration is invalid (not the peer's fault). */
  | 'ERR_LOGIN_BAD_CONFIG'
  /** The state machine was driven out of order (e.g. an event after the login ended). */
  | 'ERR_LOGIN_STATE';

/** A login status as carried in a Login Response (RFC 7143 §11.13.5). */
export interface LoginStatusPair {
  /** Status-Class: 0 success, 1 redirection, 2 initiator error, 3 target error. */
  readonly statusClass: number;
  /** Status-Detail within the class. */
  readonly statusDetail: number;
}

/** The code for each status RFC 7143 defines (class 2 and 3). */
const codeOfStatus = new Map<number, LoginErrorCode>([
  [LoginStatus.InitiatorError, 'ERR_LOGIN_INITIATOR_ERROR'],
  [LoginStatus.AuthenticationFailure, 'ERR_LOGIN_AUTHENTICATION_FAILED'],
  [LoginStatus.AuthorizationFailure, 'ERR_LOGIN_AUTHORIZATION_FAILED'],
  [LoginStatus.NotFound, 'ERR_LOGIN_TARGET_NOT_FOUND'],
  [LoginStatus.TargetRemoved, 'ERR_LOGIN_TARGET_REMOVED'],
  [LoginStatus.UnsupportedVersion, 'ERR_LOGIN_UNSUPPORTED_VERSION'],
  [LoginStatus.TooManyConnections, 'ERR_LOGIN_TOO_MANY_CONNECTIONS'],
  [LoginStatus.MissingParameter, 'ERR_LOGIN_MISSING_PARAMETER'],
  [LoginStatus.CannotIncludeInSession, 'ERR_LOGIN_CANNOT_INCLUDE_IN_SESSION'],
  [LoginStatus.SessionTypeNotSupported, 'ERR_LOGIN_SESSION_TYPE_NOT_SUPPORTED'],
  [LoginStatus.SessionDoesNotExist, 'ERR_LOGIN_SESSION_DOES_NOT_EXIST'],
  [LoginStatus.InvalidDuringLogin, 'ERR_LOGIN_INVALID_DURING_LOGIN'],
  [LoginStatus.TargetError, 'ERR_LOGIN_TARGET_ERROR'],
  [LoginStatus.ServiceUnavailable, 'ERR_LOGIN_SERVICE_UNAVAILABLE'],
  [LoginStatus.OutOfResources, 'ERR_LOGIN_OUT_OF_RESOURCES'],
]);

/** What each status means for the initiator, in words. */
const meaningOfStatus = new Map<number, string>([
  [LoginStatus.InitiatorError, 'the target found an error in the login request'],
  [LoginStatus.AuthenticationFailure, 'the initiator could not be authenticated'],
  [LoginStatus.AuthorizationFailure, 'the initiator is not allowed to log in to this target'],
  [LoginStatus.NotFound, 'the target name does not exist at this portal'],
  [LoginStatus.TargetRemoved, 'the target was removed'],
  [LoginStatus.UnsupportedVersion, 'the target supports no iSCSI version in the requested range'],
  [LoginStatus.TooManyConnections, 'the session has no room for another connection'],
  [LoginStatus.MissingParameter, 'a required key (InitiatorName or TargetName) was missing'],
  [LoginStatus.CannotIncludeInSession, 'the target cannot add this connection to the session'],
  [LoginStatus.SessionTypeNotSupported, 'the target does not support this session type'],
  [LoginStatus.SessionDoesNotExist, 'no session exists with this TSIH'],
  [LoginStatus.InvalidDuringLogin, 'a request was not valid during login'],
  [LoginStatus.TargetError, 'the target failed'],
  [LoginStatus.ServiceUnavailable, 'the service is temporarily unavailable'],
  [LoginStatus.OutOfResources, 'the target is out of resources'],
]);

/** The error code of a class 2 or 3 login status. */
export function loginErrorCodeOf(status: LoginStatusPair): LoginErrorCode {
  return codeOfStatus.get(loginStatusCode(status.statusClass, status.statusDetail)) ?? 'ERR_LOGIN_UNKNOWN_STATUS';
}

/** Formats a status as `0x0201 AuthenticationFailure`. */
export function formatLoginStatus(status: LoginStatusPair): string {
  const code = loginStatusCode(status.statusClass, status.statusDetail);
  return `0x${code.toString(16).padStart(4, '0')} ${loginStatusName(status.statusClass, status.statusDetail)}`;
}

/** Options of a {@link LoginError}. */
export interface LoginErrorOptions extends IserErrorOptions {
  /** The RFC status: the one the target answered (or, at a target, sends); absent when none applies. */
  readonly status?: LoginStatusPair;
  /** Which side found the problem. */
  readonly detectedBy: 'initiator' | 'target';
  /** The text key the failure is about, if any. */
  readonly key?: string;
}

/** The only error the login state machines report or throw. */
export class LoginError extends IserError<LoginErrorCode> {
  /** Status-Class of the login status this failure carries, if one applies. */
  readonly statusClass: number | undefined;
  /** Status-Detail of the login status this failure carries, if one applies. */
  readonly statusDetail: number | undefined;
  /** Which side found the problem: the target (it sent, or at a target will send, the status) or the initiator. */
  readonly detectedBy: 'initiator' | 'target';
  /** True when the same login may succeed later unchanged (status class 3, RFC 7143 §11.13.5). */
  readonly retryable: boolean;
  /** The text key the failure is about, if any. */
  readonly key: string | undefined;

  constructor(code: LoginErrorCode, message: string, options: LoginErrorOptions) {
    super(code, message, options);
    this.statusClass = options.status?.statusClass;
    this.statusDetail = options.status?.statusDetail;
    this.detectedBy = options.detectedBy;
    this.retryable = options.status?.statusClass === 3;
    this.key = options.key;
  }

  /** The status as `class << 8 | detail`, comparable with `LoginStatus`, or undefined. */
  get status(): number | undefined {
    return this.statusClass === undefined || this.statusDetail === undefined
      ? undefined
      : loginStatusCode(this.statusClass, this.statusDetail);
  }
}

/** The error an initiator reports for a class 2 or 3 status the target answered, with the target's reason. */
export function loginErrorFromResponse(status: LoginStatusPair, context: string): LoginError {
  const code = loginStatusCode(status.statusClass, status.statusDetail);
  const meaning =
    meaningOfStatus.get(code) ??
    (status.statusClass === 3 ? 'the target reported an unknown target error' : 'the target reported an unknown error');
  const retry =
    status.statusClass === 3
      ? ' (retryable: the target sees no fault in the request; the same login may succeed later)'
      : ' (not retryable unchanged)';
  return new LoginError(
    loginErrorCodeOf(status),
    `${context}: target answered ${formatLoginStatus(status)}: ${meaning}${retry}`,
    {
      status,
      detectedBy: 'target',
    },
  );
}

/** A failure a target detects: the status it answers with, and why (for its own logs). */
export function targetLoginError(
  status: LoginStatusPair,
  reason: string,
  options: { readonly key?: string; readonly cause?: unknown } = {},
): LoginError {
  return new LoginError(loginErrorCodeOf(status), `${formatLoginStatus(status)}: ${reason}`, {
    status,
    detectedBy: 'target',
    ...options,
  });
}

/** A warning a login succeeded with. */
export interface LoginWarning {
  /** `short-chap-secret`: a CHAP secret under 96 bits was used (allowed by `allowShortSecrets`). */
  readonly code: 'short-chap-secret';
  /** What it means. */
  readonly message: string;
}

/** The warning for a CHAP secret under 96 bits. */
export const SHORT_SECRET_WARNING: LoginWarning = {
  code: 'short-chap-secret',
  message: 'a CHAP secret shorter than 96 bits was used (RFC 7143 §9.2.1); acceptable only for interop tests',
};

/** Named statuses the target answers with, as class/detail pairs. */
export const LoginStatusPairs = {
  InitiatorError: { statusClass: 2, statusDetail: 0x00 },
  AuthenticationFailure: { statusClass: 2, statusDetail: 0x01 },
  AuthorizationFailure: { statusClass: 2, statusDetail: 0x02 },
  NotFound: { statusClass: 2, statusDetail: 0x03 },
  TargetRemoved: { statusClass: 2, statusDetail: 0x04 },
  UnsupportedVersion: { statusClass: 2, statusDetail: 0x05 },
  TooManyConnections: { statusClass: 2, statusDetail: 0x06 },
  MissingParameter: { statusClass: 2, statusDetail: 0x07 },
  CannotIncludeInSession: { statusClass: 2, statusDetail: 0x08 },
  SessionTypeNotSupported: { statusClass: 2, statusDetail: 0x09 },
  SessionDoesNotExist: { statusClass: 2, statusDetail: 0x0a },
  InvalidDuringLogin: { statusClass: 2, statusDetail: 0x0b },
  TargetError: { statusClass: 3, statusDetail: 0x00 },
  ServiceUnavailable: { statusClass: 3, statusDetail: 0x01 },
  OutOfResources: { statusClass: 3, statusDetail: 0x02 },
} as const satisfies Record<string, LoginStatusPair>;
