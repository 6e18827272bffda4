/**
 * `npm start` (cli/demo.ts): target and initiator in one process, by default over iSER on the simulated RDMA fabric
 * in virtual time. Flags: --seed N (same seed, same event log), --trace FILE (the event log as JSON lines),
 * --transport fabric|softroce|softroce-udp|tcp, --pcap FILE (TCP segments or RoCEv2 datagrams; the fabric has no
 * packets), --bytes SIZE, --qd N.
 * Exit 0 when everything verified, 4 on a data mismatch, otherwise the `iser` exit codes.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { asyncScheduler } from 'rxjs';
import { EventLog } from '../../sim/trace/event-log.js';
import { recordFabricTrace } from '../../sim/fabric/event-log-bridge.js';
import type { TargetServerEvent } from '../../server/iscsi-target.js';
import { debugStack, describeFailure } from '../failure.js';
import { EXIT_CODES_HELP, ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { integerValue, sizeValue } from '../parse-values.js';
import { PcapngFile } from '../pcap/pcapng-file.js';
import { DEMO_TRANSPORTS, openEnvironment, type DemoEnvironment, type DemoTransport } from './environment.js';
import { demoReport } from './report.js';
import { runScenario, type TmfWatcher } from './scenario.js';
import { targetEventFields } from './target-events.js';

/** What tests may hook into (not flags: nothing a user should reach). */
export interface DemoHooks {
  /** Runs between writing the pattern and reading it back. */
  readonly afterWrite?: (env: DemoEnvironment) => Promise<void>;
}

interface DemoFlags {
  readonly seed: number;
  readonly trace?: string;
  readonly transport: DemoTransport;
  readonly pcap?: string;
  readonly bytes: number;
  readonly qd: number;
}

const CHUNK = 64 * 1024;

function parseFlags(argv: readonly string[], io: CliIo): DemoFlags | number {
  const program = new Command('npm start --')
    .description('target and initiator in one process: discovery, login, write, read back, verify, abort, logout')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => {
        io.out(text.trimEnd());
      },
      writeErr: (text) => {
        io.err(text.trimEnd());
      },
    })
    .addOption(
      new Option('--seed <n>', 'seed of every random choice').default(1).argParser(integerValue(0, 2 ** 32 - 1)),
    )
    .option('--trace <file>', 'write the event log as JSON lines')
    .addOption(new Option('--transport <kind>', 'where to run').choices(DEMO_TRANSPORTS).default('fabric'))
    .option('--pcap <file>', 'write packets as pcapng, where the transport has packets')
    .addOption(
      new Option('--bytes <size>', 'bytes written and read back (multiple of 64k)')
        .default(4 * 2 ** 20, '4M')
        .argParser(sizeValue(256 * 2 ** 20)),
    )
    .addOption(new Option('--qd <n>', 'commands in flight').default(8).argParser(integerValue(1, 128)))
    .addHelpText('after', `\n${EXIT_CODES_HELP}`);
  try {
    program.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    throw err;
  }
  const flags = program.opts<DemoFlags>();
  if (flags.bytes % CHUNK !== 0) {
    io.err(`npm start: --bytes must be a multiple of 64k, got ${flags.bytes}`);
    return ExitCode.Usage;
  }
  return flags;
}

/** Watches the target's events for TMF responses (the abort step waits on one). */
function tmfWatcher(getEnv: () => DemoEnvironment | undefined): {
  readonly watcher: TmfWatcher;
  readonly onEvent: (event: TargetServerEvent) => void;
} {
  let waiting: ((response: number | undefined) => void) | undefined;
  let cancelTimer: (() => void) | undefined;
  const settle = (response: number | undefined): void => {
    const resolve = waiting;
    waiting = undefined;
    cancelTimer?.();
    cancelTimer = undefined;
    resolve?.(response);
  };
  return {
    watcher: {
      next: (ms) =>
        new Promise((resolve) => {
          waiting = resolve;
          const timer = getEnv()?.scheduler.schedule(() => {
            settle(undefined);
          }, ms);
          cancelTimer = () => timer?.unsubscribe();
        }),
      cancel: () => {
        settle(undefined);
      },
    },
    onEvent: (event) => {
      if (event.kind === 'session-event' && event.event.kind === 'task-management') settle(event.event.response);
    },
  };
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => {
      resolve();
    });
  });
}

