/** What `iser target -c` is made of: target.yaml built, served and reloaded; metrics and structured logs. */
export * from './build.js';
export * from './logging.js';
export * from './metrics-server.js';
export * from './metrics.js';
export * from './portals.js';
export * from './runtime.js';
