/**
 * What the target's session machine takes and gives: its options, the actions it asks its driver to carry out,
 * and the events it reports. See `target-session.ts` for the machine itself.
 */
import type { PortalAddress, TargetTaskRef } from '../datamover.js';
import type {
  AsyncMessagePdu,
  Isid,
  LogoutResponsePdu,
  NopInPdu,
  RejectPdu,
  ScsiResponsePdu,
  TaskManagementResponsePdu,
  TextResponsePdu,
} from '../pdu/index.js';
import type { ResetKind } from '../scsi/target/logical-unit.js';
import type { TransferLengths } from '../scsi/target/transfer-lengths.js';
import type { TargetCommand } from '../scsi/target/types.js';
import type {
  DiscoveredTarget,
  NegotiatedParams,
  NegotiationConfig,
  SessionType,
  TransportKind,
} from '../text/index.js';
import type { TargetSessionError } from './target-errors.js';

/** PDUs the target session sends with `sendControl`. */
export type TargetControlPdu =
  | NopInPdu
  | ScsiResponsePdu
  | TaskManagementResponsePdu
  | TextResponsePdu
  | LogoutResponsePdu
  | AsyncMessagePdu
  | RejectPdu;

/** A SendTargets question (RFC 7143 §13.3, Appendix C), for the configuration to answer. */
export interface SendTargetsRequest {
  /** The initiator asking. */
  readonly initiatorName: string;
  /** Discovery or Normal. */
  readonly sessionType: SessionType;
  /** The session's target, in a normal session. */
  readonly sessionTarget: string | undefined;
  /** `All`, a target name, or empty (the session's target). */
  readonly value: string;
  /** The portal the connection arrived at: wildcard portals report this address. */
  readonly local: PortalAddress;
}

/** Options of a `TargetSession`: who logged in, what was negotiated, and the session's limits. */
export interface TargetSessionOptions {
  /** The session's TSIH. */
  readonly tsih: number;
  /** The initiator's ISID. */
  readonly isid: Isid;
  /** InitiatorName. */
  readonly initiatorName: string;
  /** TargetName (undefined for discovery). */
  readonly targetName: string | undefined;
  /** Normal or Discovery. */
  readonly sessionType: SessionType;
  /** The portal group the leading login came through (part of the SCSI target port name). */
  readonly portalGroupTag: number;
  /** The negotiated values. */
  readonly params: NegotiatedParams;
  /** The transport, for text negotiation in full feature phase. */
  readonly transport: TransportKind;
  /** Our negotiation preferences, for text negotiation in full feature phase. */
  readonly negotiation?: NegotiationConfig;
  /** ExpCmdSN after login (the login's CmdSN). */
  readonly expCmdSN: number;
  /** MaxCmdSN the login announced (the window never shrinks below it). */
  readonly maxCmdSN: number;
  /** Most non-immediate commands held at once (queued early plus running); default 32. */
  readonly queueDepth?: number;
  /** Most immediate SCSI commands running at once; more get Reject "immediate command reject". Default 16. */
  readonly maxImmediateTasks?: number;
  /** Most task management requests waiting for their tasks at once; more get "function rejected". Default 16. */
  readonly maxPendingTaskManagement?: number;
  /** Idle time before a NOP-In ping, in ms; 0 turns keepalive off (the default). */
  readonly nopInIntervalMs?: number;
  /** How long a NOP-In ping may go unanswered before the connection is dropped, in ms; default 15000. */
  readonly nopInTimeoutMs?: number;
  /** Statuses that may go unacknowledged before the connection is dropped; default max(1024, 4 × depth). */
  readonly maxUnacknowledgedStatus?: number;
  /** Most bytes of one (continued) text request; default 64 KiB. */
  readonly maxTextBytes?: number;
  /** Bytes a CDB moves each way on a LUN (the SCSI device's `transferLengths`), for residuals. */
  readonly transferLengths?: (lun: number, cdb: Buffer) => TransferLengths;
  /** Whether a LUN exists (task management answers "LUN does not exist" otherwise); default: all do. */
  readonly hasLun?: (lun: number) => boolean;
  /** Answers SendTargets; without it SendTargets lists nothing. */
  readonly sendTargets?: (request: SendTargetsRequest) => readonly DiscoveredTarget[];
}

