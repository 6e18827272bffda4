/**
 * The property-based conformance suite (fast-check) for iSCSI (RFC 7143) and iSER (RFC 7145): the same properties
 * against any (target, transport); shrunk counterexamples with their PDU exchange; replay from a seed.
 */
export * from './arbitraries.js';
export * from './cli.js';
export * from './context.js';
export * from './errors.js';
export * from './junit.js';
export * from './progress.js';
export * from './property.js';
export * from './properties/index.js';
export * from './record/exchange.js';
export * from './results.js';
export * from './runner.js';
export * from './target.js';
export * from './url-target.js';
