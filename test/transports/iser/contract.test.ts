/**
 * The shared Datamover contract (test/transports/datamover-contract.ts) over iSER, in virtual time: on the in-memory
 * fabric and on soft-RoCE (real RoCEv2 packets on an in-memory link).
 */
import { RECEIVE_DATA_SEGMENT_LENGTH_CAP } from '../../../transports/iser/sizing.js';
import { connectIser, fabricWorld, iserParams, softRoceWorld, type IserPairOptions } from './env.js';
import { describeDatamoverContract } from '../datamover-contract.js';

/** The contract draws RDSL keys up to 64 KiB: both ends are configured to receive up to the cap. */
const receiveUpToCap: IserPairOptions = {
  connector: { maxReceiveDataSegmentLength: RECEIVE_DATA_SEGMENT_LENGTH_CAP },
  listener: { maxReceiveDataSegmentLength: RECEIVE_DATA_SEGMENT_LENGTH_CAP },
};

describeDatamoverContract('iSER on sim/fabric', {
  create: () => connectIser(fabricWorld(), receiveUpToCap),
  tweak: iserParams,
  codePrefix: 'ERR_ISER_',
});

describeDatamoverContract('iSER on sim/roce (SoftRoceProvider)', {
  create: async () => connectIser(await softRoceWorld(), receiveUpToCap),
  tweak: iserParams,
  codePrefix: 'ERR_ISER_',
  numRuns: 8,
});
