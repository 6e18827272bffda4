/**
 * What the RxJS command path costs: the same 4 KiB READs (QD 1 and QD 32) issued four ways against our target
 * over the in-memory Datamover pair (test/support/datamover-pair.ts: no sockets, no kernel), so what differs is the
 * initiator's command path only:
 *   - sans-IO: the InitiatorSession machine driven directly (events in, actions out, a run queue, callbacks);
 *   - session.command(): the Session's cold Observable, one subscription per command;
 *   - lun.read(): the Lun API (defer + block size + switchMap + map around session.command());
 *   - lun.promises.read(): the Promise façade (lastValueFrom over lun.read()).
 * Everything runs in this process and is CPU-bound, so commands/s and CPU per command tell the same story; the
 * target's share is the same in every row. Prints commands/s, the ratio to sans-IO, and the extra µs per command.
 *
 * Run: `npx tsx bench/rxjs-cost.ts [--seconds 2] [--rounds 3]`.
 */
import type { DatamoverConnector } from '../protocol/datamover.js';
import { establish, type Established } from '../protocol/initiator/establish.js';
import { login, randomIsid } from '../protocol/initiator/login.js';
import type { Session } from '../protocol/initiator/session.js';
import type { InitiatorLoginConfig } from '../protocol/login/initiator-login.js';
import { lunFromNumber } from '../protocol/pdu/lun.js';
import { read10 } from '../protocol/scsi/cdb/build.js';
import { InitiatorSession } from '../protocol/session/initiator-session.js';
import type { InitiatorSessionAction, RequestOutcome } from '../protocol/session/initiator-types.js';
import { IscsiTarget } from '../server/index.js';
import { createDatamoverPair } from '../test/support/datamover-pair.js';
import { asyncScheduler } from 'rxjs';
import { cpuAround, selfCpuMicros } from './harness/cpu.js';
import { createFilledMemoryBackend } from './harness/lun-image.js';
import { describeLoad, describeMachine } from './harness/machine.js';
import { isMain, parseBudget, type BenchBudget } from './harness/options.js';
import { BENCH_INITIATOR_NAME } from './harness/our-initiator.js';
import { figure, runRounds, type Figures } from './harness/rounds.js';
import { formatCount, formatRatio, formatSpread, ratio, type Summary } from './harness/stats.js';
import { formatTable } from './harness/table.js';

/** Options of {@link runRxjsCostBench}. */
export interface RxjsCostBenchOptions extends BenchBudget {
  readonly log?: (line: string) => void;
}

/** One way of issuing commands, at one queue depth. */
export interface PathFigures {
  readonly path: string;
  readonly queueDepth: number;
  readonly commandsPerSecond: Summary;
  readonly cpuUs: Summary;
  /** commands/s relative to the sans-IO machine at the same depth (below 1: slower). */
  readonly ratio: number;
  /** Extra CPU per command over the sans-IO machine, µs (medians). */
  readonly extraUs: number;
}

/** What the bench measured. */
export interface RxjsCostBenchResult {
  readonly machine: string;
  readonly loadAfter: string;
  readonly seconds: number;
  readonly rounds: number;
  readonly rows: readonly PathFigures[];
}

const IQN = 'iqn.2024-01.org.iser-bench:rxjs';
const LUN_BYTES = 16 * 2 ** 20;
const BLOCK = 512;
const BLOCKS_PER_READ = 8; // 4 KiB
const LUN_BLOCKS = LUN_BYTES / BLOCK;
const PORTAL = { host: '127.0.0.1', port: 3260 };
const DEPTHS = [1, 32] as const;

/** Issues one READ of 4 KiB at `lba`; calls `done` once, with an error if it failed. */
type Issue = (lba: number, done: (error?: unknown) => void) => void;

/**
 * Keeps `queueDepth` commands in flight for `seconds` of wall time through `issue`. The stack under test runs on
 * microtasks, so the loop yields to the event loop every few hundred completions: timers must still get a turn.
 */
function drive(issue: Issue, queueDepth: number, seconds: number): Promise<{ ops: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const deadline = start + seconds * 1000;
    let rng = 0x2545f491;
    let ops = 0;
    let inFlight = 0;
    let failed = false;
    const next = (): void => {
      inFlight++;
      rng ^= rng << 13;
      rng ^= rng >>> 17;
      rng ^= rng << 5;
      issue((rng >>> 0) % (LUN_BLOCKS - BLOCKS_PER_READ), (error) => {
        inFlight--;
        if (failed) return;
        if (error !== undefined) {
          failed = true;
          reject(error instanceof Error ? error : new Error(`command failed: ${JSON.stringify(error)}`));
          return;
        }
        ops++;
        if (performance.now() >= deadline) {
          if (inFlight === 0) resolve({ ops, seconds: (performance.now() - start) / 1000 });
        } else if (ops % 256 === 0) setImmediate(next);
        else next();
      });
    };
    for (let i = 0; i < queueDepth; i++) next();
  });
}

