/**
 * From a thrown error to what the user sees: one line saying why, and the exit code. Expected failures (typed
 * errors of the layers below, bad input, system errors on files) never print a stack; a bug prints one line too,
 * and the stack only with ISER_DEBUG=1. Every message passes through a redactor so no secret reaches the terminal.
 */
import { isIserError } from '../protocol/errors.js';
import { redactIscsiUrl } from '../protocol/initiator/url.js';
import { LoginError } from '../protocol/login/errors.js';
import { ScsiStatusError } from '../protocol/scsi/errors.js';
import { CliError } from './errors.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';

/** What a failure looks like to the user. */
export interface Failure {
  readonly exitCode: ExitCodeValue;
  /** One line, secrets removed. */
  readonly message: string;
}

/** Prefixes of error codes whose failure is the connection's or the login's. */
const CONNECTION_CODES =
  /^ERR_(?:(?:LOGIN|TCP|ISER|VERBS|SESSION)_|INITIATOR_(?:LOGIN_TIMEOUT|CONNECTION_CLOSED|TOO_MANY_REDIRECTS)$)/;
const USAGE_CODES = new Set(['ERR_INITIATOR_BAD_URL', 'ERR_INITIATOR_BAD_OPTIONS', 'ERR_INITIATOR_BAD_ARGUMENT']);
/** errno names of a local file problem. */
const FILE_ERRNOS = new Set([
  'ENOENT',
  'EACCES',
  'EPERM',
  'EISDIR',
  'ENOTDIR',
  'ENOSPC',
  'EROFS',
  'EEXIST',
  'EBADF',
  'EIO',
]);

function errnoOf(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/** Replaces every occurrence of each secret, and URL passwords, with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join('***');
  }
  // URLs anywhere in the text (a message may quote one).
  return out.replace(/\b(iscsi|iser):\/\/\S+/giu, (url) => redactIscsiUrl(url));
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/gu, ' ').trim();
}

/** Classifies `err` and writes its one-line reason. */
export function describeFailure(err: unknown, secrets: readonly string[] = []): Failure {
  const say = (exitCode: ExitCodeValue, message: string): Failure => ({
    exitCode,
    message: oneLine(redact(message, secrets)),
  });
  if (err instanceof CliError) return say(err.exitCode, err.message);
  if (err instanceof LoginError) {
    return say(ExitCode.Connection, `login failed (${err.code}): ${err.message}`);
  }
  if (err instanceof ScsiStatusError) return say(ExitCode.Scsi, err.message);
  if (isIserError(err)) {
    if (USAGE_CODES.has(err.code)) return say(ExitCode.Usage, err.message);
    if (CONNECTION_CODES.test(err.code)) return say(ExitCode.Connection, `${err.message} (${err.code})`);
    if (err.code.startsWith('ERR_BACKEND_')) return say(ExitCode.LocalIo, `${err.message} (${err.code})`);
  }
  const errno = errnoOf(err);
  if (errno !== undefined && FILE_ERRNOS.has(errno) && err instanceof Error) return say(ExitCode.LocalIo, err.message);
  if (errno !== undefined && err instanceof Error) return say(ExitCode.Connection, err.message);
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return say(ExitCode.Internal, `internal error: ${text} (set ISER_DEBUG=1 for the stack)`);
}

/** The stack of an unexpected error, for ISER_DEBUG=1, redacted like the message. */
export function debugStack(err: unknown, secrets: readonly string[]): string | undefined {
  if (process.env.ISER_DEBUG !== '1' || !(err instanceof Error) || err.stack === undefined) return undefined;
  return redact(err.stack, secrets);
}
