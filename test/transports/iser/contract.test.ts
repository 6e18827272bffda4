/**
 * The shared Datamover contract (test/transports/datamover-contract.ts) over iSER, in virtual time: on the in-memory
 * fabric and on soft-RoCE (real RoCEv2 packets on an in-memory link).
 */
import { connectIser, fabricWorld, iserParams, softRoceWorld } from './env.js';
import { describeDatamoverContract } from '../datamover-contract.js';

describeDatamoverContract('iSER on sim/fabric', {
  create: () => connectIser(fabricWorld()),
  tweak: iserParams,
  codePrefix: 'ERR_ISER_',
});

describeDatamoverContract('iSER on sim/roce (SoftRoceProvider)', {
  create: async () => connectIser(await softRoceWorld()),
  tweak: iserParams,
  codePrefix: 'ERR_ISER_',
  numRuns: 8,
});
