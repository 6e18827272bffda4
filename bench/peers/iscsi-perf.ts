/**
 * Runs libiscsi's `iscsi-perf` (a READ(16) load generator) against an iSCSI URL for a bounded time and returns IOPS
 * and throughput. Run this file to measure tgt on loopback: `npx tsx bench/peers/iscsi-perf.ts [seconds]`.
 * Later the same runs point at our target, and our initiator runs the same shapes against tgt, side by side.
 *
 * iscsi-perf flags (libiscsi 1.19): `-t SECONDS` run time, `-b BLOCKS` per request (in LUN blocks), `-m N`
 * requests in flight, `-r` random LBAs (not aligned to the transfer size), `-R` random sizes 1..BLOCKS,
 * `-l` one progress line per second, `-i` initiator name, `-n` ignore errors, `-x N` max reconnects.
 * It only reads, and on SIGINT it drains and prints its summary (a second SIGINT aborts).
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PeerError, PeerErrorCode } from '../../test/support/peers/errors.js';
import { iscsiReadCapacity16 } from '../../test/support/peers/libiscsi.js';
import { runTool, tail } from '../../test/support/peers/run-tool.js';
import { startTgt } from '../../test/support/peers/tgt.js';
import { parseIscsiPerf, type IscsiPerfReport } from './iscsi-perf-parse.js';

export * from './iscsi-perf-parse.js';

/** A load shape. */
export interface IscsiPerfOptions {
  /** Bytes per READ; a multiple of the LUN's block size. */
  readonly blockBytes: number;
  /** Requests in flight. */
  readonly queueDepth: number;
  /** Random LBAs (true) or sequential (false). */
  readonly random: boolean;
  /** Run time in whole seconds (iscsi-perf's resolution), at least 2 so there is one progress sample. */
  readonly seconds: number;
  /** The LUN's logical block size; default: asked with iscsi-readcapacity16. */
  readonly lunBlockBytes?: number;
  readonly initiatorName?: string;
  /** Hard bound on the process; default seconds + 20 s (login, drain, logout). */
  readonly timeoutMs?: number;
}

/** An iscsi-perf run: the parsed report plus how long the process took. */
export interface IscsiPerfResult extends IscsiPerfReport {
  readonly durationMs: number;
}

/** Runs iscsi-perf against `url` with the given shape; rejects if it fails, aborts or overruns its bound. */
export async function runIscsiPerf(url: string, opts: IscsiPerfOptions): Promise<IscsiPerfResult> {
  if (!Number.isInteger(opts.seconds) || opts.seconds < 2) {
    throw new PeerError(PeerErrorCode.BadOption, `iscsi-perf runs whole seconds, at least 2 (got ${opts.seconds})`);
  }
  if (!Number.isInteger(opts.queueDepth) || opts.queueDepth < 1) {
    throw new PeerError(PeerErrorCode.BadOption, `queue depth ${opts.queueDepth} must be a positive integer`);
  }
  const lunBlock = opts.lunBlockBytes ?? (await iscsiReadCapacity16(url)).blockLength;
  if (opts.blockBytes <= 0 || opts.blockBytes % lunBlock !== 0) {
    throw new PeerError(
      PeerErrorCode.BadOption,
      `${opts.blockBytes} bytes is not a multiple of the ${lunBlock}-byte block`,
    );
  }
  const args = ['-t', String(opts.seconds), '-b', String(opts.blockBytes / lunBlock), '-m', String(opts.queueDepth)];
  if (opts.random) args.push('-r');
  if (opts.initiatorName !== undefined) args.push('-i', opts.initiatorName);
  args.push('-l', url);
  const run = await runTool('iscsi-perf', args, {
    timeoutMs: opts.timeoutMs ?? opts.seconds * 1000 + 20_000,
    // SIGINT makes iscsi-perf drain and log out; SIGKILL follows if it does not.
    killGraceMs: 5000,
  });
  if (run.timedOut || run.exitCode !== 0) {
    throw new PeerError(
      run.timedOut ? PeerErrorCode.Timeout : PeerErrorCode.Exit,
      `iscsi-perf ${args.join(' ')} ${run.timedOut ? 'overran its bound' : `exited ${run.exitCode ?? run.signal ?? '?'}`}: ${tail(run.stderr + run.stdout)}`,
      { exitCode: run.exitCode, stderr: tail(run.stderr) },
    );
  }
  const report = parseIscsiPerf(run.stdout);
  if (!report.finished) throw new PeerError(PeerErrorCode.Exit, `iscsi-perf aborted: ${tail(run.stdout)}`);
  return { ...report, durationMs: run.durationMs };
}

/** The shapes we compare across peers. */
export const STANDARD_SHAPES: readonly (Omit<IscsiPerfOptions, 'seconds'> & { readonly label: string })[] = [
  { label: '4 KiB random read, QD 1', blockBytes: 4096, queueDepth: 1, random: true },
  { label: '4 KiB random read, QD 32', blockBytes: 4096, queueDepth: 32, random: true },
  { label: '1 MiB sequential read, QD 8', blockBytes: 1 << 20, queueDepth: 8, random: false },
];

/** Writes a `bytes`-long file of non-zero data: reading holes of a sparse file would flatter the target. */
async function writeFilledFile(path: string, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131 + 7) & 0xff;
  const handle = await open(path, 'wx');
  try {
    for (let offset = 0; offset < bytes; offset += chunk.length) await handle.write(chunk, 0, chunk.length, offset);
  } finally {
    await handle.close();
  }
}

/** Starts tgt on a 256 MiB file of data and prints iscsi-perf figures for each shape. */
async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? '5');
  const dir = await mkdtemp(join(tmpdir(), 'iser-perf-'));
  const lunPath = join(dir, 'lun1.img');
  await writeFilledFile(lunPath, 256 * 2 ** 20);
  const tgt = await startTgt({ luns: [{ lun: 1, path: lunPath }] });
  try {
    console.log(`iscsi-perf vs tgt (${tgt.url(1)}), ${seconds} s per shape`);
    for (const shape of STANDARD_SHAPES) {
      const r = await runIscsiPerf(tgt.url(1), { ...shape, seconds, lunBlockBytes: 512 });
      console.log(
        `${shape.label.padEnd(30)} ${String(r.iops).padStart(8)} IOPS ${r.mibPerSecond.toFixed(1).padStart(9)} MiB/s` +
          `  (per-second IOPS: ${r.samples.map((s) => s.iops).join(', ')})`,
      );
    }
  } finally {
    await tgt.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