/** Runs the demo; resolves with the exit code. */
export async function runDemo(argv: readonly string[], io: CliIo, hooks: DemoHooks = {}): Promise<number> {
  const flags = parseFlags(argv, io);
  if (typeof flags === 'number') return flags;
  const started = performance.now();
  if (flags.pcap !== undefined && flags.transport === 'fabric') {
    io.err(
      `note: --pcap ${flags.pcap}: the simulated fabric moves messages, not packets, so there is nothing to ` +
        'capture; --trace FILE records every verb instead',
    );
  }
  const trace = flags.trace === undefined ? undefined : createWriteStream(flags.trace);
  let capture: PcapngFile | undefined;
  let env: DemoEnvironment | undefined;
  const tmf = tmfWatcher(() => env);
  // The log exists before the environment (soft-RoCE devices log from their opening on): until the environment's
  // clock exists, virtual time is 0 and real time is the wall clock.
  const virtual = flags.transport === 'fabric' || flags.transport === 'softroce';
  const clock = { now: (): number => env?.scheduler.now() ?? (virtual ? 0 : asyncScheduler.now()) };
  const log = new EventLog({ clock, keep: false, ...(trace === undefined ? {} : { sink: trace }) });
  log.record('demo', 'start', { seed: flags.seed, transport: flags.transport, bytes: flags.bytes, qd: flags.qd });
  try {
    if (flags.pcap !== undefined && flags.transport !== 'fabric') {
      capture = await PcapngFile.create(
        flags.pcap,
        flags.transport === 'tcp'
          ? 'iser demo (iSCSI/TCP through a capturing relay)'
          : `iser demo (RoCEv2 of soft-RoCE, ${flags.transport === 'softroce' ? 'in-memory link, virtual time' : 'UDP loopback'})`,
      );
    }
    env = await openEnvironment({
      ...(capture === undefined ? {} : { capture }),
      transport: flags.transport,
      seed: flags.seed,
      lunBytes: Math.max(flags.bytes, 2 ** 20),
      eventLog: log,
      onTargetEvent: (event) => {
        tmf.onEvent(event);
        log.record('target', event.kind, targetEventFields(event));
      },
    });
    const fabric = env.fabric;
    const recording = fabric === undefined ? undefined : recordFabricTrace(fabric, log);
    const current = env;
    try {
      const result = await current.run(
        runScenario(
          current,
          {
            seed: flags.seed,
            bytes: flags.bytes,
            chunk: CHUNK,
            depth: flags.qd,
            ...(hooks.afterWrite === undefined ? {} : { afterWrite: hooks.afterWrite }),
          },
          log,
          tmf.watcher,
        ),
      );
      await current.close();
      env = undefined;
      recording?.unsubscribe();
      log.record('demo', 'end', { mismatches: result.mismatches, alive: result.aliveAfterAbort });
      if (trace !== undefined) await closeStream(trace);
      if (capture !== undefined) {
        const file = capture;
        capture = undefined;
        await file.close();
        io.err(`pcap: ${file.packets} packets written to ${file.path} (read it with: ${file.tsharkHint})`);
      }
      for (const line of demoReport({
        env: current,
        result,
        counters: current.counters(),
        roce: current.roceCounters(),
        seed: flags.seed,
        events: log.size,
        hash: log.hash(),
        trace: flags.trace,
        wallMs: performance.now() - started,
      })) {
        io.out(line);
      }
      if (result.mismatches > 0 || !result.aliveAfterAbort) {
        io.err('npm start: verification FAILED: the data read back differs from what was written');
        return ExitCode.DataMismatch;
      }
      return ExitCode.Ok;
    } finally {
      recording?.unsubscribe();
    }
  } catch (err) {
    const failure = describeFailure(err);
    io.err(`npm start: ${failure.message}`);
    const stack = failure.exitCode === ExitCode.Internal ? debugStack(err, []) : undefined;
    if (stack !== undefined) io.err(stack);
    return failure.exitCode;
  } finally {
    await env?.close().catch(() => undefined);
    await capture?.close().catch(() => undefined);
    if (trace !== undefined && !trace.closed) await closeStream(trace).catch(() => undefined);
  }
}
