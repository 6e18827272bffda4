/**
 * The exit codes of the `iser` command and the demo, in one place so that `iser --help`, the README and the code
 * agree. Scripts may rely on them.
 */
export const ExitCode = {
  /** Everything worked. */
  Ok: 0,
  /** Bad command line: unknown flag, missing argument, malformed URL or size. */
  Usage: 1,
  /** Could not connect or log in, or the connection failed (includes CHAP refusals, login status 0x02xx/0x03xx). */
  Connection: 2,
  /** A SCSI command ended with a status other than GOOD (the sense is printed). */
  Scsi: 3,
  /** Data read back differs from what was written. */
  DataMismatch: 4,
  /** A local file could not be read or written. */
  LocalIo: 5,
  /** A bug: something failed that should not have (set ISER_DEBUG=1 for the stack). */
  Internal: 70,
} as const;

/** One of {@link ExitCode}'s values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The table printed at the end of `iser --help`. */
export const EXIT_CODES_HELP = `Exit codes:
  0   success
  1   usage: unknown flag, missing argument, malformed URL or size
  2   connection or login failure (unreachable portal, CHAP refused, iSER unavailable)
  3   SCSI error (a command ended with CHECK CONDITION or another non-GOOD status)
  4   data mismatch (read back differs from what was written)
  5   local file error
  70  internal error (a bug; ISER_DEBUG=1 prints the stack)`;
