/**
 * `npm run bench`: every benchmark in sequence, then one summary table of the headline ratios and their goals.
 *
 * The side-by-side benchmarks (tcp-initiator, tcp-target, iser-vs-tcp, rxjs-cost) run in this process with the
 * budget given (`--seconds 2 --rounds 3` by default: about five minutes in all); the ones that print their own
 * tables (crc32c, softroce) run as child processes, bounded in time, and their output is shown as it is. A
 * benchmark whose peer is missing (tgtd, iscsi-perf) is skipped with the reason; one that fails is reported and
 * the others still run. Goals are informational: a missed goal is printed, never an exit status.
 *
 * Run: `npm run bench` or `npx tsx bench/run.ts [--seconds 2] [--rounds 3]`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runTool, tail } from '../test/support/peers/run-tool.js';
import { which } from '../test/support/tools.js';
import { describeMachine } from './harness/machine.js';
import { isMain, parseBudget, type BenchBudget } from './harness/options.js';
import { formatCount, formatRatio } from './harness/stats.js';
import { formatTable } from './harness/table.js';
import { formatIserVsTcpReport, runIserVsTcpBench } from './iser-vs-tcp.js';
import { formatRxjsCostReport, runRxjsCostBench } from './rxjs-cost.js';
import { formatTcpInitiatorReport, runTcpInitiatorBench } from './tcp-initiator.js';
import { formatTcpTargetReport, runTcpTargetBench } from './tcp-target.js';

/** One line of the summary. */
export interface SummaryRow {
  readonly bench: string;
  readonly figure: string;
  /** Our figure (formatted). */
  readonly ours: string;
  /** The peer's figure (formatted), or empty. */
  readonly peer: string;
  /** ours / peer, NaN when not a ratio. */
  readonly ratio: number;
  /** The goal as text (`>= 1.2x`), or empty. */
  readonly goal: string;
  /** Whether the goal is met; undefined without a goal. */
  readonly met?: boolean;
}

/** One benchmark's outcome. */
export interface BenchOutcome {
  readonly name: string;
  readonly status: 'ran' | 'skipped' | 'failed';
  /** The skip reason or the error. */
  readonly note?: string;
  readonly report?: string;
  readonly rows: readonly SummaryRow[];
}

/** Options of {@link runAllBenches}. */
export interface RunAllOptions extends BenchBudget {
  /** Names of the benchmarks to run (default all). */
  readonly only?: readonly string[];
  /** Where reports go as each benchmark finishes (default: nowhere). */
  readonly print?: (text: string) => void;
}

interface Bench {
  readonly name: string;
  /** Programs it needs on PATH. */
  readonly needs: readonly string[];
  /** False when its file is not in this checkout. */
  present?(): boolean;
  run(budget: BenchBudget): Promise<{ report: string; rows: SummaryRow[] }>;
}

const goalRow = (
  bench: string,
  figure: string,
  ours: number,
  peer: number,
  goal: number,
  unit = 'IOPS',
): SummaryRow => {
  const ratio = peer > 0 ? ours / peer : Number.NaN;
  return {
    bench,
    figure,
    ours: `${formatCount(ours)} ${unit}`,
    peer: `${formatCount(peer)} ${unit}`,
    ratio,
    goal: `>= ${goal.toFixed(1)}x`,
    met: ratio >= goal,
  };
};

/** A benchmark that prints its own tables, run as `node --import tsx FILE` with a time bound. */
function childBench(name: string, file: string, timeoutMs: number): Bench {
  // Compiled (bench/compiled.sh), this module is .js and so are its siblings.
  const source = fileURLToPath(new URL(file, import.meta.url));
  const path = existsSync(source) ? source : source.replace(/\.ts$/, '.js');
  return {
    name,
    needs: [],
    present: () => existsSync(path),
    run: async () => {
      const result = await runTool(process.execPath, ['--import', 'tsx', path], {
        timeoutMs,
        cwd: fileURLToPath(new URL('..', import.meta.url)),
      });
      if (result.timedOut || result.exitCode !== 0) {
        throw new Error(
          `${file} ${result.timedOut ? `overran ${timeoutMs} ms` : `exited ${result.exitCode ?? result.signal ?? '?'}`}: ${tail(result.stderr + result.stdout)}`,
        );
      }
      return {
        report: result.stdout.trimEnd(),
        rows: [{ bench: name, figure: 'its own table (above)', ours: '', peer: '', ratio: Number.NaN, goal: '' }],
      };
    },
  };
}

