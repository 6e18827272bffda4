/**
 * A fabric on a virtual clock, shaped as the Verbs contract's environment: hosts 10.0.0.1 (a) and 10.0.0.2 (b).
 */
import { VirtualScheduler } from '../../../sim/clock/virtual-scheduler.js';
import { SimFabric } from '../../../sim/fabric/fabric.js';
import type { SimFabricOptions } from '../../../sim/fabric/fabric.js';
import type { SimVerbsProvider } from '../../../sim/fabric/provider.js';
import type { VerbsContractEnv } from '../../support/verbs-contract.js';

/** The contract environment plus the fabric and clock behind it. */
export interface SimEnv extends VerbsContractEnv {
  readonly a: SimVerbsProvider;
  readonly b: SimVerbsProvider;
  readonly fabric: SimFabric;
  readonly clock: VirtualScheduler;
}

/** Builds a fabric on a fresh virtual clock. */
export function makeSimEnv(options: Partial<Omit<SimFabricOptions, 'scheduler'>> = {}): SimEnv {
  const clock = new VirtualScheduler({ maxEvents: 500_000 });
  const fabric = new SimFabric({ scheduler: clock, seed: 42, ...options });
  return {
    fabric,
    clock,
    a: fabric.provider('10.0.0.1'),
    b: fabric.provider('10.0.0.2'),
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
    faults: {
      stopAnswering(host: string): void {
        fabric.addFault({ kind: 'stop-answering', host, atMs: fabric.now() });
      },
      pullCable(): void {
        fabric.pullCable();
      },
    },
    async dispose(): Promise<void> {
      await clock.runUntilIdle();
    },
  };
}
