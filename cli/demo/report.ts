/** The demo's short report: a table of steps and a table of figures, aligned, no colours needed. */
import type { VerbsCounters } from '../../sim/fabric/counters.js';
import { formatBytes } from '../parse-values.js';
import type { DemoEnvironment, DemoRoceCounters } from './environment.js';
import type { ScenarioResult } from './scenario.js';

/** What the report shows besides the scenario. */
export interface ReportInput {
  readonly env: Pick<DemoEnvironment, 'transport' | 'virtualTime' | 'portal'>;
  readonly result: ScenarioResult;
  readonly counters: VerbsCounters | undefined;
  /** On soft-RoCE: what both devices counted. */
  readonly roce?: DemoRoceCounters | undefined;
  readonly seed: number;
  readonly events: number;
  readonly hash: string;
  readonly trace: string | undefined;
  readonly wallMs: number;
}

const group = (n: number): string => Math.round(n).toLocaleString('en-US');

function rows(table: readonly (readonly [string, string])[], indent = '  '): string[] {
  const width = Math.max(...table.map(([k]) => k.length));
  return table.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`);
}

function rate(commands: number, bytes: number, ms: number): { iops: string; mibs: string } {
  if (ms <= 0) return { iops: '-', mibs: '-' };
  const mibs = ((bytes / 2 ** 20) * 1000) / ms;
  return {
    iops: group((commands * 1000) / ms),
    mibs: mibs.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
  };
}

function ms(value: number): string {
  return value < 10 ? `${value.toFixed(3)} ms` : `${group(value)} ms`;
}

/** The report's lines. */
export function demoReport(input: ReportInput): string[] {
  const { result, env, counters } = input;
  const io = { commands: result.write.commands + result.read.commands, bytes: result.write.bytes + result.read.bytes };
  const virtualMs = result.write.virtualMs + result.read.virtualMs;
  const wallMs = result.write.wallMs + result.read.wallMs;
  const target = result.discovered[0];
  const where = target?.addresses[0];
  const verify =
    result.mismatches === 0
      ? `${formatBytes(result.read.bytes)} in ${result.read.commands} commands: identical`
      : `MISMATCH in ${result.mismatches} commands (first at byte ${result.firstMismatchOffset ?? '?'})`;
  const steps: [string, string][] = [
    [
      'discovery',
      target === undefined ? 'no target' : `${target.name} at ${where?.host ?? '?'}:${where?.port ?? 3260}`,
    ],
    [
      'login',
      `TSIH ${result.login.tsih}, RDMAExtensions=${result.login.rdmaExtensions ? 'Yes' : 'No'}, ` +
        `target receives ${formatBytes(result.login.recvSegment)} segments`,
    ],
    ['write', `${formatBytes(result.write.bytes)} in ${result.write.commands} commands`],
    ['read + verify', verify],
    ['abort', result.abort],
    ['after abort', result.aliveAfterAbort ? 'TEST UNIT READY and READ: session fine' : 'READ after abort DIFFERS'],
    ['logout', `done (Time2Wait ${result.logout.time2Wait} s)`],
  ];
  const v = rate(io.commands, io.bytes, virtualMs);
  const w = rate(io.commands, io.bytes, wallMs);
  const figures: [string, string][] = [];
  if (env.virtualTime) {
    figures.push(['', `${'virtual'.padEnd(14)}wall`]);
    figures.push(['write + read', `${ms(virtualMs).padEnd(14)}${ms(wallMs)}`]);
    figures.push(['IOPS', `${v.iops.padEnd(14)}${w.iops}`]);
    figures.push(['MiB/s', `${v.mibs.padEnd(14)}${w.mibs}`]);
  } else {
    figures.push(['write + read', `${ms(wallMs)} (wall)`]);
    figures.push(['IOPS', w.iops]);
    figures.push(['MiB/s', w.mibs]);
  }
  figures.push(['commands', `${result.commands} (+ login, discovery, logout)`]);
  if (counters !== undefined) {
    const op = counters.operations;
    const by = counters.bytes;
    figures.push([
      'RDMA ops',
      `SEND ${group(op.SEND + op.SEND_WITH_INV)}, RDMA WRITE ${group(op.RDMA_WRITE)}, RDMA READ ${group(op.RDMA_READ)}`,
    ]);
    figures.push([
      'RDMA bytes',
      `WRITE ${formatBytes(by.RDMA_WRITE)}, READ ${formatBytes(by.RDMA_READ)}, SEND ${formatBytes(by.SEND + by.SEND_WITH_INV)}`,
    ]);
    const moved = by.RDMA_WRITE + by.RDMA_READ + by.SEND + by.SEND_WITH_INV;
    figures.push([
      'payload copies',
      `${group(counters.copies.operations)} (${formatBytes(counters.copies.bytes)}; ` +
        `${moved > 0 ? (counters.copies.bytes / moved).toFixed(2) : '0'} per byte moved)`,
    ]);
  }
  if (input.roce !== undefined) {
    const { initiator, target } = input.roce;
    const packets = initiator.sent.packets + target.sent.packets;
    const bytes = initiator.sent.bytes + target.sent.bytes;
    figures.push(['RoCEv2 packets', `${group(packets)} (${formatBytes(bytes)} of UDP payload)`]);
    const opcodes = (prefix: string): number =>
      [initiator, target]
        .flatMap((c) => Object.entries(c.sent.byOpcode))
        .filter(([op]) => op.startsWith(prefix))
        .reduce((n, [, c]) => n + c.packets, 0);
    figures.push([
      'by kind',
      `SEND ${group(opcodes('RC_SEND'))}, RDMA WRITE ${group(opcodes('RC_RDMA_WRITE'))}, ` +
        `READ response ${group(opcodes('RC_RDMA_READ_RESPONSE'))}`,
    ]);
    const sum = (key: 'retransmittedPackets' | 'seqNaksSent' | 'rnrNaksSent' | 'duplicateRequests'): number =>
      initiator[key] + target[key];
    figures.push([
      'RC recovery',
      `${group(sum('retransmittedPackets'))} retransmitted, ${group(sum('seqNaksSent'))} sequence NAKs, ` +
        `${group(sum('rnrNaksSent'))} RNR NAKs, ${group(sum('duplicateRequests'))} duplicates`,
    ]);
  }
  figures.push([
    'event log',
    `${group(input.events)} events, sha256 ${input.hash.slice(0, 16)}…${input.trace === undefined ? '' : ` -> ${input.trace}`}`,
  ]);
  figures.push(['seed', String(input.seed)]);
  figures.push(['total wall time', ms(input.wallMs)]);
  const titles: Record<DemoEnvironment['transport'], string> = {
    fabric: `iSCSI over iSER on the simulated RDMA fabric, in virtual time (seed ${input.seed})`,
    softroce: `iSCSI over iSER on soft-RoCE (RoCEv2 on an in-memory link), in virtual time (seed ${input.seed})`,
    'softroce-udp': `iSCSI over iSER on soft-RoCE over UDP to ${env.portal.host}, in real time`,
    tcp: `iSCSI over TCP on ${env.portal.host}:${env.portal.port}, in real time`,
  };
  const title = `iser demo: ${titles[env.transport]}`;
  return [title, '', ...rows(steps), '', ...rows(figures), ''];
}
