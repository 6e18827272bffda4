/**
 * Where the demo runs: a target (server/ IscsiTarget with one memory LUN) and the means for an initiator to reach it.
 *
 * - `fabric` (default): iSER over sim/fabric's in-memory RDMA, everything in virtual time on one seeded
 *   VirtualScheduler: the fabric, the iSER transport, the target and the initiator session all take their timers
 *   from it, and their randomness from the seed, so one seed gives one event log, byte for byte.
 * - `softroce`: iSER over soft-RoCE (sim/roce: real RoCEv2 packets, IB CM, the RC engine) on an in-memory link, in
 *   virtual time like the fabric; `--pcap` captures every datagram.
 * - `softroce-udp`: the same soft-RoCE devices on real UDP sockets, 127.0.0.1 → 127.0.0.2 (port 4791, or
 *   ephemeral ports when 4791 is taken), in real time.
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
import { MemoryLink, type LinkModel as RoceLinkModel } from '../../sim/roce/link/memory-link.js';
import type { PcapTap } from '../../sim/roce/link/pcap-tap.js';
import { UdpLink } from '../../sim/roce/link/udp-link.js';
import type { RoceLink } from '../../sim/roce/link/link.js';
import { SoftRoceProvider } from '../../sim/roce/provider/provider.js';
import type { RoceCounters } from '../../sim/roce/rc/counters.js';
import type { EventLog } from '../../sim/trace/event-log.js';
import { IserConnector, IserListener } from '../../transports/iser/index.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { CapturingTcpConnector } from '../pcap/capturing-tcp-connector.js';
import type { PcapngFile } from '../pcap/pcapng-file.js';
import { PcapngFileTap } from '../pcap/roce-file-tap.js';

/** The demo's target name. */
export const DEMO_IQN = 'iqn.2024-01.org.iser:demo';
/** The demo initiator's name. */
export const DEMO_INITIATOR = 'iqn.2024-01.org.iser:demo-initiator';

/** Hosts on the simulated fabric. */
export const FABRIC_INITIATOR_HOST = '10.0.0.1';
export const FABRIC_TARGET: PortalAddress = { host: '10.0.0.2', port: 3260 };

/** A rack-local RoCE link with a little jitter, so the seed shapes the timing (and the event log). */
export const DEMO_LINK: LinkModel = { latencyMs: 0.005, bandwidthGbps: 100, jitterMs: 0.001 };

/** The soft-RoCE in-memory link: the fabric's latency, 100 Gb/s, in-order delivery, no faults. */
export const DEMO_ROCE_LINK: RoceLinkModel = { latencyMs: 0.005, bandwidthGbps: 100, jitterMs: 0.001 };

/** Hosts of the soft-RoCE devices on UDP loopback. */
export const UDP_INITIATOR_HOST = '127.0.0.1';
export const UDP_TARGET: PortalAddress = { host: '127.0.0.2', port: 3260 };

/** Which transport the demo runs on. */
export type DemoTransport = 'fabric' | 'softroce' | 'softroce-udp' | 'tcp';

/** Every transport, in the order the help lists them. */
export const DEMO_TRANSPORTS: readonly DemoTransport[] = ['fabric', 'softroce', 'softroce-udp', 'tcp'];

/** What both soft-RoCE devices counted. */
export interface DemoRoceCounters {
  readonly initiator: RoceCounters;
  readonly target: RoceCounters;
}

/** What the demo needs of its environment. */
export interface DemoEnvironment {
  readonly transport: DemoTransport;
  /** `iser` on the fabric and soft-RoCE, `tcp` on TCP. */
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
  /** Packet counters of both devices, on soft-RoCE. */
  roceCounters(): DemoRoceCounters | undefined;
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
  /** TCP and soft-RoCE: record the packets here. */
  readonly capture?: PcapngFile;
  /** Where soft-RoCE devices log CM transitions, QP errors, retransmissions, NAKs and drops. */
  readonly eventLog?: EventLog;
  /** Receives every target event (for the event log and the abort's TMF response). */
  readonly onTargetEvent: (event: TargetServerEvent) => void;
}

/** Bounds on one virtual-time run: a demo that stops making progress fails instead of spinning. */
const MAX_EVENTS = 20_000_000;
const MAX_VIRTUAL_MS = 600_000;

function targetConfig(backend: MemoryBackend, portal: PortalAddress, transport: TransportKind): TargetConfig {
  return {
    targets: [{ name: DEMO_IQN, alias: 'demo', luns: [{ lun: 0, backend }] }],
    portalGroups: [{ tag: 1, portals: [{ ...portal, transport }] }],
  };
}

