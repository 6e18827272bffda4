/**
 * Our initiator + our target, 4 KiB random read at QD 32, over iSER on the in-memory RDMA fabric (sim/fabric, in
 * virtual time driven as fast as it goes) vs over TCP on loopback (real sockets, real time), in one run, in
 * wall-clock IOPS (goal: iSER >= 2x TCP). Both serve the same pre-filled memory backend, so neither waits on a
 * disk; both sides run in this process, so CPU per command covers initiator + target (+ the fabric model).
 *
 * Second part: how fast virtual time runs (simulated seconds per wall second) for an iSER session with NOP
 * keepalives both ways (every 5 s) — idle only, and bursts of 256 reads separated by 30 s idle periods — each
 * bounded by the wall budget and by 24 simulated hours.
 *
 * Run: `npx tsx bench/iser-vs-tcp.ts [--seconds 3] [--rounds 3]`.
 */
import { TcpConnector } from '../transports/tcp/index.js';
import { IscsiTarget } from '../server/index.js';
import type { MemoryBackend } from '../backends/memory.js';
import { cpuAround, selfCpuMicros } from './harness/cpu.js';
import { startIserWorld, type IserWorld } from './harness/iser-world.js';
import { createFilledMemoryBackend } from './harness/lun-image.js';
import { describeLoad, describeMachine } from './harness/machine.js';
import { isMain, parseBudget, type BenchBudget } from './harness/options.js';
import { openOurLun, type OurLun } from './harness/our-initiator.js';
import { driveReads } from './harness/read-load.js';
import { pickShapes } from './harness/read-shapes.js';
import { figure, runRounds, type Figures } from './harness/rounds.js';
import { formatCount, formatRatio, formatSpread, ratio, summarize, type Summary } from './harness/stats.js';
import { formatTable } from './harness/table.js';

/** Options of {@link runIserVsTcpBench}. */
export interface IserVsTcpBenchOptions extends BenchBudget {
  /** LUN size (default 64 MiB, all in memory; the size does not matter for memory reads). */
  readonly lunBytes?: number;
  readonly log?: (line: string) => void;
}

/** Wall-clock figures of one transport. */
export interface TransportFigures {
  readonly iops: Summary;
  /** CPU per command (initiator + target + fabric model), µs. */
  readonly cpuUs: Summary;
}

/** How fast virtual time went for one workload. */
export interface VirtualSpeed {
  readonly label: string;
  /** Simulated seconds per wall-clock second. */
  readonly speed: Summary;
  /** Clock timer events per wall-clock second. */
  readonly eventsPerSecond: Summary;
  /** Simulated seconds covered per round (medians). */
  readonly simulatedSeconds: Summary;
}

/** What the bench measured. */
export interface IserVsTcpBenchResult {
  readonly machine: string;
  readonly loadAfter: string;
  readonly seconds: number;
  readonly rounds: number;
  readonly iser: TransportFigures;
  readonly tcp: TransportFigures;
  /** iSER / TCP IOPS (medians). */
  readonly ratio: number;
  readonly virtualTime: readonly VirtualSpeed[];
}

const IQN = 'iqn.2024-01.org.iser-bench:tcp';
const LUN_BYTES = 64 * 2 ** 20;
const SHAPE = pickShapes(['4k-rand-qd32'])[0]!;
const KEEPALIVE_MS = 5000;
const IDLE_MS = 30_000;
const BURST = 256;
const MAX_SIMULATED_MS = 24 * 3600 * 1000;

/** One wall-clock load on a logged-in LUN; `drive` wraps the waiting (the iSER world drives its clock). */
async function measure(
  our: OurLun,
  seconds: number,
  round: number,
  drive: <T>(work: Promise<T>) => Promise<T>,
): Promise<Figures> {
  const { result, cpuMicros } = await cpuAround(selfCpuMicros, () =>
    drive(
      driveReads(our.lun, SHAPE, { seconds, lunBlockBytes: our.blockBytes, lunBlocks: our.blocks, seed: round + 1 }),
    ),
  );
  return { iops: result.iops, cpuUs: cpuMicros / result.ops };
}

/** Runs a virtual-time workload in a fresh world until the wall budget or the simulated-time cap is spent. */
async function virtualSpeed(
  backend: MemoryBackend,
  seconds: number,
  cycle: (world: IserWorld, our: OurLun) => Promise<void>,
): Promise<Figures> {
  const world = await startIserWorld(backend, { targetNopIntervalMs: KEEPALIVE_MS });
  try {
    const our = await world.openLun(KEEPALIVE_MS);
    try {
      const wallStart = performance.now();
      const wallEnd = wallStart + seconds * 1000;
      const simStart = world.clock.now();
      const eventsStart = world.clock.eventsFired;
      while (performance.now() < wallEnd && world.clock.now() - simStart < MAX_SIMULATED_MS) {
        await world.run(cycle(world, our));
      }
      const wall = (performance.now() - wallStart) / 1000;
      const simulated = (world.clock.now() - simStart) / 1000;
      return {
        speed: simulated / wall,
        eventsPerSecond: (world.clock.eventsFired - eventsStart) / wall,
        simulatedSeconds: simulated,
      };
    } finally {
      await world.run(our.close());
    }
  } finally {
    await world.close();
  }
}

