/**
 * The Verbs contract on soft-RoCE over the in-memory link in virtual time: once clean, and once with seeded
 * loss, duplication, reordering and corruption (the RC engine must hide them; the counters must show them).
 * Private data comes back as the wire carries it: the whole fixed-size area of the CM message, zero-padded.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { verbsContract } from '../../../support/verbs-contract.js';
import type { RoceCounters } from '../../../../sim/roce/rc/counters.js';
import { makeMemoryEnv, type MemoryEnv, type MemoryEnvOptions } from './memory-env.js';

function contractEnv(options: MemoryEnvOptions, seen?: MemoryEnv[]): () => Promise<MemoryEnv> {
  return async () => {
    const env = await makeMemoryEnv(options);
    seen?.push(env);
    return env;
  };
}

verbsContract('softroce (memory link)', contractEnv({}));

const lossy: MemoryEnv[] = [];
// rxe spends a transport retry on the first NAK of each go-back and on every timer expiry, and restores them only
// on a positive ACK (every ~65 packets of a long message): at a few % loss a 1 MiB WRITE exhausts 6 retries, as
// it would on rxe. Half a percent of each fault is well within rxe's retry budget.
const faults = { loss: 0.005, duplicate: 0.005, reorder: 0.005, corrupt: 0.005, jitterMs: 0.002, latencyMs: 0.005 };
verbsContract(
  'softroce (memory link: 0.5% each of loss, duplication, reordering, corruption)',
  contractEnv({ seed: 7, model: faults }, lossy),
);

describe('the lossy contract run', () => {
  afterAll(() => {
    // Printed so a reader sees what the faults cost.
    const total = (key: keyof RoceCounters) =>
      lossy.reduce((n, env) => n + (env.a.snapshot()[key] as number) + (env.b.snapshot()[key] as number), 0);
    console.info(
      `lossy contract: ${lossy.length} environments, link lost ${lossy.reduce((n, e) => n + e.link.stats.lost, 0)}, ` +
        `retransmitted ${total('retransmittedPackets')}, ICRC drops ${total('icrcDrops')}, duplicates ${total('duplicateRequests')}`,
    );
  });

  it('saw the faults and recovered from them (counted after the contract above)', () => {
    // This block runs after the contract's tests in this file.
    const sum = (pick: (env: MemoryEnv) => number) => lossy.reduce((n, env) => n + pick(env), 0);
    expect(lossy.length).toBeGreaterThan(10);
    expect(sum((e) => e.link.stats.lost)).toBeGreaterThan(0);
    expect(sum((e) => e.link.stats.corrupted)).toBeGreaterThan(0);
    expect(sum((e) => e.a.snapshot().retransmittedPackets + e.b.snapshot().retransmittedPackets)).toBeGreaterThan(0);
    expect(sum((e) => e.a.snapshot().icrcDrops + e.b.snapshot().icrcDrops)).toBe(sum((e) => e.link.stats.corrupted));
    expect(sum((e) => e.a.snapshot().duplicateRequests + e.b.snapshot().duplicateRequests)).toBeGreaterThan(0);
  });
});
