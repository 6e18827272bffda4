/**
 * Our target and initiator over iSER on the in-memory RDMA fabric (sim/fabric), in virtual time: one
 * VirtualScheduler drives the fabric, the target server and the initiator's session. Nothing moves unless `run()`
 * drives the clock, so every wait goes through it; virtual time itself advances only by what the fabric's link
 * model (5 µs, 100 Gbit/s) and the sessions' timers say. The initiator's host is 10.0.0.1, the target's 10.0.0.2.
 */
import type { BlockBackend } from '../../protocol/scsi/backend.js';
import { IscsiTarget } from '../../server/index.js';
import { VirtualScheduler } from '../../sim/clock/virtual-scheduler.js';
import { SimFabric } from '../../sim/fabric/index.js';
import { IserConnector, IserListener } from '../../transports/iser/index.js';
import { openOurLun, type OurLun } from './our-initiator.js';

export const ISER_TARGET_IQN = 'iqn.2024-01.org.iser-bench:iser';
const TARGET_PORTAL = { host: '10.0.0.2', port: 3260 } as const;
const INITIATOR_HOST = '10.0.0.1';

/** Options of {@link startIserWorld}. */
export interface IserWorldOptions {
  /** The target's keepalive: idle time before its NOP-In, in virtual ms (default off). */
  readonly targetNopIntervalMs?: number;
  /** Most timer events one `run()` may fire (default 50 million): a runaway simulation stops, it does not spin. */
  readonly maxEvents?: number;
}

/** A target serving `backend` as LUN 0 over iSER, and the clock that drives it. */
export interface IserWorld {
  readonly clock: VirtualScheduler;
  readonly fabric: SimFabric;
  readonly target: IscsiTarget;
  /** Drives the clock until `work` settles. */
  run<T>(work: Promise<T>): Promise<T>;
  /** Resolves after `ms` virtual milliseconds (await it inside `run`). */
  sleep(ms: number): Promise<void>;
  /** Logs our initiator in (driving the clock); keepalive NOP-Out every `nopIntervalMs` virtual ms if given. */
  openLun(nopIntervalMs?: number): Promise<OurLun>;
  close(): Promise<void>;
}

/** Builds the fabric, the target and its listener. */
export async function startIserWorld(backend: BlockBackend, options: IserWorldOptions = {}): Promise<IserWorld> {
  const clock = new VirtualScheduler({ maxEvents: options.maxEvents ?? 50_000_000 });
  const fabric = new SimFabric({ scheduler: clock, seed: 1 });
  const run = async <T>(work: Promise<T>): Promise<T> => {
    let done = false;
    const mark = (): void => {
      done = true;
    };
    work.then(mark, mark);
    await clock.runUntil(() => done);
    return work;
  };
  const target = new IscsiTarget(
    {
      targets: [{ name: ISER_TARGET_IQN, luns: [{ lun: 0, backend }] }],
      portalGroups: [{ tag: 1, portals: [{ ...TARGET_PORTAL, transport: 'iser' }] }],
      ...(options.targetNopIntervalMs === undefined ? {} : { nopInIntervalMs: options.targetNopIntervalMs }),
    },
    { scheduler: clock },
  );
  const listener = await run(
    IserListener.listen(fabric.provider(TARGET_PORTAL.host), TARGET_PORTAL, { scheduler: clock }),
  );
  target.serve(listener, 1);
  const initiatorProvider = fabric.provider(INITIATOR_HOST);
  return {
    clock,
    fabric,
    target,
    run,
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        clock.schedule(() => {
          resolve();
        }, ms);
      }),
    openLun: (nopIntervalMs) =>
      run(
        openOurLun({
          connector: new IserConnector(initiatorProvider, { scheduler: clock }),
          portal: TARGET_PORTAL,
          targetName: ISER_TARGET_IQN,
          lun: 0,
          scheduler: clock,
          ...(nopIntervalMs === undefined ? {} : { nopIntervalMs }),
        }),
      ),
    close: async () => {
      await run(target.close());
      await run(listener.close());
    },
  };
}
