/**
 * Helpers for the CLI tests: an in-memory CliIo that records what a command printed, and our own target served
 * in-process on 127.0.0.1 (port 0) with memory LUNs, optionally behind CHAP.
 */
import { Readable } from 'node:stream';
import { MemoryBackend } from '../../backends/memory.js';
import type { CliIo } from '../../cli/io.js';
import { runIser } from '../../cli/program.js';
import type { ChapAccount } from '../../protocol/target/config.js';
import { IscsiTarget } from '../../server/iscsi-target.js';

/** What a command printed and how it ended. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Raw bytes written to stdout (dd --of -). */
  readonly bytes: Buffer;
  /** Progress lines (only a terminal would show them). */
  readonly progress: readonly string[];
}

/** A CliIo that records every line, byte and progress line (stdin is empty). */
export function recordingIo(): {
  readonly io: CliIo;
  readonly out: string[];
  readonly err: string[];
  readonly bytes: Buffer[];
  readonly progress: string[];
} {
  const out: string[] = [];
  const err: string[] = [];
  const bytes: Buffer[] = [];
  const progress: string[] = [];
  const io: CliIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    writeStdout: (data) => {
      bytes.push(Buffer.from(data));
      return Promise.resolve();
    },
    stdin: Readable.from([]),
    progress: (line) => {
      if (line !== undefined) progress.push(line);
    },
  };
  return { io, out, err, bytes, progress };
}

/** Runs `iser argv` in-process and records its output. */
export async function iser(argv: readonly string[]): Promise<CliRun> {
  const { io, out, err, bytes, progress } = recordingIo();
  const code = await runIser(argv, io);
  return {
    code,
    stdout: out.map((l) => `${l}\n`).join(''),
    stderr: err.map((l) => `${l}\n`).join(''),
    bytes: Buffer.concat(bytes),
    progress,
  };
}

/** The target name every test target serves. */
export const TEST_IQN = 'iqn.2024-01.org.iser-test:cli';

/** A target served for one test file. */
export interface TestTarget {
  readonly target: IscsiTarget;
  readonly port: number;
  /** `iscsi://127.0.0.1:port` */
  readonly portalUrl: string;
  /** `iscsi://127.0.0.1:port/iqn/lun` */
  url(lun: number, userinfo?: string): string;
  close(): Promise<void>;
}

/** LUN sizes in 512-byte blocks: LUN 0 is 8 MiB, LUN 1 is 1 MiB. */
export const LUN_BLOCKS = [16384, 2048] as const;

/** Starts our target on 127.0.0.1, port 0. */
export async function startTarget(
  options: { readonly chap?: ChapAccount; readonly digests?: boolean } = {},
): Promise<TestTarget> {
  const target = await IscsiTarget.listen(
    {
      targets: [
        {
          name: TEST_IQN,
          luns: LUN_BLOCKS.map((blocks, lun) => ({ lun, backend: new MemoryBackend(blocks) })),
          // Digests when the initiator asks for them (the target's default is None only).
          ...(options.digests === false
            ? {}
            : { negotiation: { headerDigest: ['None', 'CRC32C'], dataDigest: ['None', 'CRC32C'] } }),
          ...(options.chap === undefined ? {} : { chap: { accounts: [options.chap] } }),
        },
      ],
      portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 0 }] }],
    },
    { logoutDeadlineSeconds: 1 },
  );
  const port = target.portals[0]?.address.port ?? 0;
  const portalUrl = `iscsi://127.0.0.1:${port}`;
  return {
    target,
    port,
    portalUrl,
    url: (lun, userinfo) =>
      `iscsi://${userinfo === undefined ? '' : `${userinfo}@`}127.0.0.1:${port}/${TEST_IQN}/${lun}`,
    close: () => target.close(),
  };
}