/** Runs `work` on `clock`, firing its timers until `work` settles. */
function virtualRun(clock: VirtualScheduler): <T>(work: Promise<T>) => Promise<T> {
  return async <T>(work: Promise<T>): Promise<T> => {
    let done = false;
    const mark = (): void => {
      done = true;
    };
    work.then(mark, mark);
    await clock.runUntil(() => done);
    return work;
  };
}

async function openFabric(options: EnvironmentOptions): Promise<DemoEnvironment> {
  const clock = new VirtualScheduler({ maxEvents: MAX_EVENTS, maxVirtualMs: MAX_VIRTUAL_MS });
  const random = new SeededRandom(options.seed);
  const fabric = new SimFabric({ scheduler: clock, random: random.fork('fabric'), link: DEMO_LINK });
  const run = virtualRun(clock);
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
    roceCounters: () => undefined,
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
    roceCounters: () => undefined,
    fabric: undefined,
    close: () => target.close(),
  };
}

async function openSoftRoce(options: EnvironmentOptions, overUdp: boolean): Promise<DemoEnvironment> {
  const random = new SeededRandom(options.seed);
  const clock = overUdp ? undefined : new VirtualScheduler({ maxEvents: MAX_EVENTS, maxVirtualMs: MAX_VIRTUAL_MS });
  const scheduler: SchedulerLike = clock ?? asyncScheduler;
  const run = clock === undefined ? <T>(work: Promise<T>): Promise<T> => work : virtualRun(clock);
  const tap: PcapTap | undefined =
    options.capture === undefined ? undefined : new PcapngFileTap(scheduler, options.capture);
  const withTap = tap === undefined ? {} : { tap };
  const link: RoceLink = overUdp
    ? new UdpLink(withTap)
    : new MemoryLink({ scheduler, random: random.fork('link'), model: DEMO_ROCE_LINK, ...withTap });
  const initiatorHost = overUdp ? UDP_INITIATOR_HOST : FABRIC_INITIATOR_HOST;
  const portal = overUdp ? UDP_TARGET : FABRIC_TARGET;
  const devices: SoftRoceProvider[] = [];
  const closeDevices = async (): Promise<void> => {
    await Promise.all(devices.map((d) => d.close()));
  };
  let target: IscsiTarget | undefined;
  try {
    for (const address of [initiatorHost, portal.host]) {
      devices.push(
        await run(
          SoftRoceProvider.open({
            link,
            scheduler,
            address,
            seed: `demo:${options.seed}:${address}`,
            ...(options.eventLog === undefined ? {} : { eventLog: options.eventLog }),
          }),
        ),
      );
    }
    const [initiator, targetDevice] = devices as [SoftRoceProvider, SoftRoceProvider];
    const backend = new MemoryBackend(options.lunBytes / 512);
    const server = new IscsiTarget(targetConfig(backend, portal, 'iser'), {
      scheduler,
      random: random.fork('target'),
      logoutDeadlineSeconds: 1,
      onEvent: options.onTargetEvent,
    });
    target = server;
    server.serve(await run(IserListener.listen(targetDevice, portal, { scheduler })), 1);
    return {
      transport: overUdp ? 'softroce-udp' : 'softroce',
      kind: 'iser',
      virtualTime: clock !== undefined,
      scheduler,
      connector: new IserConnector(initiator, { scheduler }),
      portal,
      target: server,
      backend,
      initiatorRandom: clock === undefined ? undefined : random.fork('initiator'),
      run,
      counters: () => undefined,
      roceCounters: () => ({ initiator: initiator.snapshot(), target: targetDevice.snapshot() }),
      fabric: undefined,
      close: async () => {
        try {
          await run(server.close());
        } finally {
          await run(closeDevices());
        }
      },
    };
  } catch (err) {
    await run(target?.close() ?? Promise.resolve()).catch(() => undefined);
    await run(closeDevices()).catch(() => undefined);
    throw err;
  }
}

/** Builds the environment for `options.transport`. */
export function openEnvironment(options: EnvironmentOptions): Promise<DemoEnvironment> {
  switch (options.transport) {
    case 'fabric':
      return openFabric(options);
    case 'softroce':
      return openSoftRoce(options, false);
    case 'softroce-udp':
      return openSoftRoce(options, true);
    case 'tcp':
      return openTcp(options);
  }
}
