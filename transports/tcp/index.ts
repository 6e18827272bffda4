/** iSCSI over TCP (RFC 7143) as a Datamover: connector, listener and the connection they produce. */
export * from './connection.js';
export * from './connector.js';
export * from './errors.js';
export * from './listener.js';
