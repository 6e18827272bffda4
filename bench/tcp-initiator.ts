/**
 * OUR initiator vs libiscsi's iscsi-perf, both reading from the SAME tgt (a private tgtd on loopback serving a
 * 256 MiB file of data, written before the run so reads hit data, not holes). Shapes: 4 KiB random read at QD 1
 * and QD 32, 1 MiB sequential read at QD 8. Our side keeps the same number of READs in flight through the public
 * `Lun` API (bench/harness/read-load.ts) and declares the same MaxRecvDataSegmentLength as libiscsi.
 *
 * Each round runs both sides once per shape, alternating which goes first; each side logs in afresh per run, as
 * iscsi-perf does (login time is outside both figures). Prints IOPS and MiB/s medians with their spread and the
 * ratio ours / libiscsi (goal: >= 1.0x).
 *
 * Run: `npx tsx bench/tcp-initiator.ts [--seconds 3] [--rounds 3]`. iscsi-perf counts whole seconds (>= 2).
 */
import { runIscsiPerf } from './peers/iscsi-perf.js';
import { startTgt } from '../test/support/peers/tgt.js';
import { TcpConnector } from '../transports/tcp/index.js';
import { createLunImageFile, LUN_BLOCK_BYTES } from './harness/lun-image.js';
import { describeLoad, describeMachine } from './harness/machine.js';
import { isMain, parseBudget, type BenchBudget } from './harness/options.js';
import { openOurLun } from './harness/our-initiator.js';
import { driveReads } from './harness/read-load.js';
import { pickShapes, type ReadShape } from './harness/read-shapes.js';
import { figure, runRounds } from './harness/rounds.js';
import { cpuAround, processCpuMicros, reapedChildrenCpuMicros, selfCpuMicros } from './harness/cpu.js';
import { formatCount, formatRatio, formatSpread, ratio, type Summary } from './harness/stats.js';
import { formatTable } from './harness/table.js';

