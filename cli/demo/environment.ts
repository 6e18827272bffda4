/**
 * Where the demo runs: a target (server/ IscsiTarget with one memory LUN) and the means for an initiator to reach it.
 *
 * - `fabric` (default): iSER over sim/fabric's in-memory RDMA, everything in virtual time on one seeded
 *   VirtualScheduler: the fabric, the iSER transport, the target and the initiator session all take their timers
 *   from it, and their randomness from the seed, so one seed gives one event log, byte for byte.
 * - `tcp`: iSCSI over TCP on 127.0.0.1 (port 0) in real time.
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { MemoryBackend } from '../../backends/memory.js';
import type { DatamoverConnector, PortalAddress } from '../../protocol/datamover.js';
import type { RandomSource } from '../../protocol/login/random.js';
import type { TargetConfig } from '../../protocol/target/config.js';
import type { TransportKind } from '../../protocol/text/negotiator.js';
import { IscsiTarget, type TargetServerEvent } from '../../server/iscsi-target.js';
import { SeededRandom } from '../../sim/clock/random.js';
import { VirtualScheduler } from '../../sim/clock/virtual-scheduler.js';
import { SimFabric } from '../../sim/fabric/fabric.js';
import type { VerbsCounters } from '../../sim/fabric/counters.js';
import type { LinkModel } from '../../sim/fabric/link.js';
import { IserConnector, IserListener } from '../../transports/iser/index.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { CapturingTcpConnector } from '../pcap/capturing-tcp-connector.js';
import type { PcapngFile } from '../pcap/pcapng-file.js';

/** The demo's target name. */
export const DEMO_IQN = 'iqn.2024-01.org.iser:demo';
/** The demo initiator's name. */
export const DEMO_INITIATOR = 'iqn.2024-01.org.iser:demo-initiator';

/** Hosts on the simulated fabric. */
export const FABRIC_INITIATOR_HOST = '10.0.0.1';
export const FABRIC_TARGET: PortalAddress = { host: '10.0.0.2', port: 3260 };

/** A rack-local RoCE link with a little jitter, so the seed shapes the timing (and the event log). */
export const DEMO_LINK: LinkModel = { latencyMs: 0.005, bandwidthGbps: 100, jitterMs: 0.001 };

/** Which transport the demo runs on. */
export type DemoTransport = 'fabric' | 'tcp';

/** What the demo needs of its environment. */
export interface DemoEnvironment {
  readonly transport: DemoTransport;
  /** `iser` on the fabric, `tcp` on TCP. */
  readonly kind: TransportKind;
  /** True when time is virtual (figures per virtual second make sense). */
  readonly virtualTime: boolean;
  readonly scheduler: SchedulerLike;
  readonly connector: DatamoverConnector;
  /** Where discovery goes. */
  readonly portal: PortalAddress;
  readonly target: IscsiTarget;
  /** The LUN's storage (tests reach behind the target through it). */
  readonly backend: MemoryBackend;
  /** Randomness of the initiator (ISID), seeded on the fabric. */
  readonly initiatorRandom: RandomSource | undefined;
  /** Runs `work` to completion, driving virtual time if there is any. */
  run<T>(work: Promise<T>): Promise<T>;
  /** RDMA counters, on the fabric. */
  counters(): VerbsCounters | undefined;
  /** The fabric, for its trace. */
  readonly fabric: SimFabric | undefined;
  close(): Promise<void>;
}

/** Options of {@link openEnvironment}. */
export interface EnvironmentOptions {
  readonly transport: DemoTransport;
  readonly seed: number;
  /** LUN size in bytes. */
  readonly lunBytes: number;
  /** TCP only: record the initiator's connections here. */
  readonly capture?: PcapngFile;
  /** Receives every target event (for the event log and the abort's TMF response). */
  readonly onTargetEvent: (event: TargetServerEvent) => void;
}

/** Bounds on one virtual-time run: a demo that stops making progress fails instead of spinning. */
const MAX_EVENTS = 5_000_000;
const MAX_VIRTUAL_MS = 600_000;

function targetConfig(backend: MemoryBackend, portal: PortalAddress, transport: TransportKind): TargetConfig {
  return {
    targets: [{ name: DEMO_IQN, alias: 'demo', luns: [{ lun: 0, backend }] }],
    portalGroups: [{ tag: 1, portals: [{ ...portal, transport }] }],
  };
}

async function openFabric(options: EnvironmentOptions): Promise<DemoEnvironment> {
  const clock = new VirtualScheduler({ maxEvents: MAX_EVENTS, maxVirtualMs: MAX_VIRTUAL_MS });
  const random = new SeededRandom(options.seed);
  const fabric = new SimFabric({ scheduler: clock, random: random.fork('fabric'), link: DEMO_LINK });
  const run = async <T>(work: Promise<T>): Promise<T> => {
    let done = false;
    const mark = (): void => {
      done = true;
    };
    work.then(mark, mark);
    await clock.runUntil(() => done);
    return work;
  };
  const backend = new MemoryBackend(options.lunBytes / 512);
  const target = new IscsiTarget(targetConfig(backend, FABRIC_TARGET, 'iser'), {
    scheduler: clock,
    random: random.fork('target'),
    logoutDeadlineSeconds: 1,
    onEvent: options.onTargetEvent,
  });
  const listener = await run(
    IserListener.listen(fabric.provider(FABRIC_TARGET.host), FABRIC_TARGET, { scheduler: clock }),
  );
  target.serve(listener, 1);
  return {
    transport: 'fabric',
    kind: 'iser',
    virtualTime: true,
    scheduler: clock,
    connector: new IserConnector(fabric.provider(FABRIC_INITIATOR_HOST), { scheduler: clock }),
    portal: FABRIC_TARGET,
    target,
    backend,
    initiatorRandom: random.fork('initiator'),
    run,
    counters: () => fabric.counters,
    fabric,
    close: () => run(target.close()),
  };
}

async function openTcp(options: EnvironmentOptions): Promise<DemoEnvironment> {
  const backend = new MemoryBackend(options.lunBytes / 512);
  const target = await IscsiTarget.listen(targetConfig(backend, { host: '127.0.0.1', port: 0 }, 'tcp'), {
    logoutDeadlineSeconds: 1,
    onEvent: options.onTargetEvent,
  });
  const address = target.portals[0]?.address ?? { host: '127.0.0.1', port: 3260 };
  return {
    transport: 'tcp',
    kind: 'tcp',
    virtualTime: false,
    scheduler: asyncScheduler,
    connector:
      options.capture === undefined
        ? new TcpConnector({ connectTimeoutMs: 5000 })
        : new CapturingTcpConnector(options.capture, 5000),
    portal: address,
    target,
    backend,
    initiatorRandom: undefined,
    run: (work) => work,
    counters: () => undefined,
    fabric: undefined,
    close: () => target.close(),
  };
}

/** Builds the environment for `options.transport`. */
export function openEnvironment(options: EnvironmentOptions): Promise<DemoEnvironment> {
  return options.transport === 'fabric' ? openFabric(options) : openTcp(options);
}
