/**
 * iSER pairs for tests, in virtual time: an {@link IserConnector} on one host connected to an {@link IserListener}
 * on another, over the in-memory fabric (sim/fabric) or over soft-RoCE on an in-memory link (sim/roce). Every wait
 * drives the clock until the awaited promise settles; a test that would hang fails with ERR_CLOCK_IDLE instead.
 */
import { firstValueFrom } from 'rxjs';
import { VirtualScheduler } from '../../../sim/clock/virtual-scheduler.js';
import { SimFabric, type SimFabricOptions } from '../../../sim/fabric/index.js';
import { MemoryLink } from '../../../sim/roce/link/memory-link.js';
import { SoftRoceProvider } from '../../../sim/roce/provider/provider.js';
import type { NegotiatedParams } from '../../../protocol/text/index.js';
import {
  IserConnector,
  IserListener,
  type IserConnection,
  type IserConnectorOptions,
  type IserListenerOptions,
} from '../../../transports/iser/index.js';
import type { VerbsProvider } from '../../../transports/verbs.js';
import type { ConnectedPair } from '../datamover-contract.js';
import type { VerbsTap } from './tap.js';

/** Where the target listens. */
export const TARGET = { host: '10.0.0.2', port: 3260 } as const;

/** A connected iSER pair plus what is behind it. */
export interface IserEnv extends ConnectedPair {
  readonly initiator: IserConnection;
  readonly target: IserConnection;
  readonly clock: VirtualScheduler;
  readonly listener: IserListener;
  readonly world: IserWorld;
  run<T>(work: Promise<T>): Promise<T>;
  /** Lets everything in flight finish. */
  settle(): Promise<void>;
}

/** Two providers on one virtual clock, before any connection. */
export interface IserWorld {
  readonly clock: VirtualScheduler;
  readonly initiatorProvider: VerbsProvider;
  readonly targetProvider: VerbsProvider;
  /** Present on the fabric. */
  readonly fabric?: SimFabric;
  run<T>(work: Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Options of the pair builders. */
export interface IserPairOptions {
  readonly connector?: Omit<IserConnectorOptions, 'scheduler'>;
  readonly listener?: Omit<IserListenerOptions, 'scheduler'>;
  /** Records what both ends ask of their providers. */
  readonly tap?: VerbsTap;
}

/** Drives `clock` until the work settles; inside another run (nested), the outer run drives and we just wait. */
function runner(clock: VirtualScheduler): <T>(work: Promise<T>) => Promise<T> {
  let depth = 0;
  return async <T>(work: Promise<T>): Promise<T> => {
    if (depth > 0) return work;
    let done = false;
    const mark = (): void => {
      done = true;
    };
    work.then(mark, mark);
    depth++;
    try {
      await clock.runUntil(() => done);
    } finally {
      depth--;
    }
    return work;
  };
}

/** A fabric with hosts 10.0.0.1 (initiator) and 10.0.0.2 (target). */
export function fabricWorld(options: Partial<Omit<SimFabricOptions, 'scheduler'>> = {}): IserWorld & {
  readonly fabric: SimFabric;
} {
  const clock = new VirtualScheduler({ maxEvents: 2_000_000 });
  const fabric = new SimFabric({ scheduler: clock, seed: 7, ...options });
  return {
    clock,
    fabric,
    initiatorProvider: fabric.provider('10.0.0.1'),
    targetProvider: fabric.provider(TARGET.host),
    run: runner(clock),
    close: () => Promise.resolve(),
  };
}

/** Two soft-RoCE devices on an in-memory link. */
export async function softRoceWorld(seed = 1): Promise<IserWorld> {
  const clock = new VirtualScheduler({ maxEvents: 4_000_000 });
  const link = new MemoryLink({ scheduler: clock, seed, model: {} });
  const a = await SoftRoceProvider.open({ link, scheduler: clock, address: '10.0.0.1', seed: `a:${seed}` });
  const b = await SoftRoceProvider.open({ link, scheduler: clock, address: TARGET.host, seed: `b:${seed}` });
  return {
    clock,
    initiatorProvider: a,
    targetProvider: b,
    run: runner(clock),
    async close() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

/** Connects an initiator to a listener in `world`; both ends are in the login phase. */
export async function connectIser(world: IserWorld, options: IserPairOptions = {}): Promise<IserEnv> {
  const { clock } = world;
  const tap = options.tap;
  const targetProvider = tap === undefined ? world.targetProvider : tap.provider(world.targetProvider, 'target');
  const initiatorProvider =
    tap === undefined ? world.initiatorProvider : tap.provider(world.initiatorProvider, 'initiator');
  const listener = await world.run(
    IserListener.listen(targetProvider, TARGET, { scheduler: clock, ...options.listener }),
  );
  const accepted = firstValueFrom(listener.connections);
  const connector = new IserConnector(initiatorProvider, { scheduler: clock, ...options.connector });
  const initiator = await world.run(connector.connect(TARGET));
  const target = await world.run(accepted);
  return {
    initiator,
    target,
    clock,
    listener,
    world,
    run: (work) => world.run(work),
    async settle() {
      await clock.runUntilIdle();
    },
    async close() {
      await world.run(Promise.all([initiator.close(), target.close(), listener.close()]));
      await world.run(world.close());
    },
  };
}

/** What iSER negotiates from RFC-default params: RDMAExtensions=Yes and the RDSL keys (from the per-side limits). */
export function iserParams(params: NegotiatedParams): NegotiatedParams {
  return {
    ...params,
    rdmaExtensions: true,
    headerDigest: 'None',
    dataDigest: 'None',
    initiatorRecvDataSegmentLength: params.maxRecvDataSegmentLength.initiator,
    targetRecvDataSegmentLength: params.maxRecvDataSegmentLength.target,
  };
}