const BENCHES: readonly Bench[] = [
  {
    name: 'tcp-initiator',
    needs: ['tgtd', 'tgtadm', 'iscsi-perf'],
    run: async (budget) => {
      const result = await runTcpInitiatorBench(budget);
      return {
        report: formatTcpInitiatorReport(result),
        rows: result.rows.map((r) =>
          goalRow('tcp-initiator', `${r.shape.label}, ours vs libiscsi`, r.ours.median, r.libiscsi.median, 1.0),
        ),
      };
    },
  },
  {
    name: 'tcp-target',
    needs: ['tgtd', 'tgtadm', 'iscsi-perf'],
    run: async (budget) => {
      const result = await runTcpTargetBench(budget);
      return {
        report: formatTcpTargetReport(result),
        rows: result.rows.flatMap((r) => [
          goalRow('tcp-target', `${r.shape.label}, ours (file) vs tgt`, r.oursFile.iops.median, r.tgt.iops.median, 1.2),
          ...(r.oursMemory === undefined
            ? []
            : [
                {
                  ...goalRow(
                    'tcp-target',
                    `${r.shape.label}, ours (memory) vs tgt`,
                    r.oursMemory.iops.median,
                    r.tgt.iops.median,
                    1.2,
                  ),
                  goal: '',
                  met: undefined,
                },
              ]),
        ]),
      };
    },
  },
  {
    name: 'iser-vs-tcp',
    needs: [],
    run: async (budget) => {
      const result = await runIserVsTcpBench(budget);
      return {
        report: formatIserVsTcpReport(result),
        rows: [
          goalRow(
            'iser-vs-tcp',
            '4 KiB random read QD 32, iSER (sim) vs TCP',
            result.iser.iops.median,
            result.tcp.iops.median,
            2.0,
          ),
          ...result.virtualTime.map((v): SummaryRow => ({
            bench: 'iser-vs-tcp',
            figure: `virtual time: ${v.label}`,
            ours: `${formatCount(v.speed.median)} sim s/s`,
            peer: '',
            ratio: Number.NaN,
            goal: '',
          })),
        ],
      };
    },
  },
  {
    name: 'rxjs-cost',
    needs: [],
    run: async (budget) => {
      const result = await runRxjsCostBench(budget);
      const direct = (qd: number): number =>
        result.rows.find((r) => r.queueDepth === qd && r.path === 'sans-IO machine')?.commandsPerSecond.median ?? NaN;
      return {
        report: formatRxjsCostReport(result),
        rows: result.rows
          .filter((r) => r.path !== 'sans-IO machine')
          .map((r): SummaryRow => ({
            bench: 'rxjs-cost',
            figure: `${r.path} vs sans-IO, QD ${r.queueDepth} (${r.extraUs >= 0 ? '+' : ''}${r.extraUs.toFixed(1)} us/cmd)`,
            ours: `${formatCount(r.commandsPerSecond.median)} cmd/s`,
            peer: `${formatCount(direct(r.queueDepth))} cmd/s`,
            ratio: r.ratio,
            goal: '',
          })),
      };
    },
  },
  childBench('crc32c', './crc32c.ts', 120_000),
  childBench('softroce', './softroce.ts', 120_000),
];

/** Runs the benchmarks in order; never throws for one benchmark's failure. */
export async function runAllBenches(options: RunAllOptions): Promise<BenchOutcome[]> {
  const print = options.print ?? (() => undefined);
  const outcomes: BenchOutcome[] = [];
  for (const bench of BENCHES) {
    if (options.only !== undefined && !options.only.includes(bench.name)) continue;
    const missingTool = bench.needs.find((tool) => which(tool) === undefined);
    if (bench.present?.() === false) continue; // a benchmark file not in this checkout
    if (missingTool !== undefined) {
      const note = `${missingTool} not found (tools/install-deps.sh installs it)`;
      print(`== ${bench.name}: SKIPPED, ${note}\n`);
      outcomes.push({ name: bench.name, status: 'skipped', note, rows: [] });
      continue;
    }
    print(`== ${bench.name}`);
    try {
      const { report, rows } = await bench.run(options);
      print(`${report}\n`);
      outcomes.push({ name: bench.name, status: 'ran', report, rows });
    } catch (err) {
      const note = err instanceof Error ? err.message : String(err);
      print(`${bench.name} FAILED: ${note}\n`);
      outcomes.push({ name: bench.name, status: 'failed', note, rows: [] });
    }
  }
  return outcomes;
}

/** The combined summary table. */
export function formatSummary(outcomes: readonly BenchOutcome[]): string {
  const rows: string[][] = [];
  for (const o of outcomes) {
    if (o.status !== 'ran') {
      rows.push([o.name, o.status.toUpperCase(), '', '', '', '', o.note ?? '']);
      continue;
    }
    for (const r of o.rows) {
      const met = r.met === undefined ? '' : r.met ? 'met' : 'MISSED';
      rows.push([r.bench, r.figure, r.ours, r.peer, Number.isFinite(r.ratio) ? formatRatio(r.ratio) : '', r.goal, met]);
    }
  }
  return formatTable(['bench', 'figure', 'ours', 'peer / baseline', 'ratio', 'goal', ''], rows, 2);
}

if (isMain(import.meta.url)) {
  const budget = parseBudget(process.argv.slice(2), { seconds: 2, rounds: 3 });
  const started = performance.now();
  console.log(describeMachine());
  console.log(`budget: ${budget.seconds} s per measured case, ${budget.rounds} rounds\n`);
  runAllBenches({
    ...budget,
    print: (text) => {
      console.log(text);
    },
  })
    .then((outcomes) => {
      console.log(`== summary (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      console.log(formatSummary(outcomes));
      console.log(describeMachine());
      if (outcomes.some((o) => o.status === 'failed')) process.exitCode = 1;
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
