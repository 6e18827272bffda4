import { connectPair } from '../../support/datamover-pair.js';
import { describeDatamoverContract } from '../datamover-contract.js';

describeDatamoverContract('iSCSI/TCP on 127.0.0.1', { create: () => connectPair({ dataTimeoutMs: 5_000 }) });

describeDatamoverContract('iSCSI/TCP on 127.0.0.1 with CRC32C header and data digests', {
  create: () => connectPair({ dataTimeoutMs: 5_000 }),
  tweak: (params) => ({ ...params, headerDigest: 'CRC32C', dataDigest: 'CRC32C' }),
});
