/**
 * The simulated world of one `iser sim` run: a virtual clock, the network (sim/fabric, or soft-RoCE on an
 * in-memory link with a pcap tap), the target (server/ IscsiTarget over iSER with memory LUNs) and an iSER
 * connector per initiator host; and the levers the fault plan pulls. Everything takes its time from the one
 * VirtualScheduler and its randomness from forks of the one seed, so a scenario and a seed give one event log and
 * one pcapng, byte for byte. Hosts 10.0.0.2 (target) and 10.0.1.x (initiators) exist only in the simulator.
 */
import type { Subscription } from 'rxjs';
import { MemoryBackend } from '../../backends/memory.js';
import type { DatamoverConnector, DatamoverListener, PortalAddress } from '../../protocol/datamover.js';
import type { TargetConfig } from '../../protocol/target/config.js';
import { IscsiTarget, type TargetServerEvent } from '../../server/iscsi-target.js';
import { SeededRandom } from '../../sim/clock/random.js';
import { VirtualScheduler } from '../../sim/clock/virtual-scheduler.js';
import { recordFabricTrace } from '../../sim/fabric/event-log-bridge.js';
import { SimFabric } from '../../sim/fabric/fabric.js';
import type { CountedOpcode } from '../../sim/fabric/counters.js';
import { MemoryLink, type LinkModel as RoceLinkModel } from '../../sim/roce/link/memory-link.js';
import { PcapTap } from '../../sim/roce/link/pcap-tap.js';
import { SoftRoceProvider } from '../../sim/roce/provider/provider.js';
import type { EventLog } from '../../sim/trace/event-log.js';
import { PcapngWriter } from '../../sim/trace/pcapng.js';
import { IserConnector, IserListener } from '../../transports/iser/index.js';
import type { VerbsProvider, WcStatus } from '../../transports/verbs.js';
import { targetEventFields } from '../demo/target-events.js';
import { SimError } from './errors.js';
import type { Scenario } from './scenario.js';

/** The target's portal inside the simulator. */
export const SIM_TARGET: PortalAddress = { host: '10.0.0.2', port: 3260 };

/** The address of initiator `index` (0-based). */
export function initiatorHost(index: number): string {
  return `10.0.1.${index + 1}`;
}

/** Transport counters, whichever network runs. */
export interface WorldCounters {
  /** Retransmissions: fabric RNR and timer retries; soft-RoCE request packets sent again. */
  readonly retransmissions: number;
  /** RNR NAKs sent. */
  readonly rnrNaks: number;
  /** Payload bytes moved by SEND, RDMA WRITE and RDMA READ (fabric), or RoCEv2 bytes sent (soft-RoCE). */
  readonly bytesMoved: number;
  /** Payload copies (fabric only; soft-RoCE does not count them). */
  readonly copies: { readonly operations: number; readonly bytes: number } | undefined;
  /** Operations by opcode (fabric) or packets sent (soft-RoCE). */
  readonly operations: Readonly<Record<string, number>>;
  /** Completions with an error status, by status (fabric), or soft-RoCE's error counters. */
  readonly errors: Readonly<Record<string, number>>;
  /** soft-RoCE link: datagrams sent, lost, duplicated, reordered. */
  readonly link: Readonly<Record<string, number>> | undefined;
}

/** One run's world. */
export interface SimWorld {
  readonly clock: VirtualScheduler;
  readonly random: SeededRandom;
  readonly portal: PortalAddress;
  /** The LUNs' storage, by LUN number. */
  readonly backends: readonly MemoryBackend[];
  /** The iSER connector of initiator `index`. */
  connector(index: number): DatamoverConnector;
  /** Cuts every connection now; nothing gets through for `durationMs` (if given). */
  pullCable(durationMs: number | undefined): void;
  /** fabric: the next `opcode` on the newest connection fails with `status`. */
  qpError(opcode: CountedOpcode, status: Exclude<WcStatus, 'SUCCESS' | 'WR_FLUSH_ERR'>): void;
  /** fabric: receives hidden at `at` for `durationMs`. */
  rnrStorm(durationMs: number, at: 'target' | 'initiators' | 'both'): void;
  /** soft-RoCE: these loss/dup/reorder rates for `durationMs`, then the scenario's own again. */
  linkWindow(model: Pick<RoceLinkModel, 'loss' | 'duplicate' | 'reorder'>, durationMs: number): void;
  /** fabric: the target crashes, and a new one serves the same LUNs after `downtimeMs`. */
  restartTarget(downtimeMs: number): Promise<void>;
  counters(): WorldCounters;
  /** The capture (soft-RoCE), or undefined (the fabric has no packets). */
  pcapng(): Buffer | undefined;
  close(): Promise<void>;
}

const MAX_TIMER_EVENTS = 200_000_000;

function targetConfig(scenario: Scenario, backends: readonly MemoryBackend[]): TargetConfig {
  return {
    targets: [
      { name: scenario.target.iqn, alias: scenario.name, luns: backends.map((backend, lun) => ({ lun, backend })) },
    ],
    portalGroups: [{ tag: 1, portals: [{ ...SIM_TARGET, transport: 'iser' }] }],
  };
}

