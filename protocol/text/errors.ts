/**
 * Errors of the text layer (key=value codec, key table, negotiation).
 *
 * Every error carries what a target answers with when it detects the problem: the Login Response status
 * (RFC 7143 §11.13.5) during login, and the Reject reason (RFC 7143 §11.17.1) for a Text Request in full
 * feature phase. An initiator that detects one of these drops the connection (RFC 7143 §6.3).
 */
import { IserError, type IserErrorOptions } from '../errors.js';

/** A Login Response status: class and detail (RFC 7143 §11.13.5). */
export interface LoginStatus {
  /** Status-Class: 2 initiator error, 3 target error. */
  readonly statusClass: number;
  /** Status-Detail within the class. */
  readonly statusDetail: number;
}

/** The login statuses the text layer produces, named as in RFC 7143 §11.13.5. */
export const TextLoginStatus = {
  /** 0x0200: miscellaneous initiator error (malformed or illegal keys). */
  InitiatorError: { statusClass: 0x02, statusDetail: 0x00 },
  /** 0x0207: a required key (InitiatorName, TargetName) is missing. */
  MissingParameter: { statusClass: 0x02, statusDetail: 0x07 },
  /** 0x0302: the target is out of resources (text longer than it will buffer). */
  OutOfResources: { statusClass: 0x03, statusDetail: 0x02 },
} as const satisfies Record<string, LoginStatus>;

/** Reject reason 0x04, Protocol Error (RFC 7143 §11.17.1): a bad Text Request in full feature phase. */
export const TEXT_REJECT_PROTOCOL_ERROR = 0x04;

/** Stable codes of {@link TextError}. */
export type TextErrorCode =
  /** A pair lacks its `=`, is empty, or the text does not end with a NUL delimiter. */
  | 'ERR_TEXT_MALFORMED'
  /** A key name is empty, longer than 63 bytes, or has characters RFC 7143 §6.1 does not allow. */
  | 'ERR_TEXT_BAD_KEY'
  /** A value is longer than its key allows (255 bytes unless the key says otherwise). */
  | 'ERR_TEXT_VALUE_TOO_LONG'
  /** The text is not valid UTF-8, or a value holds a NUL. */
  | 'ERR_TEXT_BAD_ENCODING'
  /** The same key appears twice in one text (RFC 7143 §6.3 forbids redeclaration). */
  | 'ERR_TEXT_DUPLICATE_KEY'
  /** Continued text (C bit) grew past the assembler's bound. */
  | 'ERR_TEXT_TOO_LONG'
  /** A reserved constant (Reject, Irrelevant, NotUnderstood) was offered as a value (RFC 7143 §6.2). */
  | 'ERR_TEXT_RESERVED_VALUE'
  /** A key was negotiated or declared a second time where the RFC forbids it (RFC 7143 §6.3). */
  | 'ERR_TEXT_RENEGOTIATION'
  /** A key came from the side that may not send it (e.g. TargetAlias from an initiator). */
  | 'ERR_TEXT_WRONG_SENDER'
  /** A key came in a stage or phase where it may not be sent (e.g. MaxBurstLength during security). */
  | 'ERR_TEXT_WRONG_PHASE'
  /** The peer answered one of our offers with a value the selection rules do not admit (RFC 7143 §6.2). */
  | 'ERR_TEXT_BAD_ANSWER'
  /** A declared value is malformed or out of range. */
  | 'ERR_TEXT_BAD_DECLARATION'
  /** Negotiated values break an integrity rule (FirstBurstLength > MaxBurstLength, RFC 7143 §13.14). */
  | 'ERR_TEXT_INCOHERENT'
  /** A key the session needs (InitiatorName, TargetName) was never declared. */
  | 'ERR_TEXT_MISSING_PARAMETER'
  /** Results were asked for while offers were still unanswered. */
  | 'ERR_TEXT_NOT_SETTLED'
  /** Our own configuration or arguments are invalid (not a peer's fault). */
  | 'ERR_TEXT_BAD_CONFIG';

/** The login status a target answers each error with. */
const loginStatusOf: Readonly<Record<TextErrorCode, LoginStatus>> = {
  ERR_TEXT_MALFORMED: TextLoginStatus.InitiatorError,
  ERR_TEXT_BAD_KEY: TextLoginStatus.InitiatorError,
  ERR_TEXT_VALUE_TOO_LONG: TextLoginStatus.InitiatorError,
  ERR_TEXT_BAD_ENCODING: TextLoginStatus.InitiatorError,
  ERR_TEXT_DUPLICATE_KEY: TextLoginStatus.InitiatorError,
  ERR_TEXT_TOO_LONG: TextLoginStatus.OutOfResources,
  ERR_TEXT_RESERVED_VALUE: TextLoginStatus.InitiatorError,
  ERR_TEXT_RENEGOTIATION: TextLoginStatus.InitiatorError,
  ERR_TEXT_WRONG_SENDER: TextLoginStatus.InitiatorError,
  ERR_TEXT_WRONG_PHASE: TextLoginStatus.InitiatorError,
  ERR_TEXT_BAD_ANSWER: TextLoginStatus.InitiatorError,
  ERR_TEXT_BAD_DECLARATION: TextLoginStatus.InitiatorError,
  ERR_TEXT_INCOHERENT: TextLoginStatus.InitiatorError,
  ERR_TEXT_MISSING_PARAMETER: TextLoginStatus.MissingParameter,
  ERR_TEXT_NOT_SETTLED: TextLoginStatus.InitiatorError,
  ERR_TEXT_BAD_CONFIG: { statusClass: 0x03, statusDetail: 0x00 },
};

/** Options of a {@link TextError}. */
export interface TextErrorOptions extends IserErrorOptions {
  /** The key the error is about, when there is one. */
  readonly key?: string;
}

/** The only error the text layer throws: malformed text, illegal keys, or a failed negotiation. */
export class TextError extends IserError<TextErrorCode> {
  /** The Login Response status a target answers with (RFC 7143 §11.13.5). */
  readonly loginStatus: LoginStatus;
  /** The Reject reason for a Text Request in full feature phase (RFC 7143 §11.17.1). */
  readonly rejectReason: number;
  /** The key the error is about, if any. */
  readonly key: string | undefined;

  constructor(code: TextErrorCode, message: string, options?: TextErrorOptions) {
    super(code, message, options);
    this.loginStatus = loginStatusOf[code];
    this.rejectReason = TEXT_REJECT_PROTOCOL_ERROR;
    this.key = options?.key;
  }
}
