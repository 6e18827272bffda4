/**
 * The login phase (RFC 7143 §6.3, §11.12-11.13, §12; RFC 7145 §6): sans-IO state machines for the initiator and
 * the target, CHAP (MD5, SHA-1, SHA-256, SHA3-256; one-way and mutual), and the login errors.
 */
export * from './chap.js';
export * from './chap-initiator.js';
export * from './chap-target.js';
export * from './errors.js';
export * from './identity.js';
export * from './initiator-login.js';
export * from './login-text.js';
export * from './random.js';
export * from './target-login.js';
