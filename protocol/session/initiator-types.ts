/**
 * What the initiator's session machine takes and gives: requests, their outcomes, the actions it asks its driver to
 * carry out, the timers it arms, and the events it reports.
 */
import type { InitiatorTaskBuffers } from '../datamover.js';
import type { InitiatorPdu } from '../pdu/pdu.js';
import type { ScsiCommandPdu } from '../pdu/scsi-command.js';
import type { SenseData } from '../scsi/sense.js';
import type { TextPair } from '../text/codec.js';
import type { NegotiatedParams } from '../text/params.js';

/** A caller-chosen number naming one request (command, TMF, ping, text exchange, logout) until it ends. */
export type RequestId = number;

/** Where the session stands. */
export type InitiatorSessionState =
  /** Commands flow. */
  | 'full-feature'
  /** The connection failed; waiting for Time2Wait, reconnecting, and reissuing (ERL 0 session recovery). */
  | 'recovering'
  /** A Logout Request is queued or sent; no new requests are taken. */
  | 'logging-out'
  /** Logged out: the session is over. */
  | 'logged-out'
  /** The session failed for good (recovery impossible or out of time). */
  | 'failed';

/** One SCSI command as a caller describes it. */
export interface CommandRequest {
  /** The LUN, raw 64-bit SAM encoding (see `lunFromNumber`). */
  readonly lun: bigint;
  /** The CDB (up to 16 bytes in the BHS; longer ones go in an AHS). */
  readonly cdb: Buffer;
  /** Bytes of data-in expected (a read); omit or 0 for none. */
  readonly readLength?: number;
  /** The data-out (a write), as a chunk list. */
  readonly writeData?: readonly Buffer[];
  /** SAM task attribute (default Simple). */
  readonly attribute?: number;
}

/** How the amount of data moved compares with what the command expected (RFC 7143 §11.4.5). */
export interface Residual {
  /** U bit: less data than expected. */
  readonly underflow: boolean;
  /** O bit: the command wanted more than expected. */
  readonly overflow: boolean;
  /** ResidualCount: the difference, in bytes. */
  readonly count: number;
}

/** A command that ended with GOOD (or CONDITION MET). */
export interface CommandResult {
  /** The SCSI status (GOOD or CONDITION MET). */
  readonly status: number;
  /** Data-in actually transferred (empty for a command without data-in). */
  readonly data: Buffer;
  /** Residual of the data-in for reads, of the data-out for writes. */
  readonly residual: Residual;
  /** Residual of the data-in of a bidirectional command. */
  readonly bidirectionalReadResidual?: Residual;
  /** Sense data, when a successful status came with some (e.g. RECOVERED ERROR). */
  readonly sense?: SenseData;
}

/** What a logout told us. */
export interface LogoutResult {
  /** Seconds before a new connection may reinstate (Time2Wait). */
  readonly time2Wait: number;
  /** Seconds the target keeps what recovery needs (Time2Retain). */
  readonly time2Retain: number;
}

/** The outcome of a request, by kind. */
export type RequestOutcome =
  | { readonly kind: 'command'; readonly result: CommandResult }
  | { readonly kind: 'task-management'; readonly response: number }
  | { readonly kind: 'ping'; readonly data: Buffer }
  | { readonly kind: 'text'; readonly pairs: readonly TextPair[] }
  | { readonly kind: 'logout'; readonly result: LogoutResult };

/** The timers the session arms; one of each at most. */
export type SessionTimer =
  /** Time to send a keepalive NOP-Out. */
  | 'nop-interval'
  /** Our keepalive NOP-Out went unanswered. */
  | 'nop-timeout'
  /** A StatSN gap stayed open. */
  | 'statsn-gap'
  /** Time2Wait passed: reconnect. */
  | 'time2wait'
  /** Recovery ran out of time: fail what waits. */
  | 'time2retain'
  /** The Logout Response did not come. */
  | 'logout-timeout';

/** Something worth telling the session's users (and logs) about. */
export type SessionEvent =
  | { readonly kind: 'connection-lost'; readonly error: Error }
  | { readonly kind: 'reconnecting'; readonly attempt: number }
  | { readonly kind: 'reconnected'; readonly tsih: number; readonly reissued: number }
  | { readonly kind: 'reissue-unit-attention'; readonly lun: bigint; readonly asc: number; readonly ascq: number }
  | { readonly kind: 'window-ignored'; readonly expCmdSN: number; readonly maxCmdSN: number }
  | { readonly kind: 'statsn-gap'; readonly expStatSN: number; readonly statSN: number }
  | { readonly kind: 'rejected'; readonly reason: number; readonly opcode: number; readonly itt: number }
  | { readonly kind: 'unexpected-pdu'; readonly pduKind: string; readonly itt: number | undefined }
  | {
      readonly kind: 'scsi-async-event';
      readonly lun: bigint;
      readonly sense: SenseData | undefined;
    }
  | { readonly kind: 'logout-requested'; readonly withinSeconds: number }
  | {
      readonly kind: 'connection-drop-announced';
      readonly allConnections: boolean;
      readonly time2Wait: number;
      readonly time2Retain: number;
    }
  | { readonly kind: 'renegotiation-requested' }
  | { readonly kind: 'renegotiated'; readonly params: NegotiatedParams }
  | { readonly kind: 'tasks-terminated'; readonly lun: bigint; readonly count: number }
  | { readonly kind: 'vendor-async-event'; readonly code: number; readonly data: readonly Buffer[] }
  | { readonly kind: 'target-ping-answered'; readonly ttt: number };

/** What the session machine asks its driver to do, in order. */
export type InitiatorSessionAction =
  /** Send a control PDU (Datamover `sendControl`). */
  | { readonly type: 'send'; readonly pdu: Exclude<InitiatorPdu, ScsiCommandPdu> }
  /** Send a SCSI Command with its buffers (Datamover `sendCommand`). */
  | { readonly type: 'send-command'; readonly pdu: ScsiCommandPdu; readonly buffers: InitiatorTaskBuffers }
  /** The task with this ITT is over on the current connection (Datamover `taskDone`). */
  | { readonly type: 'task-done'; readonly itt: number }
  /** Start (or restart) a timer. */
  | { readonly type: 'arm-timer'; readonly timer: SessionTimer; readonly ms: number }
  /** Stop a timer if it runs. */
  | { readonly type: 'cancel-timer'; readonly timer: SessionTimer }
  /** A request succeeded. */
  | { readonly type: 'complete'; readonly id: RequestId; readonly outcome: RequestOutcome }
  /** A request failed. */
  | { readonly type: 'fail'; readonly id: RequestId; readonly error: Error }
  /** Close the current connection (it failed, or the session is over). */
  | { readonly type: 'close-connection'; readonly reason: Error | undefined }
  /** Open a new connection and log in to reinstate the session (same ISID, TSIH 0); report with `reconnected`. */
  | { readonly type: 'reconnect'; readonly attempt: number; readonly cmdSN: number }
  /** The session state changed. */
  | { readonly type: 'state'; readonly state: InitiatorSessionState; readonly error: Error | undefined }
  /** Something to report. */
  | { readonly type: 'event'; readonly event: SessionEvent };
