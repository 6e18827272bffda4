/**
 * `iser sim <scenario.yaml> [--seed N] [--out DIR]`: runs a scenario in virtual time and writes report.json,
 * events.jsonl and (soft-RoCE) trace.pcapng to DIR, with the human report on stdout.
 *
 * Exit codes: 0 everything verified (or nothing to verify); 1 bad scenario file (each problem as
 * file:line:column) or usage; 2 a command failed (a session could not log in or recover); 4 data read back
 * differs or an acknowledged write was lost; 5 the scenario cannot be read or DIR cannot be written;
 * 6 the run hit its virtual-time limit (or the wall-clock safety net) before finishing.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../config/errors.js';
import type { VirtualScheduler } from '../../sim/clock/virtual-scheduler.js';
import { EventLog } from '../../sim/trace/event-log.js';
import { isIserError } from '../../protocol/errors.js';
import { ExitCode } from '../exit-codes.js';
import { debugStack } from '../failure.js';
import type { CliIo } from '../io.js';
import { FaultRunner } from './faults.js';
import { humanReport, phaseReport, type SimReport } from './report.js';
import { loadScenario, withSeed, type Scenario } from './scenario.js';
import { openWorld, scenarioClock, type SimWorld } from './world.js';
import { Workload, type PhaseFigures, type WorkloadResult } from './workload.js';
import { LatencyHistogram } from '../latency-histogram.js';

/** The run stopped before the scenario finished (virtual-time limit or wall-clock safety net). */
export const SIM_EXIT_LIMIT = 6;

/** Wall-clock safety net of one run: a scenario that runs longer is stopped and reported as such. */
const WALL_LIMIT_MS = 15 * 60_000;

/** Options of {@link runSim}. */
export interface SimOptions {
  readonly scenario: string;
  readonly seed?: number;
  /** Where the files go (default `sim-out/<scenario name>`). */
  readonly out?: string;
  /** Wall-clock safety net in ms (tests shorten it). */
  readonly wallLimitMs?: number;
  /** Tests only: runs after the last phase, before the read-back (to damage a LUN behind the target's back). */
  readonly beforeReadBack?: (world: SimWorld) => Promise<void>;
}

/** The files and figures of a run (tests read them). */
export interface SimOutcome {
  readonly exitCode: number;
  readonly report: SimReport | undefined;
  readonly outDir: string | undefined;
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => {
      resolve();
    });
  });
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function totalOf(phases: readonly PhaseFigures[], latency: LatencyHistogram | undefined): PhaseFigures {
  return {
    name: 'total',
    reads: phases.reduce((n, p) => n + p.reads, 0),
    writes: phases.reduce((n, p) => n + p.writes, 0),
    bytesRead: phases.reduce((n, p) => n + p.bytesRead, 0),
    bytesWritten: phases.reduce((n, p) => n + p.bytesWritten, 0),
    failed: phases.reduce((n, p) => n + p.failed, 0),
    virtualMs: phases.reduce((n, p) => n + p.virtualMs, 0),
    latency: latency ?? new LatencyHistogram(),
  };
}

/** What the run's main task leaves behind, even when it is stopped half way. */
interface RunState {
  world?: SimWorld;
  workload?: Workload;
  faults?: FaultRunner;
  readonly phases: PhaseFigures[];
  readBackBytes: number;
}

async function scenarioMain(
  scenario: Scenario,
  clock: VirtualScheduler,
  log: EventLog,
  state: RunState,
  beforeReadBack: SimOptions['beforeReadBack'],
): Promise<void> {
  const world = await openWorld(scenario, { clock, log });
  state.world = world;
  const faults = new FaultRunner(world, scenario.faults, log);
  state.faults = faults;
  const workload = new Workload(scenario, world, log, faults);
  state.workload = workload;
  await workload.login();
  faults.start();
  const random = world.random.fork('phases');
  for (const [i, phase] of scenario.phases.entries()) {
    state.phases.push(await workload.phase(phase, random.fork(`phase-${i}`)));
  }
  await faults.settle();
  await beforeReadBack?.(world);
  state.readBackBytes = await workload.readBack();
  await workload.logout();
  await world.close();
  log.record('sim', 'end', {});
}

