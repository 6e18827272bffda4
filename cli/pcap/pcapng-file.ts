/**
 * A pcapng file written as packets arrive (sim/trace's block encoders, streamed), so a long capture costs no
 * memory beyond the stream's buffer.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { CapturedFrame } from '../../sim/trace/pcapng.js';
import {
  enhancedPacketBlock,
  interfaceDescriptionBlock,
  msToTicks,
  sectionHeaderBlock,
} from '../../sim/trace/pcapng.js';
import { CliError } from '../errors.js';

/** An open pcapng file with one Ethernet interface. */
export class PcapngFile {
  #packets = 0;
  #failed: Error | undefined;
  readonly #ports = new Set<number>();
  #rocePort: number | undefined;

  private constructor(
    private readonly stream: WriteStream,
    /** Where it is written. */
    readonly path: string,
  ) {
    stream.on('error', (err) => {
      this.#failed ??= err;
    });
  }

  /** Creates (truncates) `path` and writes the section and interface headers. Fails with ERR_CLI_FILE. */
  static async create(path: string, interfaceName: string): Promise<PcapngFile> {
    const stream = createWriteStream(path);
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => {
          resolve();
        });
        stream.once('error', reject);
      });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new CliError('ERR_CLI_FILE', `cannot write the capture ${path}: ${why}`, { cause: err });
    }
    stream.write(sectionHeaderBlock('iser cli'));
    stream.write(interfaceDescriptionBlock({ name: interfaceName, tsresol: 'us' }));
    return new PcapngFile(stream, path);
  }

  /** Appends frames (their `timeMs` is milliseconds since the Unix epoch). */
  write(frames: readonly CapturedFrame[]): void {
    if (this.#failed !== undefined) return;
    for (const frame of frames) {
      this.stream.write(enhancedPacketBlock(0, msToTicks(frame.timeMs, 'us'), frame.data, frame.comment));
      this.#packets++;
    }
  }

  /** Remembers a TCP port the capture holds (to tell Wireshark which ports carry iSCSI). */
  notePort(port: number): void {
    this.#ports.add(port);
  }

  /** Remembers a UDP port other than 4791 that carries RoCEv2 (tshark's RRoCE dissector takes one). */
  noteRocePort(port: number): void {
    this.#rocePort ??= port;
  }

  /**
   * A tshark command line that dissects this capture: iSCSI on TCP ports other than 3260, and RRoCE on a UDP port
   * other than 4791, need a hint.
   */
  get tsharkHint(): string {
    const ports = [...this.#ports].filter((p) => p !== 3260);
    const roce = this.#rocePort === undefined ? [] : [`-o infiniband.rroce.port:${this.#rocePort}`];
    return ['tshark -r', this.path, ...ports.map((p) => `-d tcp.port==${p},iscsi`), ...roce].join(' ');
  }

  /** Packets written so far. */
  get packets(): number {
    return this.#packets;
  }

  /** Flushes and closes; rejects with ERR_CLI_FILE if any write failed. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.stream.end(() => {
        resolve();
      });
    });
    if (this.#failed !== undefined) {
      throw new CliError('ERR_CLI_FILE', `writing the capture ${this.path} failed: ${this.#failed.message}`);
    }
  }
}