/**
 * The session machine without the RxJS session around it: the smallest driver that works (what Session does minus
 * Observables, timers, reconnection and diagnostics). Timers are not armed: nothing here waits on one.
 */
class DirectSession {
  readonly #machine: InitiatorSession;
  readonly #established: Established;
  readonly #pending = new Map<number, (outcome: RequestOutcome | Error) => void>();
  readonly #queue: (() => readonly InitiatorSessionAction[])[] = [];
  #running = false;
  #nextId = 0;

  constructor(established: Established) {
    this.#established = established;
    const machine = new InitiatorSession({ login: established.result, transport: 'tcp' });
    this.#machine = machine;
    established.link.connection.enable(machine.params, {
      expStatSN: () => machine.expStatSN,
      statSN: () => (machine.expStatSN - 1) >>> 0,
      expCmdSN: () => machine.expCmdSN,
      maxCmdSN: () => machine.maxCmdSN,
    });
    established.link.attach({
      pdu: (pdu) => {
        this.#run(() => machine.receive(pdu));
      },
      ended: (error) => {
        this.#run(() => machine.connectionLost(error));
      },
    });
    this.#run(() => machine.start());
  }

  read(lba: number, done: (error?: unknown) => void): void {
    const id = this.#nextId++;
    this.#pending.set(id, (outcome) => {
      done(outcome instanceof Error ? outcome : undefined);
    });
    const cdb = read10({ lba, blocks: BLOCKS_PER_READ });
    this.#run(() => this.#machine.submitCommand(id, { lun: 0n, cdb, readLength: BLOCKS_PER_READ * BLOCK }));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const id = this.#nextId++;
      this.#pending.set(id, () => {
        resolve();
      });
      this.#run(() => this.#machine.logout(id));
    });
    await this.#established.link.close();
  }

  #run(event: () => readonly InitiatorSessionAction[]): void {
    this.#queue.push(event);
    if (this.#running) return;
    this.#running = true;
    try {
      for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
        for (const action of next()) this.#execute(action);
      }
    } finally {
      this.#running = false;
    }
  }

  #execute(action: InitiatorSessionAction): void {
    const connection = this.#established.link.connection;
    switch (action.type) {
      case 'send':
        connection.sendControl(action.pdu);
        return;
      case 'send-command':
        connection.sendCommand(action.pdu, action.buffers);
        return;
      case 'task-done':
        connection.taskDone(action.itt);
        return;
      case 'complete':
      case 'fail': {
        const settle = this.#pending.get(action.id);
        this.#pending.delete(action.id);
        settle?.(action.type === 'complete' ? action.outcome : action.error);
        return;
      }
      default:
        return; // timers, state, events: nothing to do in a bench
    }
  }
}