/** Runs the comparison and the virtual-time workloads. */
export async function runIserVsTcpBench(options: IserVsTcpBenchOptions): Promise<IserVsTcpBenchResult> {
  const log = options.log ?? (() => undefined);
  const { seconds, rounds } = options;
  const machine = describeMachine();
  const backend = await createFilledMemoryBackend(options.lunBytes ?? LUN_BYTES);
  const tcpTarget = await IscsiTarget.listen({
    targets: [{ name: IQN, luns: [{ lun: 0, backend }] }],
    portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 0 }] }],
  });
  const iserWorld = await startIserWorld(backend).catch(async (err: unknown) => {
    await tcpTarget.close();
    throw err;
  });
  let summaries;
  try {
    const portal = tcpTarget.portals[0]?.address;
    if (portal === undefined) throw new Error('our target opened no portal');
    summaries = await runRounds(
      [
        {
          name: 'iser',
          run: async (round) => {
            const our = await iserWorld.openLun();
            try {
              return await measure(our, seconds, round, (work) => iserWorld.run(work));
            } finally {
              await iserWorld.run(our.close());
            }
          },
        },
        {
          name: 'tcp',
          run: async (round) => {
            const our = await openOurLun({
              connector: new TcpConnector({ connectTimeoutMs: 5000 }),
              portal,
              targetName: IQN,
              lun: 0,
            });
            try {
              return await measure(our, seconds, round, (work) => work);
            } finally {
              await our.close();
            }
          },
        },
      ],
      rounds,
      (side, round, f) => {
        log(
          `  ${SHAPE.label}, round ${round + 1}: ${side} ${formatCount(f.iops ?? NaN)} IOPS, ${(f.cpuUs ?? NaN).toFixed(1)} us CPU/command`,
        );
      },
    );
  } finally {
    await iserWorld.close();
    await tcpTarget.close();
  }
  const iser = { iops: figure(summaries, 'iser', 'iops'), cpuUs: figure(summaries, 'iser', 'cpuUs') };
  const tcp = { iops: figure(summaries, 'tcp', 'iops'), cpuUs: figure(summaries, 'tcp', 'cpuUs') };

  const workloads: { label: string; cycle: (world: IserWorld, our: OurLun) => Promise<void> }[] = [
    {
      label: `idle session, NOP keepalives every ${KEEPALIVE_MS / 1000} s both ways`,
      cycle: (world) => world.sleep(60_000),
    },
    {
      label: `bursts of ${BURST} x 4 KiB reads (QD 8), ${IDLE_MS / 1000} s idle between, keepalives`,
      cycle: async (world, our) => {
        await driveReads(
          our.lun,
          { ...SHAPE, queueDepth: 8 },
          {
            seconds: 3600,
            lunBlockBytes: our.blockBytes,
            lunBlocks: our.blocks,
            maxOps: BURST,
          },
        );
        await world.sleep(IDLE_MS);
      },
    },
  ];
  const virtualTime: VirtualSpeed[] = [];
  for (const workload of workloads) {
    const runs: Figures[] = [];
    for (let round = 0; round < rounds; round++) {
      const f = await virtualSpeed(backend, seconds, workload.cycle);
      log(
        `  virtual time, ${workload.label}, round ${round + 1}: ${formatCount(f.speed ?? NaN)} simulated s per wall s`,
      );
      runs.push(f);
    }
    const of = (name: string): Summary => summarize(runs.map((f) => f[name] ?? NaN));
    virtualTime.push({
      label: workload.label,
      speed: of('speed'),
      eventsPerSecond: of('eventsPerSecond'),
      simulatedSeconds: of('simulatedSeconds'),
    });
  }
  return {
    machine,
    loadAfter: describeLoad(),
    seconds,
    rounds,
    iser,
    tcp,
    ratio: ratio(iser.iops, tcp.iops),
    virtualTime,
  };
}

/** The result as two tables. */
export function formatIserVsTcpReport(result: IserVsTcpBenchResult): string {
  const row = (name: string, f: TransportFigures, vs: string): string[] => [
    name,
    `${formatCount(f.iops.median)} ${formatSpread(f.iops)}`,
    ((f.iops.median * SHAPE.blockBytes) / 2 ** 20).toFixed(1),
    f.cpuUs.median.toFixed(1),
    vs,
  ];
  return [
    `Our initiator + target, ${SHAPE.label}, memory LUN: iSER on sim/fabric (virtual time) vs TCP on loopback, wall clock`,
    result.machine,
    `${result.rounds} rounds x ${result.seconds} s per transport, alternating; medians, ± half the range; goal iSER/TCP >= 2.0x`,
    formatTable(
      ['transport', 'IOPS', 'MiB/s', 'CPU us/cmd (all)', 'vs TCP'],
      [row('iSER, sim/fabric', result.iser, formatRatio(result.ratio)), row('TCP, loopback', result.tcp, '')],
    ),
    '',
    'Speed of virtual time (iSER on sim/fabric): simulated seconds per wall-clock second',
    formatTable(
      ['workload', 'sim s / wall s', 'timer events / wall s', 'simulated s per round'],
      result.virtualTime.map((v) => [
        v.label,
        `${formatCount(v.speed.median)} ${formatSpread(v.speed)}`,
        formatCount(v.eventsPerSecond.median),
        formatCount(v.simulatedSeconds.median),
      ]),
    ),
    `after: ${result.loadAfter}`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const budget = parseBudget(process.argv.slice(2), { seconds: 3, rounds: 3 });
  runIserVsTcpBench({
    ...budget,
    log: (line) => {
      console.log(line);
    },
  })
    .then((result) => {
      console.log(formatIserVsTcpReport(result));
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