/** How the network differs between the fabric and soft-RoCE. */
interface Network {
  readonly target: VerbsProvider;
  readonly initiators: readonly VerbsProvider[];
  pullCable(durationMs: number | undefined): void;
  qpError(opcode: CountedOpcode, status: Exclude<WcStatus, 'SUCCESS' | 'WR_FLUSH_ERR'>): void;
  rnrStorm(durationMs: number, at: 'target' | 'initiators' | 'both'): void;
  linkWindow(model: Pick<RoceLinkModel, 'loss' | 'duplicate' | 'reorder'>, durationMs: number): void;
  counters(): WorldCounters;
  pcapng(): Buffer | undefined;
  close(): Promise<void>;
}

function unsupported(what: string, transport: string): never {
  throw new SimError('ERR_SIM_UNSUPPORTED', `${what} is not available on ${transport}`);
}

function fabricNetwork(scenario: Scenario, clock: VirtualScheduler, random: SeededRandom, log: EventLog): Network {
  const fabric = new SimFabric({
    scheduler: clock,
    random: random.fork('fabric'),
    link: {
      latencyMs: scenario.link.latencyMs,
      bandwidthGbps: scenario.link.bandwidthGbps,
      jitterMs: scenario.link.jitterMs,
    },
  });
  const recording: Subscription = recordFabricTrace(fabric, log);
  const hosts = scenario.initiators.map((_, i) => initiatorHost(i));
  return {
    target: fabric.provider(SIM_TARGET.host),
    initiators: hosts.map((host) => fabric.provider(host)),
    pullCable: (durationMs) => {
      fabric.pullCable();
      if (durationMs !== undefined && durationMs > 0) {
        for (const host of [SIM_TARGET.host, ...hosts]) {
          fabric.addFault({ kind: 'stop-answering', host, atMs: fabric.now(), durationMs });
        }
      }
    },
    qpError: (opcode, status) => {
      const newest = fabric.connections().at(-1);
      if (newest !== undefined) {
        fabric.addFault({ kind: 'qp-error', connection: newest.number, opcode, nth: 1, status });
      }
    },
    rnrStorm: (durationMs, at) => {
      const fromMs = fabric.now();
      const where = at === 'both' ? [undefined] : at === 'target' ? [SIM_TARGET.host] : hosts;
      for (const host of where) {
        fabric.addFault({ kind: 'rnr-storm', fromMs, durationMs, ...(host === undefined ? {} : { host }) });
      }
    },
    linkWindow: () => unsupported('link loss/duplication/reordering', 'fabric'),
    counters: () => {
      const c = fabric.counters;
      const moved = c.bytes.SEND + c.bytes.SEND_WITH_INV + c.bytes.RDMA_WRITE + c.bytes.RDMA_READ;
      const errors: Record<string, number> = {};
      for (const [status, n] of Object.entries(c.errors)) errors[status] = n;
      return {
        retransmissions: c.retransmits + c.rnrRetries,
        rnrNaks: c.rnrNaks,
        bytesMoved: moved,
        copies: c.copies,
        operations: { ...c.operations },
        errors,
        link: undefined,
      };
    },
    pcapng: () => undefined,
    close: () => {
      recording.unsubscribe();
      return Promise.resolve();
    },
  };
}

