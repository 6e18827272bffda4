/**
 * Where a command writes. Commands never touch `process.stdout` directly, so tests run them in-process and read
 * what they printed, and so progress lines go to a terminal only.
 */

/** A command's output channels. */
export interface CliIo {
  /** One line of results (stdout). */
  readonly out: (line: string) => void;
  /** One line of diagnostics or errors (stderr). */
  readonly err: (line: string) => void;
  /** Raw bytes to stdout (dd --of -); resolves when written. */
  readonly writeStdout: (data: Buffer) => Promise<void>;
  /** The stdin stream (dd --if -). */
  readonly stdin: NodeJS.ReadableStream;
  /** Rewrites the progress line on stderr; a no-op unless stderr is a terminal. `undefined` clears it. */
  readonly progress: (line: string | undefined) => void;
}

/** The process's own streams. */
export function processIo(): CliIo {
  const tty = process.stderr.isTTY;
  let shown = false;
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
      process.stderr.write(`${line}\n`);
    },
    writeStdout: (data) =>
      new Promise((resolve, reject) => {
        process.stdout.write(data, (err) => {
          if (err) reject(err);
          else resolve();
        });
      }),
    stdin: process.stdin,
    progress: (line) => {
      if (!tty) return;
      if (line === undefined) {
        if (shown) process.stderr.write('\r\x1b[K');
        shown = false;
        return;
      }
      process.stderr.write(`\r${line}\x1b[K`);
      shown = true;
    },
  };
}
