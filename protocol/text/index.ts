/**
 * The text layer: key=value codec and continuation (RFC 7143 §6.1), the key table (RFC 7143 §12-13,
 * RFC 7145 §6), and negotiation (RFC 7143 §6.2-6.3).
 */
export * from './assembler.js';
export * from './codec.js';
export * from './config.js';
export * from './errors.js';
export * from './keys.js';
export * from './negotiator.js';
export * from './params.js';
export * from './result-functions.js';
export * from './sendtargets.js';
export * from './split.js';
export * from './values.js';
