/**
 * What every command gets: where to write, the secrets seen so far (so no message can leak them), and the capture
 * file its connections share.
 */
import type { CliIo } from './io.js';
import { PcapngFile } from './pcap/pcapng-file.js';

/** The per-run context of a command. */
export class CommandContext {
  readonly #secrets = new Set<string>();
  readonly #noted = new Set<string>();
  #capture: Promise<PcapngFile> | undefined;
  #closers: (() => Promise<void>)[] = [];

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

  /**
   * The capture file at `path`, created on first use and shared by every connection of this run (`interfaceName`
   * describes what it holds; the first call names it).
   */
  capture(path: string, interfaceName = 'iser (iSCSI/TCP through a capturing relay)'): Promise<PcapngFile> {
    this.#capture ??= PcapngFile.create(path, interfaceName);
    return this.#capture;
  }

  /** Runs `close` when the run ends, before the capture file is closed (e.g. a device the connections share). */
  onClose(close: () => Promise<void>): void {
    this.#closers.push(close);
  }

  /** Releases what the run's connections shared, closes the capture file, and says how many packets it holds. */
  async close(): Promise<void> {
    for (const close of this.#closers.splice(0).reverse()) await close().catch(() => undefined);
    const pending = this.#capture;
    this.#capture = undefined;
    if (pending === undefined) return;
    const file = await pending.catch(() => undefined);
    if (file === undefined) return;
    await file.close();
    this.io.err(`pcap: ${file.packets} packets written to ${file.path} (read it with: ${file.tsharkHint})`);
  }

  /** The secrets seen so far. */
  get secrets(): readonly string[] {
    return [...this.#secrets];
  }
}