async function softRoceNetwork(
  scenario: Scenario,
  clock: VirtualScheduler,
  random: SeededRandom,
  log: EventLog,
): Promise<Network> {
  const writer = new PcapngWriter(`iser sim ${scenario.name} (soft-RoCE, virtual time)`);
  const tap = new PcapTap(clock, writer);
  const base: RoceLinkModel = {
    latencyMs: scenario.link.latencyMs,
    jitterMs: scenario.link.jitterMs,
    bandwidthGbps: scenario.link.bandwidthGbps,
    loss: scenario.link.loss,
    duplicate: scenario.link.duplicate,
    reorder: scenario.link.reorder,
  };
  const link = new MemoryLink({ scheduler: clock, random: random.fork('link'), model: base, tap });
  const open = (address: string, label: string): Promise<SoftRoceProvider> =>
    SoftRoceProvider.open({
      link,
      scheduler: clock,
      address,
      seed: `${scenario.seed}:${label}`,
      mtu: scenario.link.mtu,
      eventLog: log,
    });
  const target = await open(SIM_TARGET.host, 'target');
  const initiators: SoftRoceProvider[] = [];
  for (let i = 0; i < scenario.initiators.length; i++) initiators.push(await open(initiatorHost(i), `initiator-${i}`));
  const devices = [target, ...initiators];
  let cableOutUntil = -Infinity;
  let windows = 0;
  return {
    target,
    initiators,
    pullCable: (durationMs) => {
      // Nothing crosses the link while the cable is out: the QPs retry, then fail with RETRY_EXC_ERR.
      const until = clock.now() + (durationMs ?? 0);
      cableOutUntil = Math.max(cableOutUntil, until);
      link.filter = () => (clock.now() < cableOutUntil ? [] : 'deliver');
    },
    qpError: () => unsupported('qp-error', 'softroce'),
    rnrStorm: () => unsupported('rnr-storm', 'softroce'),
    linkWindow: (model, durationMs) => {
      windows++;
      const mine = windows;
      link.setModel({ ...base, ...model });
      clock.schedule(() => {
        // A later window that overlaps this one keeps its own rates until it ends.
        if (windows === mine) link.setModel(base);
      }, durationMs);
    },
    counters: () => {
      let retransmissions = 0;
      let rnrNaks = 0;
      let bytesSent = 0;
      let packets = 0;
      const errors: Record<string, number> = {};
      for (const device of devices) {
        const c = device.snapshot();
        retransmissions += c.retransmittedPackets;
        rnrNaks += c.rnrNaksSent;
        bytesSent += c.sent.bytes;
        packets += c.sent.packets;
        for (const key of [
          'retryExceeded',
          'rnrRetryExceeded',
          'icrcDrops',
          'seqNaksSent',
          'duplicateRequests',
        ] as const) {
          errors[key] = (errors[key] ?? 0) + c[key];
        }
      }
      return {
        retransmissions,
        rnrNaks,
        bytesMoved: bytesSent,
        copies: undefined,
        operations: { packets },
        errors,
        link: { ...link.stats },
      };
    },
    pcapng: () => writer.toBuffer(),
    close: async () => {
      for (const device of devices) await device.close();
    },
  };
}

/** Options of {@link openWorld}. */
export interface WorldOptions {
  readonly log: EventLog;
  /** The clock (created by the caller so the event log can read it first). */
  readonly clock: VirtualScheduler;
}

/** A clock bounded for one scenario: its virtual-time limit and a generous cap on timer events. */
export function scenarioClock(scenario: Scenario): VirtualScheduler {
  return new VirtualScheduler({ maxEvents: MAX_TIMER_EVENTS, maxVirtualMs: scenario.virtualTimeLimitMs });
}

/** Builds the world: the network, the target listening, the connectors. Runs inside the clock's run. */
export async function openWorld(scenario: Scenario, options: WorldOptions): Promise<SimWorld> {
  const { clock, log } = options;
  const random = new SeededRandom(scenario.seed);
  const network =
    scenario.transport === 'fabric'
      ? fabricNetwork(scenario, clock, random, log)
      : await softRoceNetwork(scenario, clock, random, log);
  const backends = scenario.target.luns.map(
    (l) => new MemoryBackend(l.bytes / l.blockSize, { blockSize: l.blockSize }),
  );
  const config = targetConfig(scenario, backends);
  const targetRandom = random.fork('target');
  let generation = 0;
  const onEvent = (event: TargetServerEvent): void => {
    log.record(generation === 0 ? 'target' : `target#${generation}`, event.kind, targetEventFields(event));
  };
  const startTarget = async (): Promise<{ target: IscsiTarget; listener: DatamoverListener }> => {
    const target = new IscsiTarget(config, {
      scheduler: clock,
      random: generation === 0 ? targetRandom : targetRandom.fork(`restart-${generation}`),
      logoutDeadlineSeconds: 1,
      onEvent,
    });
    const listener = await IserListener.listen(network.target, SIM_TARGET, { scheduler: clock });
    target.serve(listener, 1);
    return { target, listener };
  };
  let current = await startTarget();
  const connectors = network.initiators.map(
    (provider, i) =>
      new IserConnector(provider, {
        scheduler: clock,
        connectTimeoutMs: scenario.initiators[i]?.connectTimeoutMs ?? 2000,
      }),
  );
  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      clock.schedule(() => {
        resolve();
      }, ms);
    });
  return {
    clock,
    random,
    portal: SIM_TARGET,
    backends,
    connector: (index) => {
      const connector = connectors[index];
      if (connector === undefined) throw new SimError('ERR_SIM_NO_SUCH', `no initiator ${index}`);
      return connector;
    },
    pullCable: (ms) => {
      network.pullCable(ms);
    },
    qpError: (opcode, status) => {
      network.qpError(opcode, status);
    },
    rnrStorm: (ms, at) => {
      network.rnrStorm(ms, at);
    },
    linkWindow: (model, ms) => {
      network.linkWindow(model, ms);
    },
    restartTarget: async (downtimeMs) => {
      // A crash, not a shutdown: connections cut, no Logout asked for; the LUNs (its disks) survive.
      const old = current;
      await old.target.unserve(old.listener);
      network.pullCable(undefined);
      void old.target.close().catch(() => undefined);
      await wait(downtimeMs);
      generation++;
      current = await startTarget();
      log.record('sim', 'target-up', { generation });
    },
    counters: () => network.counters(),
    pcapng: () => network.pcapng(),
    close: async () => {
      await current.target.close();
      await network.close();
    },
  };
}
