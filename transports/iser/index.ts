/** iSER (RFC 7145) as a Datamover over any Verbs provider: connector, listener and the connection they produce. */
export * from './cm-header.js';
export * from './connection.js';
export * from './connector.js';
export * from './errors.js';
export * from './listener.js';
export * from './sizing.js';
