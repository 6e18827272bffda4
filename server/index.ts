/** The runnable iSCSI target: the server (RxJS wiring over Datamover listeners) and its command line. */
export * from './config-runtime/index.js';
export * from './errors.js';
export * from './iscsi-target.js';
export * from './session-driver.js';
export * from './target-cli.js';
export * from './target-connection.js';
