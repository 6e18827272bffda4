/**
 * The target's configuration model (target nodes, LUNs, portal groups, ACLs, CHAP), its validation, the login
 * policy and SendTargets answers derived from it, the session registry (TSIH allocation, reinstatement), and
 * the SCSI device of a target node.
 */
export * from './config.js';
export * from './errors.js';
export * from './login-policy.js';
export * from './scsi-device.js';
export * from './send-targets.js';
export * from './session-registry.js';
export * from './validate.js';
