/**
 * Errors of the configuration readers (FreeBSD iscsi.conf(5), the target YAML). Every problem points at the place
 * in the file it comes from, as `file:line:column: message`, so an editor can jump there.
 */
import { IserError, type IserErrorOptions } from '../protocol/errors.js';

/** Stable codes of {@link ConfigError}. */
export type ConfigErrorCode =
  /** The text does not follow the file's grammar (unbalanced braces, a missing '=', bad YAML). */
  | 'ERR_CONFIG_SYNTAX'
  /** A key the format does not define. */
  | 'ERR_CONFIG_UNKNOWN_KEY'
  /** A value of the wrong kind or out of range. */
  | 'ERR_CONFIG_VALUE'
  /** A name or key given twice where only one is allowed. */
  | 'ERR_CONFIG_DUPLICATE'
  /** A required key is absent. */
  | 'ERR_CONFIG_MISSING'
  /** The file is larger than any sane configuration. */
  | 'ERR_CONFIG_TOO_LARGE';

/** A place in a text file; line and column count from 1. */
export interface SourcePosition {
  /** Line, from 1. */
  readonly line: number;
  /** Column (in UTF-16 code units, as editors count), from 1. */
  readonly column: number;
}

/** One problem found in a configuration file. */
export interface ConfigIssue extends SourcePosition {
  /** What kind of problem. */
  readonly code: ConfigErrorCode;
  /** What is wrong, for a person. */
  readonly message: string;
}

/** Something in a configuration file that is accepted but probably not what was meant (e.g. an obsolete key). */
export interface ConfigWarning extends SourcePosition {
  /** What is odd, for a person. */
  readonly message: string;
}

/** Formats an issue as `file:line:column: message`. */
export function formatIssue(file: string, issue: ConfigIssue | ConfigWarning): string {
  return `${file}:${issue.line}:${issue.column}: ${issue.message}`;
}

/** Options of a {@link ConfigError}. */
export interface ConfigErrorOptions extends IserErrorOptions {
  /** Every problem found (the first one gives the error its code). */
  readonly issues: readonly ConfigIssue[];
}

/** A configuration file could not be used; `issues` says where and why. */
export class ConfigError extends IserError<ConfigErrorCode> {
  /** The file's name as given to the parser. */
  readonly file: string;
  /** Every problem found, in file order. */
  readonly issues: readonly ConfigIssue[];

  constructor(file: string, options: ConfigErrorOptions) {
    const first = options.issues[0];
    super(
      first?.code ?? 'ERR_CONFIG_SYNTAX',
      options.issues.map((issue) => formatIssue(file, issue)).join('\n'),
      options,
    );
    this.file = file;
    this.issues = options.issues;
  }

  /** Line of the first problem. */
  get line(): number {
    return this.issues[0]?.line ?? 1;
  }

  /** Column of the first problem. */
  get column(): number {
    return this.issues[0]?.column ?? 1;
  }
}

/** Stable codes of {@link ConfigPrintError}. */
export type ConfigPrintErrorCode = 'ERR_CONFIG_UNPRINTABLE';

/** A value cannot be written in the file format (e.g. an iscsi.conf value containing a double quote). */
export class ConfigPrintError extends IserError<ConfigPrintErrorCode> {}
