/** The Datamover contract moved to test/transports/datamover-contract.ts (run by every transport). */
export { describeDatamoverContract, expectCode, expectThrowCode } from '../datamover-contract.js';
