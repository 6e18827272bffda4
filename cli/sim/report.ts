/**
 * The report of one `iser sim` run: report.json (figures a script can read) and the same figures for a person on
 * stdout. Rates are per virtual second; MB is 10^6 bytes; latencies are virtual microseconds.
 */
import { formatBytes } from '../parse-values.js';
import type { LatencyHistogram } from '../latency-histogram.js';
import type { FiredFault } from './faults.js';
import type { Scenario } from './scenario.js';
import type { WorldCounters } from './world.js';
import type { PhaseFigures, WorkloadResult } from './workload.js';

/** Latency percentiles in virtual microseconds. */
export interface LatencySummary {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** One phase (or the total) in report.json. */
export interface PhaseReport {
  readonly name: string;
  readonly ops: number;
  readonly reads: number;
  readonly writes: number;
  readonly failed: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly virtualMs: number;
  readonly iops: number;
  readonly mbPerSecond: number;
  readonly latencyUs: LatencySummary;
}

/** report.json. */
export interface SimReport {
  readonly scenario: {
    readonly name: string;
    readonly seed: number;
    readonly transport: Scenario['transport'];
    readonly virtualTimeLimitMs: number;
  };
  /** False when the run stopped early (virtual-time limit); the figures are then partial. */
  readonly completed: boolean;
  readonly stopReason: string | undefined;
  readonly exitCode: number;
  readonly virtualMs: number;
  readonly sessions: number;
  readonly phases: readonly PhaseReport[];
  readonly total: PhaseReport;
  readonly reconnects: number;
  readonly connectionsLost: number;
  /** The faults that fired, in order. */
  readonly faults: readonly FiredFault[];
  /** Faults of the plan that never fired (the workload ended before their time or operation count). */
  readonly faultsNotFired: number;
  readonly transport: WorldCounters & { readonly copiesPerByte: number | null };
  readonly verification: {
    /** True when reads were checked, everything was read back and nothing differed or failed. */
    readonly verified: boolean;
    readonly checked: boolean;
    readonly readBackBytes: number;
    readonly mismatchedBlocks: number;
    readonly acknowledgedWritesLost: number;
    readonly corruptBlocks: number;
    readonly firstMismatches: readonly {
      readonly lba: number;
      readonly kind: string;
      readonly expected: readonly number[];
      readonly found: number | null;
    }[];
  };
  readonly failedCommands: WorkloadResult['failures'];
  readonly events: { readonly file: string; readonly count: number; readonly sha256: string };
  readonly pcapng:
    | { readonly file: string; readonly packets: number; readonly sha256: string }
    | { readonly file: null; readonly reason: string };
  /** Wall-clock time of the run (the only figure that changes from run to run). */
  readonly wallMs: number;
}

function latencySummary(h: LatencyHistogram): LatencySummary {
  const r = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    mean: r(h.mean),
    p50: r(h.percentile(50)),
    p90: r(h.percentile(90)),
    p99: r(h.percentile(99)),
    p999: r(h.percentile(99.9)),
    max: r(h.max),
  };
}

/** A phase's figures as reported. */
export function phaseReport(p: PhaseFigures): PhaseReport {
  const ops = p.reads + p.writes;
  const seconds = p.virtualMs / 1000;
  return {
    name: p.name,
    ops,
    reads: p.reads,
    writes: p.writes,
    failed: p.failed,
    bytesRead: p.bytesRead,
    bytesWritten: p.bytesWritten,
    virtualMs: Math.round(p.virtualMs * 1e6) / 1e6,
    iops: seconds > 0 ? Math.round(ops / seconds) : 0,
    mbPerSecond: seconds > 0 ? Math.round(((p.bytesRead + p.bytesWritten) / 1e6 / seconds) * 10) / 10 : 0,
    latencyUs: latencySummary(p.latency),
  };
}

const group = (n: number): string => Math.round(n).toLocaleString('en-US');

function us(v: number): string {
  return v < 1000 ? `${v.toFixed(1)} us` : `${(v / 1000).toFixed(2)} ms`;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map(
    (row) =>
      '  ' +
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
  );
}

/** The human report. */
export function humanReport(report: SimReport): string[] {
  const s = report.scenario;
  const lines = [
    `iser sim: ${s.name} on ${s.transport === 'fabric' ? 'the simulated RDMA fabric' : 'soft-RoCE (in-memory link)'}, ` +
      `seed ${s.seed}, virtual time${report.completed ? '' : ` — STOPPED: ${report.stopReason ?? '?'}`}`,
    '',
  ];
  const header = ['phase', 'ops', 'reads', 'writes', 'failed', 'virtual', 'IOPS', 'MB/s', 'p50', 'p99', 'p99.9', 'max'];
  const row = (p: PhaseReport): string[] => [
    p.name,
    group(p.ops),
    group(p.reads),
    group(p.writes),
    group(p.failed),
    `${p.virtualMs.toFixed(3)} ms`,
    group(p.iops),
    p.mbPerSecond.toFixed(1),
    us(p.latencyUs.p50),
    us(p.latencyUs.p99),
    us(p.latencyUs.p999),
    us(p.latencyUs.max),
  ];
  lines.push(...table([header, ...report.phases.map(row), ...(report.phases.length > 1 ? [row(report.total)] : [])]));
  lines.push('');
  const t = report.transport;
  const v = report.verification;
  const facts: [string, string][] = [
    ['sessions', `${report.sessions} (reconnects ${report.reconnects}, connections lost ${report.connectionsLost})`],
    [
      'faults',
      (report.faults.length === 0
        ? 'none'
        : report.faults.map((f) => `${f.kind} at ${f.atMs.toFixed(3)} ms (after ${f.afterOps} ops)`).join('; ')) +
        (report.faultsNotFired > 0 ? `; ${report.faultsNotFired} never fired (the workload ended first)` : ''),
    ],
    ['retransmissions', `${group(t.retransmissions)} (RNR NAKs ${group(t.rnrNaks)})`],
    [
      'copies per byte',
      t.copies === undefined || t.copiesPerByte === null
        ? 'not counted on soft-RoCE'
        : `${t.copiesPerByte.toFixed(2)} (${group(t.copies.operations)} copies, ${formatBytes(t.copies.bytes)} of ${formatBytes(t.bytesMoved)} moved)`,
    ],
    [
      'data verified',
      !v.checked
        ? 'not checked (no phase verifies)'
        : v.verified
          ? `yes (${formatBytes(v.readBackBytes)} read back, every read checked)`
          : `NO (${v.mismatchedBlocks} blocks differ, ${report.failedCommands.length} commands failed)`,
    ],
    ['acknowledged writes lost', String(v.acknowledgedWritesLost)],
    ['event log', `${group(report.events.count)} events, sha256 ${report.events.sha256} -> ${report.events.file}`],
    [
      'pcapng',
      report.pcapng.file === null
        ? report.pcapng.reason
        : `${group(report.pcapng.packets)} packets, sha256 ${report.pcapng.sha256} -> ${report.pcapng.file}`,
    ],
    ['virtual time', `${report.virtualMs.toFixed(3)} ms (wall ${group(report.wallMs)} ms)`],
  ];
  const width = Math.max(...facts.map(([k]) => k.length));
  lines.push(...facts.map(([k, val]) => `  ${k.padEnd(width)}  ${val}`));
  return lines;
}
