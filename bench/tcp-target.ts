/**
 * OUR target vs tgt, both driven by the same libiscsi iscsi-perf over TCP on loopback. Both serve the SAME 256 MiB
 * file of data (written before the run, so the page cache holds it for both): tgt through its rdwr backing store,
 * ours through backends/file.ts. An extra row serves ours from a pre-filled memory backend (tgt has no memory
 * backend to compare it with). Shapes: 4 KiB random read QD 1 and QD 32, 1 MiB sequential read QD 8.
 *
 * Our target runs in this process, which does nothing else while iscsi-perf runs, so this process's CPU time is
 * the target's; tgtd's comes from /proc. Each round runs every side once per shape, rotating the order. Prints IOPS
 * and MiB/s medians with spread, the ratio ours / tgt (goal: >= 1.2x), and CPU per command on each target.
 *
 * Run: `npx tsx bench/tcp-target.ts [--seconds 3] [--rounds 3]`. iscsi-perf counts whole seconds (>= 2).
 */
import { FileBackend } from '../backends/file.js';
import type { LunConfig } from '../protocol/target/config.js';
import { IscsiTarget } from '../server/index.js';
import { iscsiUrl } from '../test/support/peers/iscsi-url.js';
import { startTgt } from '../test/support/peers/tgt.js';
import { runIscsiPerf } from './peers/iscsi-perf.js';
import { cpuAround, processCpuMicros, reapedChildrenCpuMicros, selfCpuMicros } from './harness/cpu.js';
import { createFilledMemoryBackend, createLunImageFile, LUN_BLOCK_BYTES } from './harness/lun-image.js';
import { describeLoad, describeMachine } from './harness/machine.js';
import { isMain, parseBudget, type BenchBudget } from './harness/options.js';
import { pickShapes, type ReadShape } from './harness/read-shapes.js';
import { figure, runRounds, type Figures } from './harness/rounds.js';
import { formatCount, formatRatio, formatSpread, ratio, type Summary } from './harness/stats.js';
import { formatTable } from './harness/table.js';

/** Options of {@link runTcpTargetBench}. */
export interface TcpTargetBenchOptions extends BenchBudget {
  /** Shape keys to run (default all). */
  readonly shapes?: readonly string[];
  /** Also measure ours with a memory backend (default true). */
  readonly memoryRow?: boolean;
  /** LUN size (default 256 MiB; smoke tests use less). */
  readonly lunBytes?: number;
  readonly log?: (line: string) => void;
}

/** One target's figures for one shape. */
export interface TargetFigures {
  readonly iops: Summary;
  /** The target's CPU per command, µs. */
  readonly cpuUs: Summary;
}

/** One shape, every target. */
export interface TargetComparison {
  readonly shape: ReadShape;
  readonly tgt: TargetFigures;
  readonly oursFile: TargetFigures;
  readonly oursMemory?: TargetFigures;
  /** ours (file) / tgt, IOPS medians. */
  readonly ratio: number;
  /** ours (memory) / tgt, IOPS medians. */
  readonly memoryRatio?: number;
  /** ours (file) / tgt, CPU per command: below 1 is better. */
  readonly cpuRatio: number;
}

/** What the bench measured. */
export interface TcpTargetBenchResult {
  readonly machine: string;
  readonly lunBytes: number;
  readonly loadAfter: string;
  readonly seconds: number;
  readonly rounds: number;
  readonly rows: readonly TargetComparison[];
}

const TGT = 'tgt (file)';
const OURS_FILE = 'ours (file)';
const OURS_MEMORY = 'ours (memory)';
const OUR_IQN = 'iqn.2024-01.org.iser-bench:ours';
const FILE_LUN = 0;
const MEMORY_LUN = 1;

