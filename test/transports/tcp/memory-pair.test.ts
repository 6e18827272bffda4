import { createDatamoverPair } from '../../support/datamover-pair.js';
import { describeDatamoverContract } from '../datamover-contract.js';

describeDatamoverContract('in-memory pair (test/support/datamover-pair)', {
  create: () => {
    const pair = createDatamoverPair();
    return Promise.resolve({
      initiator: pair.initiator,
      target: pair.target,
      async close() {
        await Promise.all([pair.initiator.close(), pair.target.close()]);
      },
    });
  },
});
