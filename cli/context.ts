/** What every command gets: where to write, and the secrets seen so far (so no message can leak them). */
import type { CliIo } from './io.js';

/** The per-run context of a command. */
export class CommandContext {
  readonly #secrets = new Set<string>();
  readonly #noted = new Set<string>();

  constructor(readonly io: CliIo) {}

  /** Remembers secrets to redact from every later message. */
  addSecrets(secrets: readonly string[]): void {
    for (const secret of secrets) if (secret !== '') this.#secrets.add(secret);
  }

  /** Prints `line` on stderr the first time `key` is noted in this run. */
  noteOnce(key: string, line: string): void {
    if (this.#noted.has(key)) return;
    this.#noted.add(key);
    this.io.err(line);
  }

  /** The secrets seen so far. */
  get secrets(): readonly string[] {
    return [...this.#secrets];
  }
}