/** Runs the comparison (needs tgtd and iscsi-perf on PATH). */
export async function runTcpTargetBench(options: TcpTargetBenchOptions): Promise<TcpTargetBenchResult> {
  const log = options.log ?? (() => undefined);
  const seconds = Math.max(2, Math.round(options.seconds));
  const withMemory = options.memoryRow ?? true;
  const machine = describeMachine();
  const image = await createLunImageFile(options.lunBytes);
  const cleanups: (() => Promise<void>)[] = [() => image.remove()];
  try {
    const tgt = await startTgt({ luns: [{ lun: 1, path: image.path, blockSize: LUN_BLOCK_BYTES }] });
    cleanups.unshift(() => tgt.stop());
    const file = await FileBackend.open(image.path, { blockSize: LUN_BLOCK_BYTES });
    cleanups.unshift(() => file.close());
    const luns: LunConfig[] = [{ lun: FILE_LUN, backend: file }];
    if (withMemory) luns.push({ lun: MEMORY_LUN, backend: await createFilledMemoryBackend(options.lunBytes) });
    const ours = await IscsiTarget.listen({
      targets: [{ name: OUR_IQN, luns }],
      portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 0 }] }],
    });
    cleanups.unshift(() => ours.close());
    const portal = ours.portals[0]?.address;
    if (portal === undefined) throw new Error('our target opened no portal');
    const ourUrl = (lun: number): string => iscsiUrl({ host: portal.host, port: portal.port, iqn: OUR_IQN, lun });

    // One iscsi-perf run; `targetCpu` reads the target's CPU counter (µs).
    const perf = async (shape: ReadShape, url: string, targetCpu: () => number): Promise<Figures> => {
      const before = targetCpu();
      const { result, cpuMicros } = await cpuAround(reapedChildrenCpuMicros, () =>
        runIscsiPerf(url, { ...shape, seconds, lunBlockBytes: LUN_BLOCK_BYTES }),
      );
      const ops = result.iops * seconds;
      return { iops: result.iops, cpuUs: (targetCpu() - before) / ops, initiatorCpuUs: cpuMicros / ops };
    };

    const rows: TargetComparison[] = [];
    for (const shape of pickShapes(options.shapes)) {
      const sides = [
        { name: TGT, run: () => perf(shape, tgt.url(1), () => processCpuMicros(tgt.pid)) },
        { name: OURS_FILE, run: () => perf(shape, ourUrl(FILE_LUN), selfCpuMicros) },
      ];
      if (withMemory) sides.push({ name: OURS_MEMORY, run: () => perf(shape, ourUrl(MEMORY_LUN), selfCpuMicros) });
      const summaries = await runRounds(sides, options.rounds, (side, round, f) => {
        log(
          `  ${shape.label}, round ${round + 1}: ${side} ${formatCount(f.iops ?? NaN)} IOPS, ` +
            `target ${(f.cpuUs ?? NaN).toFixed(1)} us CPU/command`,
        );
      });
      const of = (side: string): TargetFigures => ({
        iops: figure(summaries, side, 'iops'),
        cpuUs: figure(summaries, side, 'cpuUs'),
      });
      const tgtFigures = of(TGT);
      const oursFile = of(OURS_FILE);
      const oursMemory = withMemory ? of(OURS_MEMORY) : undefined;
      rows.push({
        shape,
        tgt: tgtFigures,
        oursFile,
        ...(oursMemory === undefined ? {} : { oursMemory, memoryRatio: ratio(oursMemory.iops, tgtFigures.iops) }),
        ratio: ratio(oursFile.iops, tgtFigures.iops),
        cpuRatio: ratio(oursFile.cpuUs, tgtFigures.cpuUs),
      });
    }
    return { machine, lunBytes: image.bytes, loadAfter: describeLoad(), seconds, rounds: options.rounds, rows };
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }
}

/** The result as a table: a row per shape and target. */
export function formatTcpTargetReport(result: TcpTargetBenchResult): string {
  const rows: string[][] = [];
  for (const r of result.rows) {
    const line = (name: string, f: TargetFigures, vsTgt: string): string[] => [
      `${r.shape.label}: ${name}`,
      `${formatCount(f.iops.median)} ${formatSpread(f.iops)}`,
      ((f.iops.median * r.shape.blockBytes) / 2 ** 20).toFixed(1),
      f.cpuUs.median.toFixed(1),
      vsTgt,
    ];
    rows.push(line(TGT, r.tgt, ''));
    rows.push(line(OURS_FILE, r.oursFile, `${formatRatio(r.ratio)} (CPU ${formatRatio(r.cpuRatio)})`));
    if (r.oursMemory !== undefined) rows.push(line(OURS_MEMORY, r.oursMemory, formatRatio(r.memoryRatio ?? NaN)));
  }
  return [
    `Targets over TCP driven by the same iscsi-perf: our target vs tgt, both on the same ${result.lunBytes / 2 ** 20} MiB file`,
    result.machine,
    `${result.rounds} rounds x ${result.seconds} s per target and shape, rotating; medians, ± half the range`,
    'goal: ours/tgt IOPS >= 1.2x. CPU = the target process CPU per command (us), lower is better',
    formatTable(['shape: target', 'IOPS', 'MiB/s', 'CPU us/cmd', 'vs tgt'], rows),
    `after: ${result.loadAfter}`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const budget = parseBudget(process.argv.slice(2), { seconds: 3, rounds: 3 });
  runTcpTargetBench({
    ...budget,
    log: (line) => {
      console.log(line);
    },
  })
    .then((result) => {
      console.log(formatTcpTargetReport(result));
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