/** Options of {@link runTcpInitiatorBench}. */
export interface TcpInitiatorBenchOptions extends BenchBudget {
  /** Shape keys to run (default all). */
  readonly shapes?: readonly string[];
  /** LUN size (default 256 MiB; smoke tests use less). */
  readonly lunBytes?: number;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** One shape, both sides. */
export interface InitiatorComparison {
  readonly shape: ReadShape;
  /** IOPS of our initiator, per round. */
  readonly ours: Summary;
  /** IOPS of iscsi-perf, per round. */
  readonly libiscsi: Summary;
  /** ours / libiscsi (medians). */
  readonly ratio: number;
  /** Initiator CPU per command (µs): ours (this process) and iscsi-perf's (a reaped child). */
  readonly oursCpuUs: Summary;
  readonly libiscsiCpuUs: Summary;
  /** ours / libiscsi CPU per command: below 1 is better. */
  readonly cpuRatio: number;
  /** tgtd's CPU per command while each initiator drove it: the same work should cost it the same. */
  readonly tgtCpuUsOurs: Summary;
  readonly tgtCpuUsLibiscsi: Summary;
}

/** What the bench measured. */
export interface TcpInitiatorBenchResult {
  readonly machine: string;
  readonly lunBytes: number;
  readonly loadAfter: string;
  readonly seconds: number;
  readonly rounds: number;
  readonly rows: readonly InitiatorComparison[];
}

const OURS = 'ours';
const LIBISCSI = 'libiscsi';

/** Runs the comparison (needs tgtd and iscsi-perf on PATH). */
export async function runTcpInitiatorBench(options: TcpInitiatorBenchOptions): Promise<TcpInitiatorBenchResult> {
  const log = options.log ?? (() => undefined);
  // iscsi-perf runs whole seconds, at least 2; our side gets the same budget.
  const seconds = Math.max(2, Math.round(options.seconds));
  const machine = describeMachine();
  const image = await createLunImageFile(options.lunBytes);
  try {
    const tgt = await startTgt({ luns: [{ lun: 1, path: image.path, blockSize: LUN_BLOCK_BYTES }] });
    try {
      const rows: InitiatorComparison[] = [];
      const tgtCpu = (): number => processCpuMicros(tgt.pid);
      for (const shape of pickShapes(options.shapes)) {
        const summaries = await runRounds(
          [
            {
              name: LIBISCSI,
              run: async () => {
                const tgtBefore = tgtCpu();
                const { result, cpuMicros } = await cpuAround(reapedChildrenCpuMicros, () =>
                  runIscsiPerf(tgt.url(1), { ...shape, seconds, lunBlockBytes: LUN_BLOCK_BYTES }),
                );
                // iscsi-perf reports a rate; its command count is the rate over its run time.
                const ops = result.iops * seconds;
                return { iops: result.iops, cpuUs: cpuMicros / ops, tgtCpuUs: (tgtCpu() - tgtBefore) / ops };
              },
            },
            {
              name: OURS,
              run: async (round) => {
                const our = await openOurLun({
                  connector: new TcpConnector({ connectTimeoutMs: 5000 }),
                  portal: tgt.portal,
                  targetName: tgt.iqn,
                  lun: 1,
                });
                try {
                  const tgtBefore = tgtCpu();
                  const { result, cpuMicros } = await cpuAround(selfCpuMicros, () =>
                    driveReads(our.lun, shape, {
                      seconds,
                      lunBlockBytes: our.blockBytes,
                      lunBlocks: our.blocks,
                      seed: round + 1,
                    }),
                  );
                  return {
                    iops: result.iops,
                    cpuUs: cpuMicros / result.ops,
                    tgtCpuUs: (tgtCpu() - tgtBefore) / result.ops,
                  };
                } finally {
                  await our.close();
                }
              },
            },
          ],
          options.rounds,
          (side, round, f) => {
            log(
              `  ${shape.label}, round ${round + 1}: ${side} ${formatCount(f.iops ?? NaN)} IOPS, ` +
                `${(f.cpuUs ?? NaN).toFixed(1)} us CPU/command (tgt ${(f.tgtCpuUs ?? NaN).toFixed(1)})`,
            );
          },
        );
        const ours = figure(summaries, OURS, 'iops');
        const libiscsi = figure(summaries, LIBISCSI, 'iops');
        const oursCpu = figure(summaries, OURS, 'cpuUs');
        const libiscsiCpu = figure(summaries, LIBISCSI, 'cpuUs');
        rows.push({
          shape,
          ours,
          libiscsi,
          ratio: ratio(ours, libiscsi),
          oursCpuUs: oursCpu,
          libiscsiCpuUs: libiscsiCpu,
          cpuRatio: ratio(oursCpu, libiscsiCpu),
          tgtCpuUsOurs: figure(summaries, OURS, 'tgtCpuUs'),
          tgtCpuUsLibiscsi: figure(summaries, LIBISCSI, 'tgtCpuUs'),
        });
      }
      return { machine, lunBytes: image.bytes, loadAfter: describeLoad(), seconds, rounds: options.rounds, rows };
    } finally {
      await tgt.stop();
    }
  } finally {
    await image.remove();
  }
}

/** The result as a table. */
export function formatTcpInitiatorReport(result: TcpInitiatorBenchResult): string {
  const mib = (s: Summary, shape: ReadShape): string => ((s.median * shape.blockBytes) / 2 ** 20).toFixed(1);
  const us = (s: Summary): string => s.median.toFixed(1);
  return [
    `Initiators over TCP against the same tgt (${result.lunBytes / 2 ** 20} MiB file LUN): our initiator vs libiscsi iscsi-perf`,
    result.machine,
    `${result.rounds} rounds x ${result.seconds} s per side and shape, alternating; medians, ± half the range`,
    `goal: ours/libiscsi IOPS >= 1.0x. CPU = initiator CPU per command (us), lower is better; tgt = tgtd's CPU per command`,
    formatTable(
      [
        'shape',
        'ours IOPS',
        'MiB/s',
        'libiscsi IOPS',
        'MiB/s',
        'IOPS ratio',
        'CPU ours',
        'CPU libiscsi',
        'CPU ratio',
        'tgt ours/libiscsi',
      ],
      result.rows.map((r) => [
        r.shape.label,
        `${formatCount(r.ours.median)} ${formatSpread(r.ours)}`,
        mib(r.ours, r.shape),
        `${formatCount(r.libiscsi.median)} ${formatSpread(r.libiscsi)}`,
        mib(r.libiscsi, r.shape),
        formatRatio(r.ratio),
        us(r.oursCpuUs),
        us(r.libiscsiCpuUs),
        formatRatio(r.cpuRatio),
        `${us(r.tgtCpuUsOurs)}/${us(r.tgtCpuUsLibiscsi)}`,
      ]),
    ),
    `after: ${result.loadAfter}`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const budget = parseBudget(process.argv.slice(2), { seconds: 3, rounds: 3 });
  runTcpInitiatorBench({
    ...budget,
    log: (line) => {
      console.log(line);
    },
  })
    .then((result) => {
      console.log(formatTcpInitiatorReport(result));
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