function exitCodeOf(result: WorkloadResult, completed: boolean): number {
  if (result.mismatchCount > 0) return ExitCode.DataMismatch;
  if (!completed) return SIM_EXIT_LIMIT;
  if (result.failures.length > 0) return ExitCode.Connection;
  return ExitCode.Ok;
}

/** Runs `iser sim`; resolves with the exit code and the report. */
export async function runSim(options: SimOptions, io: CliIo): Promise<SimOutcome> {
  const started = performance.now();
  let scenario: Scenario;
  try {
    const loaded = await loadScenario(options.scenario);
    for (const w of loaded.warnings) io.err(`${options.scenario}:${w.line}:${w.column}: warning: ${w.message}`);
    scenario = options.seed === undefined ? loaded : withSeed(loaded, options.seed);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`iser sim: ${options.scenario} is not a valid scenario:`);
      for (const line of err.message.split('\n')) io.err(`  ${line}`);
      return { exitCode: ExitCode.Usage, report: undefined, outDir: undefined };
    }
    const code = (err as { code?: unknown }).code;
    io.err(`iser sim: cannot read ${options.scenario}: ${typeof code === 'string' ? code : String(err)}`);
    return { exitCode: ExitCode.LocalIo, report: undefined, outDir: undefined };
  }
  const outDir = options.out ?? join('sim-out', scenario.name.replace(/[^A-Za-z0-9._-]/gu, '_'));
  const files = {
    report: join(outDir, 'report.json'),
    events: join(outDir, 'events.jsonl'),
    pcap: join(outDir, 'trace.pcapng'),
  };
  let events: WriteStream;
  try {
    await mkdir(outDir, { recursive: true });
    // A capture left by an earlier run of another transport would be mistaken for this run's.
    await rm(files.pcap, { force: true });
    events = createWriteStream(files.events);
    await new Promise<void>((resolve, reject) => {
      events.once('open', () => {
        resolve();
      });
      events.once('error', reject);
    });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    io.err(`iser sim: cannot write to ${outDir}: ${typeof code === 'string' ? code : String(err)}`);
    return { exitCode: ExitCode.LocalIo, report: undefined, outDir };
  }

  const clock = scenarioClock(scenario);
  const log = new EventLog({ clock, keep: false, sink: events });
  log.record('sim', 'start', {
    scenario: scenario.name,
    seed: scenario.seed,
    transport: scenario.transport,
    phases: scenario.phases.length,
    faults: scenario.faults.length,
  });
  const state: RunState = { phases: [], readBackBytes: 0 };
  const outcome: { done: boolean; failure: Error | undefined } = { done: false, failure: undefined };
  const main = scenarioMain(scenario, clock, log, state, options.beforeReadBack).then(
    () => {
      outcome.done = true;
    },
    (err: unknown) => {
      outcome.done = true;
      outcome.failure = err instanceof Error ? err : new Error(String(err));
    },
  );
  const wallLimit = options.wallLimitMs ?? WALL_LIMIT_MS;
  let stopReason: string | undefined;
  try {
    await clock.runUntil(() => outcome.done || performance.now() - started > wallLimit);
    if (!outcome.done) stopReason = `wall-clock safety net of ${wallLimit / 1000} s reached`;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    stopReason =
      code === 'ERR_CLOCK_MAX_VIRTUAL_TIME'
        ? `virtual-time limit of ${scenario.virtualTimeLimitMs} ms reached`
        : err instanceof Error
          ? err.message
          : String(err);
  }
  if (outcome.done) await main;
  const failure = outcome.failure;
  if (failure !== undefined) {
    const code = (failure as { code?: unknown }).code;
    stopReason = `${typeof code === 'string' ? `${code}: ` : ''}${failure.message}`;
  }
  const completed = stopReason === undefined;
  if (!completed) log.record('sim', 'stopped', { reason: stopReason });

  const workload: WorkloadResult = state.workload?.result(state.phases, state.readBackBytes) ?? {
    sessions: 0,
    phases: [],
    reconnects: 0,
    connectionsLost: 0,
    mismatches: [],
    mismatchCount: 0,
    failures: [],
    verified: false,
    readBackBytes: 0,
  };
  // A run that failed before any command (login refused) is a connection failure, not a limit; an error that is
  // none of ours is a bug.
  let exitCode = exitCodeOf(workload, completed);
  if (failure !== undefined && exitCode === SIM_EXIT_LIMIT) {
    exitCode = isIserError(failure) ? ExitCode.Connection : ExitCode.Internal;
    const stack = exitCode === ExitCode.Internal ? debugStack(failure, []) : undefined;
    if (stack !== undefined) io.err(stack);
  }

  const counters = state.world?.counters();
  const pcap = scenario.transport === 'softroce' ? state.world?.pcapng() : undefined;
  const checked = scenario.phases.some((p) => p.verify);
  const lost = workload.mismatches.filter((m) => m.kind === 'lost-write').length;
  const report: SimReport = {
    scenario: {
      name: scenario.name,
      seed: scenario.seed,
      transport: scenario.transport,
      virtualTimeLimitMs: scenario.virtualTimeLimitMs,
    },
    completed,
    stopReason,
    exitCode,
    virtualMs: clock.now(),
    sessions: workload.sessions,
    phases: state.phases.map(phaseReport),
    total: phaseReport(totalOf(state.phases, state.workload?.latency)),
    reconnects: workload.reconnects,
    connectionsLost: workload.connectionsLost,
    faults: state.faults?.fired ?? [],
    faultsNotFired: scenario.faults.length - (state.faults?.fired.length ?? 0),
    transport: {
      retransmissions: counters?.retransmissions ?? 0,
      rnrNaks: counters?.rnrNaks ?? 0,
      bytesMoved: counters?.bytesMoved ?? 0,
      copies: counters?.copies,
      copiesPerByte:
        counters?.copies === undefined || counters.bytesMoved === 0
          ? null
          : Math.round((counters.copies.bytes / counters.bytesMoved) * 1000) / 1000,
      operations: counters?.operations ?? {},
      errors: counters?.errors ?? {},
      link: counters?.link,
    },
    verification: {
      verified: checked && completed && workload.verified,
      checked,
      readBackBytes: workload.readBackBytes,
      mismatchedBlocks: workload.mismatchCount,
      acknowledgedWritesLost: lost,
      corruptBlocks: workload.mismatches.length - lost,
      firstMismatches: workload.mismatches
        .slice(0, 10)
        .map((m) => ({ lba: m.lba, kind: m.kind, expected: m.expected, found: m.found ?? null })),
    },
    failedCommands: workload.failures.slice(0, 20),
    events: { file: files.events, count: log.size, sha256: log.hash() },
    pcapng:
      pcap === undefined
        ? {
            file: null,
            reason:
              scenario.transport === 'fabric'
                ? 'none: the simulated fabric moves messages, not packets (events.jsonl records every verb); use transport: softroce for RoCEv2 frames'
                : 'none: the run stopped before the network existed',
          }
        : { file: files.pcap, packets: pcap.length === 0 ? 0 : countPackets(state.world), sha256: sha256(pcap) },
    wallMs: Math.round(performance.now() - started),
  };
  try {
    await closeStream(events);
    if (pcap !== undefined) await writeFile(files.pcap, pcap);
    await writeFile(files.report, `${JSON.stringify(report, null, 2)}\n`);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    io.err(`iser sim: cannot write to ${outDir}: ${typeof code === 'string' ? code : String(err)}`);
    return { exitCode: ExitCode.LocalIo, report, outDir };
  }
  for (const line of humanReport(report)) io.out(line);
  io.out(`  report          ${files.report}`);
  if (exitCode === ExitCode.DataMismatch) {
    io.err(
      `iser sim: verification FAILED: ${workload.mismatchCount} blocks differ` +
        (lost > 0 ? `, ${lost} of them acknowledged writes that were lost` : ''),
    );
  } else if (exitCode === SIM_EXIT_LIMIT) {
    io.err(`iser sim: the run stopped early: ${stopReason ?? '?'}`);
  } else if (exitCode === ExitCode.Connection || exitCode === ExitCode.Internal) {
    const first = workload.failures[0];
    io.err(
      `iser sim: ${first === undefined ? (stopReason ?? 'the run failed') : `${workload.failures.length} commands failed; first: ${first.op} ${first.lba}+${first.blocks} in ${first.phase}: ${first.message}`}`,
    );
  }
  return { exitCode, report, outDir };
}

function countPackets(world: SimWorld | undefined): number {
  return world?.counters().link?.sent ?? 0;
}
