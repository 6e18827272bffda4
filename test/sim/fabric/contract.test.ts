/**
 * The Verbs contract on the in-memory fabric: once on a plain link, once on a slow, jittery one (so that the
 * contract does not depend on timing).
 */
import { verbsContract } from '../../support/verbs-contract.js';
import { makeSimEnv } from './sim-env.js';

verbsContract('sim-fabric', () => Promise.resolve(makeSimEnv()), { faults: true });

verbsContract(
  'sim-fabric (10 Gb/s, 50 µs, jitter)',
  () => Promise.resolve(makeSimEnv({ seed: 7, link: { latencyMs: 0.05, bandwidthGbps: 10, jitterMs: 0.03 } })),
  { faults: true },
);
