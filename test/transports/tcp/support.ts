/** The Datamover test helpers moved to test/transports/datamover-support.ts (shared by every transport's tests). */
export * from '../datamover-support.js';