/** Runs the four paths at QD 1 and QD 32. */
export async function runRxjsCostBench(options: RxjsCostBenchOptions): Promise<RxjsCostBenchResult> {
  const log = options.log ?? (() => undefined);
  const machine = describeMachine();
  const backend = await createFilledMemoryBackend(LUN_BYTES);
  const target = new IscsiTarget({
    targets: [{ name: IQN, luns: [{ lun: 0, backend }] }],
    portalGroups: [{ tag: 1, portals: [PORTAL] }],
  });
  // Each connection is a fresh in-memory pair whose target end our target accepts.
  const connector: DatamoverConnector = {
    kind: 'tcp',
    connect: () => {
      const pair = createDatamoverPair();
      target.accept(pair.target, 1);
      return Promise.resolve(pair.initiator);
    },
  };
  const loginConfig = (): InitiatorLoginConfig => ({
    initiatorName: BENCH_INITIATOR_NAME,
    targetName: IQN,
    sessionType: 'Normal',
    isid: randomIsid(),
    transport: 'tcp',
  });
  const withSession = async (
    use: (session: Session) => Issue,
    queueDepth: number,
    seconds: number,
  ): Promise<Figures> => {
    const session = await login({ connector, portal: PORTAL, targetName: IQN, initiatorName: BENCH_INITIATOR_NAME });
    try {
      const lun = session.lun(0, { blockSize: BLOCK });
      await lun.promises.testUnitReady().catch(() => undefined); // the new nexus's UNIT ATTENTION
      return await measure(use(session), queueDepth, seconds);
    } finally {
      await session.close();
    }
  };
  const measure = async (issue: Issue, queueDepth: number, seconds: number): Promise<Figures> => {
    const { result, cpuMicros } = await cpuAround(selfCpuMicros, () => drive(issue, queueDepth, seconds));
    return { commandsPerSecond: result.ops / result.seconds, cpuUs: cpuMicros / result.ops };
  };
  const rawLun = lunFromNumber(0);
  const paths: { name: string; run: (queueDepth: number, seconds: number) => Promise<Figures> }[] = [
    {
      name: 'sans-IO machine',
      run: async (queueDepth, seconds) => {
        const established = await establish({
          connector,
          portal: PORTAL,
          login: loginConfig(),
          scheduler: asyncScheduler,
          timeoutMs: 10_000,
          maxRedirects: 0,
        });
        const direct = new DirectSession(established);
        try {
          await new Promise<void>((resolve) => {
            direct.read(0, () => {
              resolve(); // the new nexus's UNIT ATTENTION, or a first good read
            });
          });
          return await measure(
            (lba, done) => {
              direct.read(lba, done);
            },
            queueDepth,
            seconds,
          );
        } finally {
          await direct.close();
        }
      },
    },
    {
      name: 'session.command()',
      run: (queueDepth, seconds) =>
        withSession(
          (session) => (lba, done) => {
            session
              .command(rawLun, read10({ lba, blocks: BLOCKS_PER_READ }), { read: BLOCKS_PER_READ * BLOCK })
              .subscribe({ error: done, complete: done });
          },
          queueDepth,
          seconds,
        ),
    },
    {
      name: 'lun.read()',
      run: (queueDepth, seconds) =>
        withSession(
          (session) => {
            const lun = session.lun(0, { blockSize: BLOCK });
            return (lba, done) => {
              lun.read(lba, BLOCKS_PER_READ).subscribe({ error: done, complete: done });
            };
          },
          queueDepth,
          seconds,
        ),
    },
    {
      name: 'lun.promises.read()',
      run: (queueDepth, seconds) =>
        withSession(
          (session) => {
            const lun = session.lun(0, { blockSize: BLOCK }).promises;
            return (lba, done) => {
              lun.read(lba, BLOCKS_PER_READ).then(() => {
                done();
              }, done);
            };
          },
          queueDepth,
          seconds,
        ),
    },
  ];

  const rows: PathFigures[] = [];
  try {
    // Warm-up: every path once, so the first measured path does not pay for the JIT compiling the shared code.
    for (const p of paths) await p.run(32, Math.min(0.5, options.seconds / 2));
    for (const queueDepth of DEPTHS) {
      const summaries = await runRounds(
        paths.map((p) => ({ name: p.name, run: () => p.run(queueDepth, options.seconds) })),
        options.rounds,
        (side, round, f) => {
          log(`  QD ${queueDepth}, round ${round + 1}: ${side} ${formatCount(f.commandsPerSecond ?? NaN)} commands/s`);
        },
      );
      const base = figure(summaries, paths[0]!.name, 'commandsPerSecond');
      const baseCpu = figure(summaries, paths[0]!.name, 'cpuUs');
      for (const p of paths) {
        const commandsPerSecond = figure(summaries, p.name, 'commandsPerSecond');
        const cpuUs = figure(summaries, p.name, 'cpuUs');
        rows.push({
          path: p.name,
          queueDepth,
          commandsPerSecond,
          cpuUs,
          ratio: ratio(commandsPerSecond, base),
          extraUs: cpuUs.median - baseCpu.median,
        });
      }
    }
  } finally {
    await target.close();
  }
  return { machine, loadAfter: describeLoad(), seconds: options.seconds, rounds: options.rounds, rows };
}

/** The result as a table. */
export function formatRxjsCostReport(result: RxjsCostBenchResult): string {
  return [
    'Cost of the RxJS command path: 4 KiB reads from our target over the in-memory Datamover pair',
    result.machine,
    `${result.rounds} rounds x ${result.seconds} s per path and depth, rotating; medians, ± half the range`,
    'ratio = commands/s relative to driving the sans-IO machine directly; extra = added CPU per command',
    formatTable(
      ['path', 'QD', 'commands/s', 'CPU us/cmd', 'ratio', 'extra us/cmd'],
      result.rows.map((r) => [
        r.path,
        String(r.queueDepth),
        `${formatCount(r.commandsPerSecond.median)} ${formatSpread(r.commandsPerSecond)}`,
        r.cpuUs.median.toFixed(1),
        formatRatio(r.ratio),
        r.extraUs.toFixed(1),
      ]),
    ),
    `after: ${result.loadAfter}`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const budget = parseBudget(process.argv.slice(2), { seconds: 2, rounds: 3 });
  runRxjsCostBench({
    ...budget,
    log: (line) => {
      console.log(line);
    },
  })
    .then((result) => {
      console.log(formatRxjsCostReport(result));
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