/** A connection joining the session. */
export interface TargetConnectionOptions {
  /** The StatSN of its first full-feature status (the login's final StatSN + 1). */
  readonly statSN: number;
  /** Where it arrived. */
  readonly local: PortalAddress;
}

/** A SCSI command for the driver to run on the SCSI device. */
export interface ExecuteRequest {
  /** The session's name for the task (ITTs can be reused once a task is over; task ids never are). */
  readonly taskId: number;
  /** The connection the command arrived on. */
  readonly cid: number;
  /** The transport's handle for the task: `getData`/`putData`/`taskDone` take it. */
  readonly task: TargetTaskRef;
  /** The command, without its data-out source (the driver maps `getDataOut` onto the Datamover's `getData`). */
  readonly command: Omit<TargetCommand, 'getDataOut'>;
}

/** The timers a connection may have running; one of each at most. */
export type TargetSessionTimer =
  /** Time to check whether the connection went idle and needs a NOP-In ping. */
  | 'nop-interval'
  /** Our NOP-In ping went unanswered. */
  | 'nop-timeout'
  /** We asked for a logout and the initiator did not log out in time. */
  | 'logout-deadline';

/** Resets task management asks the driver to apply to the SCSI device (and to other sessions' tasks). */
export type TargetResetKind = ResetKind | 'it-nexus-reset';

/** Something worth telling the target's logs about. */
export type TargetSessionEvent =
  | {
      readonly kind: 'command-dropped';
      readonly cid: number;
      readonly cmdSN: number;
      readonly reason: 'outside-window' | 'duplicate';
      readonly expCmdSN: number;
      readonly maxCmdSN: number;
    }
  | { readonly kind: 'rejected'; readonly cid: number; readonly reason: number; readonly pduKind: string }
  | {
      readonly kind: 'task-aborted';
      readonly itt: number;
      readonly lun: number;
      readonly by: 'task-management' | 'connection-closed' | 'reset' | 'session-closed';
    }
  | { readonly kind: 'data-out-failed'; readonly itt: number; readonly error: unknown }
  | { readonly kind: 'task-management'; readonly cid: number; readonly function: number; readonly response: number }
  | { readonly kind: 'logout'; readonly cid: number; readonly reason: number; readonly response: number };

/** What the session machine asks its driver to do, in order. */
export type TargetSessionAction =
  /** Send a control PDU on a connection (Datamover `sendControl`). */
  | { readonly type: 'send'; readonly cid: number; readonly pdu: TargetControlPdu }
  /** Run a SCSI command; report with `commandExecuted` or `commandFailed`. */
  | { readonly type: 'execute'; readonly request: ExecuteRequest }
  /** Move a read's data-in (Datamover `putData` at offset 0); report with `dataDelivered` or `dataFailed`. */
  | {
      readonly type: 'put-data';
      readonly cid: number;
      readonly taskId: number;
      readonly task: TargetTaskRef;
      readonly data: readonly Buffer[];
    }
  /** The task with this ITT is over on this connection (Datamover `taskDone`). */
  | { readonly type: 'task-done'; readonly cid: number; readonly itt: number }
  /** Start (or restart) a timer; report with `timerFired`. */
  | { readonly type: 'arm-timer'; readonly cid: number; readonly timer: TargetSessionTimer; readonly ms: number }
  /** Stop a timer if it runs. */
  | { readonly type: 'cancel-timer'; readonly cid: number; readonly timer: TargetSessionTimer }
  /** Close a connection once what was sent before is out. */
  | { readonly type: 'close-connection'; readonly cid: number; readonly reason: TargetSessionError }
  /**
   * Reset the SCSI device (unit attentions) and abort the matching tasks of the target's other sessions: a LUN
   * (`lun` set) or the whole target. After `target-cold-reset` the driver also drops the other sessions.
   */
  | { readonly type: 'reset'; readonly kind: TargetResetKind; readonly lun: number | undefined }
  /** CLEAR TASK SET: abort the other sessions' tasks on `lun` (no device reset). */
  | { readonly type: 'clear-task-set'; readonly lun: number }
  /** The session is over (every connection closed); forget it. */
  | { readonly type: 'session-ended'; readonly reason: TargetSessionError }
  /** Something to log. */
  | { readonly type: 'event'; readonly event: TargetSessionEvent };
