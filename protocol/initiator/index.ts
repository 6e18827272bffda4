/**
 * The public initiator API: `login()` and `discover()` over any Datamover connector, `Session` and `Lun` with cold
 * Observables (and Promises in `lun.promises`), iSCSI URL parsing, and the `iser:initiator` diagnostics channel.
 */
export * from './command-options.js';
export * from './diagnostics.js';
export * from './discover.js';
export * from './errors.js';
export * from './login.js';
export * from './lun.js';
export * from './session.js';
export * from './url.js';
export * from './url-options.js';
export type {
  CommandResult,
  LogoutResult,
  Residual,
  SessionEvent,
  InitiatorSessionState,
} from '../session/initiator-types.js';
export type { InitiatorSessionOptions, TaskManagementRequest } from '../session/initiator-session.js';
export { InitiatorSessionError, type InitiatorSessionErrorCode } from '../session/initiator-errors.js';
export type { DiscoveredTarget, TargetAddress } from '../text/sendtargets.js';
