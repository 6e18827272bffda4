/**
 * Two soft-RoCE devices on an in-memory link in virtual time, shaped as the Verbs contract's environment:
 * 10.0.0.1 (a, connects) and 10.0.0.2 (b, listens). Optionally a pcap tap and an event log.
 */
import { VirtualScheduler } from '../../../../sim/clock/virtual-scheduler.js';
import { EventLog } from '../../../../sim/trace/event-log.js';
import { MemoryLink, type LinkModel } from '../../../../sim/roce/link/memory-link.js';
import { PcapTap } from '../../../../sim/roce/link/pcap-tap.js';
import type { SoftRoceOptions } from '../../../../sim/roce/provider/options.js';
import { SoftRoceProvider } from '../../../../sim/roce/provider/provider.js';
import type { VerbsContractEnv } from '../../../support/verbs-contract.js';

/** The contract environment plus what is behind it. */
export interface MemoryEnv extends VerbsContractEnv {
  readonly a: SoftRoceProvider;
  readonly b: SoftRoceProvider;
  readonly clock: VirtualScheduler;
  readonly link: MemoryLink;
  readonly tap: PcapTap;
  readonly log: EventLog;
}

/** Options of {@link makeMemoryEnv}. */
export interface MemoryEnvOptions {
  readonly seed?: number;
  readonly model?: LinkModel;
  readonly provider?: Partial<Omit<SoftRoceOptions, 'address' | 'link' | 'scheduler'>>;
  /** Options for b only, over `provider`. */
  readonly b?: Partial<Omit<SoftRoceOptions, 'address' | 'link' | 'scheduler'>>;
}

/** Builds the environment on a fresh virtual clock. */
export async function makeMemoryEnv(options: MemoryEnvOptions = {}): Promise<MemoryEnv> {
  const clock = new VirtualScheduler({ maxEvents: 2_000_000 });
  const tap = new PcapTap(clock);
  const log = new EventLog({ clock });
  const link = new MemoryLink({ scheduler: clock, seed: options.seed ?? 1, model: options.model ?? {}, tap });
  const common = { link, scheduler: clock, eventLog: log, ...options.provider };
  const a = await SoftRoceProvider.open({ ...common, address: '10.0.0.1', seed: `a:${options.seed ?? 1}` });
  const b = await SoftRoceProvider.open({
    ...common,
    ...options.b,
    address: '10.0.0.2',
    seed: `b:${options.seed ?? 1}`,
  });
  return {
    a,
    b,
    clock,
    link,
    tap,
    log,
    addressOfB: '10.0.0.2',
    async run<T>(work: Promise<T>): Promise<T> {
      let done = false;
      const mark = (): void => {
        done = true;
      };
      work.then(mark, mark);
      await clock.runUntil(() => done);
      return work;
    },
    async settle(): Promise<void> {
      await clock.runUntilIdle();
    },
    async dispose(): Promise<void> {
      await clock.runUntilIdle();
      await a.close();
      await b.close();
      await clock.runUntilIdle();
    },
  };
}
