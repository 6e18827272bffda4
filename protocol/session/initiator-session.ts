/**
 * The initiator's session in full feature phase (RFC 7143 §3.2, §4.2, §6-7, §10-11), sans-IO: requests, target
 * PDUs, timer firings and connection events go in; actions come out (send a PDU, arm a timer, complete a request,
 * reconnect). One connection per session; ErrorRecoveryLevel 0.
 *
 * - Numbering: ITTs unique among live tasks; CmdSN taken by non-immediate PDUs only, in order, and only inside
 *   the window (CmdSN <= MaxCmdSN) — others wait in a FIFO queue; ExpCmdSN/MaxCmdSN from every target PDU, never
 *   moving backwards; ExpStatSN from every status, with a bounded wait for a gap to close.
 * - Tasks go queued → sent → done (GOOD or a typed error), or aborted (TMF, caller, target).
 * - Keepalive: a NOP-Out ping every `nopIntervalMs`; no answer in `nopTimeoutMs` fails the connection. Target
 *   pings (NOP-In with a TTT) are answered.
 * - ERL 0 session recovery: when the connection fails, nothing that can be retried fails. After Time2Wait the
 *   driver reconnects and logs in with the same ISID and TSIH 0 (session reinstatement, RFC 7143 §6.3.5); every
 *   task without a status is reissued with a new CmdSN, in its original order. After Time2Wait + Time2Retain
 *   without success, what waits fails with ERR_SESSION_RECOVERY_TIMEOUT. A command that received GOOD is done
 *   and never reissued. A reissued command that meets UNIT ATTENTION (the target reporting our reinstatement)
 *   is sent again, at most twice.
 *
 * Request ids are the caller's (non-negative); the session's own requests (keepalive, ABORT TASK on a caller's
 * unsubscribe, logout on the target's request) use negative ids, whose completions the caller may ignore.
 */
import { BufferSlab } from '../buffer-slab.js';
import type { InitiatorLoginResult } from '../login/initiator-login.js';
import { AsyncEvent } from '../pdu/async-message.js';
import { RESERVED_TAG } from '../pdu/constants.js';
import { LogoutReason, LogoutResponse, type LogoutResponsePdu } from '../pdu/logout.js';
import type { NopInPdu } from '../pdu/nop.js';
import { Opcode } from '../pdu/opcodes.js';
import type { Pdu, TargetPdu } from '../pdu/pdu.js';
import type { RejectPdu } from '../pdu/reject.js';
import { TaskAttribute, type ScsiCommandPdu } from '../pdu/scsi-command.js';
import type { ScsiResponsePdu } from '../pdu/scsi-response.js';
import {
  TaskManagementFunction,
  TaskManagementResponse,
  type TaskManagementResponsePdu,
} from '../pdu/task-management.js';
import type { AsyncMessagePdu } from '../pdu/async-message.js';
import type { TextResponsePdu } from '../pdu/text.js';
import type { TextPair } from '../text/codec.js';
import type { NegotiationConfig } from '../text/config.js';
import { ScsiStatusError } from '../scsi/errors.js';
import { SenseKey } from '../scsi/sense-codes.js';
import { TextError } from '../text/errors.js';
import { TextNegotiator, type TransportKind } from '../text/negotiator.js';
import type { NegotiatedParams } from '../text/params.js';
import type { TextPiece } from '../text/split.js';
import { sliceChunks, totalLength } from './data-sequencing-chunks.js';
import { commandFinalBit, unsolicitedLengths } from './data-sequencing.js';
import { InitiatorSessionError, rejectedError, tmfResponseName } from './initiator-errors.js';
import { IttAllocator } from './initiator-itt.js';
import { commandOutcome, describeCommand, senseFromSegment } from './initiator-response.js';
import { StatSNTracker } from './initiator-statsn.js';
import { TextExchange, type TextExchangeLimits } from './initiator-text-exchange.js';
import type {
  CommandRequest,
  InitiatorSessionAction,
  InitiatorSessionState,
  RequestId,
  SessionEvent,
  SessionTimer,
} from './initiator-types.js';
import { CommandWindow } from './initiator-window.js';

/** Options of an {@link InitiatorSession}; times in milliseconds. */
export interface InitiatorSessionOptions {
  /** Keepalive NOP-Out interval; 0 (default) sends none. */
  readonly nopIntervalMs?: number;
  /** How long a keepalive NOP-Out may go unanswered (default 5000). */
  readonly nopTimeoutMs?: number;
  /** How long a StatSN gap may stay open (default 2000). */
  readonly statSNGapTimeoutMs?: number;
  /** How long to wait for the Logout Response (default 10000). */
  readonly logoutTimeoutMs?: number;
  /** ERL 0 session recovery on connection loss (default true; never for discovery sessions). */
  readonly recovery?: boolean;
  /** How long recovery may take in all (default: (DefaultTime2Wait + DefaultTime2Retain) seconds). */
  readonly recoveryTimeoutMs?: number;
  /** Shortest wait between two reconnection attempts (default 1000). */
  readonly minReconnectDelayMs?: number;
  /** Bounds on text exchanges. */
  readonly text?: TextExchangeLimits;
}

/** What an {@link InitiatorSession} starts from. */
export interface InitiatorSessionConfig {
  /** The leading connection's login result. */
  readonly login: InitiatorLoginResult;
  /** The transport (for renegotiation). */
  readonly transport: TransportKind;
  /** The connection's CID (default 0). */
  readonly cid?: number;
  /** Our negotiation preferences (for renegotiation the target asks for). */
  readonly negotiation?: NegotiationConfig;
  /** Timers and bounds. */
  readonly options?: InitiatorSessionOptions;
  /**
   * The transport zeroes the read bytes it does not place (`DatamoverConnection.zeroesUnplacedReadBytes`), so
   * read buffers may start uninitialised (default false: they are zero-filled).
   */
  readonly uninitialisedReadBuffers?: boolean;
}

/** A TMF as the caller asks for it. */
export interface TaskManagementRequest {
  /** A {@link TaskManagementFunction}. */
  readonly function: number;
  /** The LUN (ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET, CLEAR ACA, QUERY TASK SET). */
  readonly lun?: bigint;
  /** The request id of the command an ABORT TASK or QUERY TASK refers to. */
  readonly referencedTask?: RequestId;
}

/** Slab size and largest slab piece of small read buffers (a kept result pins at most one slab). */
const READ_SLAB_BYTES = 64 * 1024;
const READ_SLAB_PIECE = 4096;

interface Task {
  readonly id: RequestId;
  readonly request: CommandRequest;
  readonly readLength: number;
  readonly writeData: readonly Buffer[];
  readonly writeLength: number;
  readonly itt: number;
  state: 'queued' | 'sent';
  cmdSN: number;
  /** Order in which tasks were sent: the reissue order after a connection loss. */
  sendOrder: number;
  abortRequested: boolean;
  /** UNIT ATTENTIONs a reissued command may still meet and be sent again. */
  unitAttentionRetries: number;
  readBuffer: Buffer | undefined;
}

interface Tmf {
  readonly id: RequestId;
  readonly itt: number;
  readonly function: number;
  /** Tasks the TMF ends when it completes. */
  readonly affected: readonly RequestId[];
}

interface Ping {
  readonly id: RequestId;
  readonly itt: number;
  readonly keepalive: boolean;
}

interface Text {
  readonly id: RequestId;
  readonly itt: number;
  readonly exchange: TextExchange;
  readonly negotiator: TextNegotiator | undefined;
}

interface Logout {
  readonly id: RequestId;
  readonly itt: number;
  readonly reason: number;
  sent: boolean;
}

type Owner =
  | { readonly kind: 'task'; readonly id: RequestId }
  | { readonly kind: 'tmf'; readonly id: RequestId }
  | { readonly kind: 'ping'; readonly id: RequestId }
  | { readonly kind: 'text'; readonly id: RequestId }
  | { readonly kind: 'logout'; readonly id: RequestId };

type QueueItem = { readonly kind: 'task'; readonly id: RequestId } | { readonly kind: 'logout' };

/** Target PDUs the session consumes a StatSN for (RFC 7143 §4.2.2.2; NOP-In only when it answers a ping). */
const STATUS_KINDS = new Set<Pdu['kind']>([
  'scsi-response',
  'task-management-response',
  'text-response',
  'logout-response',
  'async-message',
  'reject',
]);

/** How many UNIT ATTENTIONs a command reissued by recovery may meet and still be sent again. */
const REISSUE_UNIT_ATTENTION_RETRIES = 2;

/** TMFs that end tasks when they complete. */
const ABORTING_FUNCTIONS = new Set<number>([
  TaskManagementFunction.AbortTask,
  TaskManagementFunction.AbortTaskSet,
  TaskManagementFunction.ClearTaskSet,
  TaskManagementFunction.LogicalUnitReset,
  TaskManagementFunction.TargetWarmReset,
  TaskManagementFunction.TargetColdReset,
]);

function checkMs(name: string, value: number | undefined, fallback: number): number {
  const ms = value ?? fallback;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new InitiatorSessionError('ERR_SESSION_BAD_REQUEST', `${name} must be a non-negative number of ms`);
  }
  return ms;
}

function isTargetPdu(pdu: Pdu): pdu is TargetPdu {
  switch (pdu.kind) {
    case 'nop-in':
    case 'scsi-response':
    case 'task-management-response':
    case 'login-response':
    case 'text-response':
    case 'scsi-data-in':
    case 'logout-response':
    case 'r2t':
    case 'async-message':
    case 'reject':
      return true;
    default:
      return false;
  }
}

/** The initiator's session state machine (one connection, ERL 0). */
export class InitiatorSession {
  readonly #transport: TransportKind;
  readonly #cid: number;
  readonly #negotiation: NegotiationConfig | undefined;
  readonly #nopIntervalMs: number;
  readonly #nopTimeoutMs: number;
  readonly #gapTimeoutMs: number;
  readonly #logoutTimeoutMs: number;
  readonly #recoveryEnabled: boolean;
  readonly #recoveryTimeoutMs: number | undefined;
  readonly #minReconnectDelayMs: number;
  readonly #textLimits: TextExchangeLimits;

  #state: InitiatorSessionState = 'full-feature';
  #params: NegotiatedParams;
  #tsih: number;
  #window: CommandWindow;
  #statSN: StatSNTracker;
  readonly #itts = new IttAllocator();
  readonly #owners = new Map<number, Owner>();
  readonly #tasks = new Map<RequestId, Task>();
  readonly #tmfs = new Map<RequestId, Tmf>();
  readonly #pings = new Map<RequestId, Ping>();
  readonly #texts = new Map<RequestId, Text>();
  #logout: Logout | undefined;
  #queue: QueueItem[] = [];
  #sendOrder = 0;
  #internalId = -1;
  #keepalive: Ping | undefined;
  #gapTimerArmed = false;
  #reconnectAttempts = 0;
  /** Time2Wait/Time2Retain announced by the target for the coming recovery (Async event 2/3). */
  #announcedTimes: { time2Wait: number; time2Retain: number } | undefined;
  #out: InitiatorSessionAction[] = [];
  readonly #uninitialisedReadBuffers: boolean;
  /** Small read buffers come from slabs: one zero-filled ArrayBuffer per 4 KiB read was a GC cost per command. */
  readonly #readSlab = new BufferSlab(READ_SLAB_BYTES, READ_SLAB_PIECE);

  /** Starts in full feature phase with the numbers the login ended with. */
  constructor(config: InitiatorSessionConfig) {
    const { login } = config;
    const options = config.options ?? {};
    this.#transport = config.transport;
    this.#cid = config.cid ?? 0;
    this.#uninitialisedReadBuffers = config.uninitialisedReadBuffers ?? false;
    this.#negotiation = config.negotiation;
    this.#nopIntervalMs = checkMs('nopIntervalMs', options.nopIntervalMs, 0);
    this.#nopTimeoutMs = checkMs('nopTimeoutMs', options.nopTimeoutMs, 5000);
    this.#gapTimeoutMs = checkMs('statSNGapTimeoutMs', options.statSNGapTimeoutMs, 2000);
    this.#logoutTimeoutMs = checkMs('logoutTimeoutMs', options.logoutTimeoutMs, 10_000);
    this.#recoveryEnabled = (options.recovery ?? true) && login.params.sessionType === 'Normal';
    this.#recoveryTimeoutMs =
      options.recoveryTimeoutMs === undefined ? undefined : checkMs('recoveryTimeoutMs', options.recoveryTimeoutMs, 0);
    this.#minReconnectDelayMs = checkMs('minReconnectDelayMs', options.minReconnectDelayMs, 1000);
    this.#textLimits = options.text ?? {};
    this.#params = login.params;
    this.#tsih = login.tsih;
    this.#window = new CommandWindow(login.cmdSN, login.expCmdSN, login.maxCmdSN);
    this.#statSN = new StatSNTracker((login.statSN + 1) >>> 0);
  }

  // ------------------------------------------------------------------------------------------------ views

  /** Where the session stands. */
  get state(): InitiatorSessionState {
    return this.#state;
  }

  /** The negotiated values in force. */
  get params(): NegotiatedParams {
    return this.#params;
  }

  /** The session's TSIH (changes when recovery reinstates the session). */
  get tsih(): number {
    return this.#tsih;
  }

  /** The CmdSN the next non-immediate PDU takes. */
  get cmdSN(): number {
    return this.#window.cmdSN;
  }

  /** ExpCmdSN as the target last said. */
  get expCmdSN(): number {
    return this.#window.expCmdSN;
  }

  /** MaxCmdSN as the target last said. */
  get maxCmdSN(): number {
    return this.#window.maxCmdSN;
  }

  /** The ExpStatSN our PDUs carry. */
  get expStatSN(): number {
    return this.#statSN.expStatSN;
  }

  /** Commands waiting for the window (or for recovery). */
  get queuedCommands(): number {
    let n = 0;
    for (const item of this.#queue) if (item.kind === 'task') n++;
    return n;
  }

  /** Commands not yet answered (queued or sent). */
  get liveCommands(): number {
    return this.#tasks.size;
  }

  /** True while the request is outstanding. */
  isLive(id: RequestId): boolean {
    return (
      this.#tasks.has(id) || this.#tmfs.has(id) || this.#pings.has(id) || this.#texts.has(id) || this.#logout?.id === id
    );
  }

  // ---------------------------------------------------------------------------------------------- events

  /** Arms the keepalive timer, if any. Call once, after the driver is ready for actions. */
  start(): InitiatorSessionAction[] {
    return this.#event(() => {
      this.#armKeepalive();
    });
  }

  /** Submits a SCSI command; it is sent when the window allows, in submission order. */
  submitCommand(id: RequestId, request: CommandRequest): InitiatorSessionAction[] {
    return this.#event(() => {
      if (!this.#acceptNew(id, true)) return;
      const readLength = request.readLength ?? 0;
      const writeData = request.writeData ?? [];
      const writeLength = totalLength(writeData);
      const bad = (why: string): void => {
        this.#fail(id, new InitiatorSessionError('ERR_SESSION_BAD_REQUEST', `${describeCommand(request)}: ${why}`));
      };
      if (!Number.isSafeInteger(readLength) || readLength < 0 || readLength > 0xffffffff) {
        bad(`read length ${readLength} is not a 32-bit length`);
        return;
      }
      if (writeLength > 0xffffffff) {
        bad(`write length ${writeLength} does not fit a 32-bit EDTL`);
        return;
      }
      if (request.cdb.length === 0 || request.cdb.length > 260) {
        bad('a CDB is 1 to 260 bytes');
        return;
      }
      const task: Task = {
        id,
        request,
        readLength,
        writeData,
        writeLength,
        itt: this.#itts.allocate(),
        state: 'queued',
        cmdSN: 0,
        sendOrder: 0,
        abortRequested: false,
        unitAttentionRetries: 0,
        readBuffer: undefined,
      };
      this.#tasks.set(id, task);
      this.#owners.set(task.itt, { kind: 'task', id });
      this.#queue.push({ kind: 'task', id });
      this.#pump();
    });
  }

  /**
   * The caller no longer wants a command (e.g. it unsubscribed): a queued one is dropped, a sent one is aborted
   * with ABORT TASK. The command's own completion is then of no interest to anyone.
   */
  abortTask(id: RequestId): InitiatorSessionAction[] {
    return this.#event(() => {
      const task = this.#tasks.get(id);
      if (task === undefined || task.abortRequested) return;
      if (task.state === 'queued') {
        this.#dropQueued(task, this.#abortedError(task, 'it was cancelled before it was sent'));
        return;
      }
      if (this.#state !== 'full-feature' && this.#state !== 'logging-out') return;
      this.#sendTmf(this.#nextInternalId(), TaskManagementFunction.AbortTask, task.request.lun, task);
    });
  }

  /** Sends a task management request (RFC 7143 §11.5). */
  taskManagement(id: RequestId, request: TaskManagementRequest): InitiatorSessionAction[] {
    return this.#event(() => {
      if (!this.#acceptNew(id, false)) return;
      const fn = request.function;
      if (fn === TaskManagementFunction.TaskReassign) {
        this.#fail(
          id,
          new InitiatorSessionError('ERR_SESSION_BAD_REQUEST', 'TASK REASSIGN needs ErrorRecoveryLevel 2'),
        );
        return;
      }
      if (!Number.isInteger(fn) || fn < 1 || fn > 0x7f) {
        this.#fail(id, new InitiatorSessionError('ERR_SESSION_BAD_REQUEST', `TMF function ${fn} is not 1..127`));
        return;
      }
      if (fn === TaskManagementFunction.AbortTask || fn === TaskManagementFunction.QueryTask) {
        const ref = request.referencedTask;
        const task = ref === undefined ? undefined : this.#tasks.get(ref);
        if (ref === undefined) {
          this.#fail(id, new InitiatorSessionError('ERR_SESSION_BAD_REQUEST', 'ABORT/QUERY TASK needs a task'));
          return;
        }
        if (task === undefined) {
          // Already answered (or never ours): nothing is left to abort.
          this.#complete(id, { kind: 'task-management', response: TaskManagementResponse.TaskDoesNotExist });
          return;
        }
        if (task.state === 'queued') {
          if (fn === TaskManagementFunction.AbortTask) {
            this.#dropQueued(task, this.#abortedError(task, 'ABORT TASK reached it before it was sent'));
          }
          this.#complete(id, { kind: 'task-management', response: TaskManagementResponse.FunctionComplete });
          return;
        }
        if (this.#state === 'recovering') {
          this.#failNoConnection(id, 'task management');
          return;
        }
        this.#sendTmf(id, fn, task.request.lun, task);
        return;
      }
      if (this.#state === 'recovering') {
        this.#failNoConnection(id, 'task management');
        return;
      }
      this.#sendTmf(id, fn, request.lun ?? 0n, undefined);
    });
  }

  /** Sends a NOP-Out ping; the echoed data completes it. */
  ping(id: RequestId, data: Buffer = Buffer.alloc(0)): InitiatorSessionAction[] {
    return this.#event(() => {
      if (!this.#acceptNew(id, false)) return;
      if (this.#state === 'recovering') {
        this.#failNoConnection(id, 'a ping');
        return;
      }
      if (data.length > this.#params.maxRecvDataSegmentLength.target) {
        this.#fail(
          id,
          new InitiatorSessionError(
            'ERR_SESSION_BAD_REQUEST',
            `ping data exceeds the target's MaxRecvDataSegmentLength`,
          ),
        );
        return;
      }
      this.#sendPing({ id, itt: this.#itts.allocate(), keepalive: false }, data);
    });
  }

  /** Runs a text exchange (e.g. SendTargets); the target's pairs complete it. */
  text(
    id: RequestId,
    pairs: readonly TextPair[],
    options: { allowDuplicateKeys?: boolean } = {},
  ): InitiatorSessionAction[] {
    return this.#event(() => {
      if (!this.#acceptNew(id, false)) return;
      if (this.#state === 'recovering') {
        this.#failNoConnection(id, 'a text exchange');
        return;
      }
      this.#startText(id, pairs, options.allowDuplicateKeys ?? false, undefined);
    });
  }

  /** Logs out (close the session by default); queued commands are sent first. */
  logout(id: RequestId, reason: number = LogoutReason.CloseSession): InitiatorSessionAction[] {
    return this.#event(() => {
      this.#startLogout(id, reason);
    });
  }

  /** The caller no longer waits for a ping, TMF or text exchange (commands: use {@link abortTask}). */
  forget(id: RequestId): InitiatorSessionAction[] {
    return this.#event(() => {
      const ping = this.#pings.get(id);
      if (ping !== undefined) {
        this.#pings.delete(id);
        this.#releaseItt(ping.itt);
      }
      // A TMF or text exchange runs to its end (the target holds state for it); its completion is dropped.
    });
  }

  /** Takes one PDU from the connection. */
  receive(pdu: Pdu): InitiatorSessionAction[] {
    return this.#event(() => {
      if (this.#state === 'recovering' || this.#state === 'logged-out' || this.#state === 'failed') return;
      if (!isTargetPdu(pdu)) {
        this.#connectionFailed(
          new InitiatorSessionError('ERR_SESSION_PROTOCOL', `the target sent an initiator PDU (${pdu.kind})`),
        );
        return;
      }
      if (pdu.kind === 'login-response') {
        this.#connectionFailed(
          new InitiatorSessionError('ERR_SESSION_PROTOCOL', 'the target sent a Login Response in full feature phase'),
        );
        return;
      }
      if (pdu.kind === 'scsi-data-in' || pdu.kind === 'r2t') {
        // The transport consumes these; one reaching us carries nothing the session can use.
        this.#emit({ kind: 'unexpected-pdu', pduKind: pdu.kind, itt: pdu.itt });
        return;
      }
      this.#updateWindow(pdu.expCmdSN, pdu.maxCmdSN);
      if (STATUS_KINDS.has(pdu.kind) || (pdu.kind === 'nop-in' && pdu.itt !== RESERVED_TAG)) {
        if (!this.#acceptStatSN(pdu.statSN)) return;
      }
      switch (pdu.kind) {
        case 'scsi-response':
          this.#onScsiResponse(pdu);
          break;
        case 'task-management-response':
          this.#onTmfResponse(pdu);
          break;
        case 'nop-in':
          this.#onNopIn(pdu);
          break;
        case 'text-response':
          this.#onTextResponse(pdu);
          break;
        case 'logout-response':
          this.#onLogoutResponse(pdu);
          break;
        case 'async-message':
          this.#onAsyncMessage(pdu);
          break;
        case 'reject':
          this.#onReject(pdu);
          break;
      }
      this.#pump();
    });
  }

  /** A timer armed by an `arm-timer` action fired. */
  timerFired(timer: SessionTimer): InitiatorSessionAction[] {
    return this.#event(() => {
      switch (timer) {
        case 'nop-interval':
          this.#sendKeepalive();
          break;
        case 'nop-timeout':
          if (this.#keepalive !== undefined) {
            this.#connectionFailed(
              new InitiatorSessionError(
                'ERR_SESSION_NOP_TIMEOUT',
                `the target did not answer a keepalive NOP-Out within ${this.#nopTimeoutMs} ms`,
              ),
            );
          }
          break;
        case 'statsn-gap':
          this.#gapTimerArmed = false;
          if (this.#statSN.hasGap) {
            this.#connectionFailed(
              new InitiatorSessionError(
                'ERR_SESSION_STATSN_GAP',
                `StatSN ${this.#statSN.expStatSN} did not arrive within ${this.#gapTimeoutMs} ms: a status was lost`,
              ),
            );
          }
          break;
        case 'time2wait':
          if (this.#state === 'recovering') {
            this.#reconnectAttempts += 1;
            this.#emit({ kind: 'reconnecting', attempt: this.#reconnectAttempts });
            this.#out.push({ type: 'reconnect', attempt: this.#reconnectAttempts, cmdSN: this.#window.cmdSN });
          }
          break;
        case 'time2retain':
          if (this.#state === 'recovering') {
            const seconds = this.#recoveryTimes();
            this.#end(
              'failed',
              new InitiatorSessionError(
                'ERR_SESSION_RECOVERY_TIMEOUT',
                `the session was not reinstated within ${this.#recoveryDeadlineMs(seconds)} ms ` +
                  `(DefaultTime2Wait ${seconds.time2Wait} s + DefaultTime2Retain ${seconds.time2Retain} s)`,
              ),
            );
          }
          break;
        case 'logout-timeout':
          if (this.#state === 'logging-out') {
            const logout = this.#logout;
            const error = new InitiatorSessionError(
              'ERR_SESSION_LOGOUT_TIMEOUT',
              `the target did not answer the Logout Request within ${this.#logoutTimeoutMs} ms; the connection was closed`,
            );
            if (logout !== undefined) this.#fail(logout.id, error);
            this.#end('logged-out', error);
          }
          break;
      }
    });
  }

  /** The connection failed or closed under us (transport error, EOF). */
  connectionLost(error: Error): InitiatorSessionAction[] {
    return this.#event(() => {
      this.#connectionFailed(error);
    });
  }

  /** A `reconnect` action succeeded: the session was reinstated by this login. */
  reconnected(result: InitiatorLoginResult): InitiatorSessionAction[] {
    return this.#event(() => {
      if (this.#state !== 'recovering') {
        // Too late (recovery gave up, or the caller logged out): this connection is not wanted.
        this.#out.push({ type: 'close-connection', reason: undefined });
        return;
      }
      this.#params = result.params;
      this.#tsih = result.tsih;
      this.#window = new CommandWindow(result.cmdSN, result.expCmdSN, result.maxCmdSN);
      this.#statSN = new StatSNTracker((result.statSN + 1) >>> 0);
      this.#announcedTimes = undefined;
      this.#cancel('time2wait');
      this.#cancel('time2retain');
      this.#setState('full-feature', undefined);
      this.#emit({ kind: 'reconnected', tsih: result.tsih, reissued: this.queuedCommands });
      this.#armKeepalive();
      this.#pump();
    });
  }

  /** A `reconnect` action failed; `retryable` when another attempt may succeed (e.g. refused connection, class 3). */
  reconnectFailed(error: Error, retryable: boolean): InitiatorSessionAction[] {
    return this.#event(() => {
      if (this.#state !== 'recovering') return;
      if (!retryable) {
        this.#end(
          'failed',
          new InitiatorSessionError(
            'ERR_SESSION_RECOVERY_FAILED',
            `session recovery failed: ${error.message} (retrying cannot help)`,
            { cause: error },
          ),
        );
        return;
      }
      const wait = Math.max(this.#recoveryTimes().time2Wait * 1000, this.#minReconnectDelayMs);
      this.#arm('time2wait', wait);
    });
  }

  // ----------------------------------------------------------------------------------------- internals

  #event(run: () => void): InitiatorSessionAction[] {
    const outer = this.#out;
    this.#out = [];
    try {
      run();
      return this.#out;
    } finally {
      this.#out = outer;
    }
  }

  #emit(event: SessionEvent): void {
    this.#out.push({ type: 'event', event });
  }

  #arm(timer: SessionTimer, ms: number): void {
    this.#out.push({ type: 'arm-timer', timer, ms });
  }

  #cancel(timer: SessionTimer): void {
    this.#out.push({ type: 'cancel-timer', timer });
  }

  #setState(state: InitiatorSessionState, error: Error | undefined): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#out.push({ type: 'state', state, error });
  }

  #complete(id: RequestId, outcome: Extract<InitiatorSessionAction, { type: 'complete' }>['outcome']): void {
    this.#out.push({ type: 'complete', id, outcome });
  }

  #fail(id: RequestId, error: Error): void {
    this.#out.push({ type: 'fail', id, error });
  }

  #nextInternalId(): RequestId {
    const id = this.#internalId;
    this.#internalId = id <= -0x7fffffff ? -1 : id - 1;
    return id;
  }

  #releaseItt(itt: number): void {
    this.#itts.release(itt);
    this.#owners.delete(itt);
  }

  /** Whether a new request may start; fails it when not. */
  #acceptNew(id: RequestId, command: boolean): boolean {
    if (!Number.isSafeInteger(id) || this.isLive(id)) {
      this.#fail(id, new InitiatorSessionError('ERR_SESSION_BAD_REQUEST', `request id ${id} is invalid or in use`));
      return false;
    }
    switch (this.#state) {
      case 'full-feature':
        return true;
      case 'recovering':
        // Commands wait for the reinstated session; other requests are refused by their callers.
        return true;
      case 'logging-out':
        this.#fail(
          id,
          new InitiatorSessionError(
            'ERR_SESSION_LOGGED_OUT',
            `the session is logging out: no new ${command ? 'commands' : 'requests'}`,
          ),
        );
        return false;
      default:
        this.#fail(
          id,
          new InitiatorSessionError(
            'ERR_SESSION_CLOSED',
            `the session has ${this.#state === 'failed' ? 'failed' : 'logged out'}`,
          ),
        );
        return false;
    }
  }

  #failNoConnection(id: RequestId, what: string): void {
    this.#fail(
      id,
      new InitiatorSessionError(
        'ERR_SESSION_CONNECTION_LOST',
        `${what} needs a connection, and the session is recovering`,
      ),
    );
  }

  #abortedError(task: Task, why: string): InitiatorSessionError {
    return new InitiatorSessionError(
      'ERR_SESSION_TASK_ABORTED',
      `${describeCommand(task.request)} was aborted: ${why}`,
    );
  }

  /** Removes a task that was never (or is no longer) on the wire. */
  #dropQueued(task: Task, error: Error): void {
    this.#queue = this.#queue.filter((item) => item.kind !== 'task' || item.id !== task.id);
    this.#tasks.delete(task.id);
    this.#releaseItt(task.itt);
    this.#fail(task.id, error);
  }

  /** Ends a task that was sent: it leaves the table and the transport forgets it. */
  #finishSent(task: Task): void {
    this.#tasks.delete(task.id);
    this.#releaseItt(task.itt);
    this.#out.push({ type: 'task-done', itt: task.itt });
  }

  // -------------------------------------------------------------------------------------------- sending

  /** Sends what the window allows, in order. */
  #pump(): void {
    if (this.#state !== 'full-feature' && this.#state !== 'logging-out') return;
    while (this.#queue.length > 0) {
      const item = this.#queue[0] as QueueItem;
      if (item.kind === 'logout') {
        this.#queue.shift();
        // Everything before it has gone; a closed window must not hold the logout back.
        this.#sendLogout(!this.#window.open);
        continue;
      }
      if (!this.#window.open) return;
      this.#queue.shift();
      const task = this.#tasks.get(item.id);
      if (task !== undefined) this.#sendCommand(task);
    }
  }

  /** A read buffer: uninitialised when the transport zeroes what it does not place, else zero-filled. */
  #readBuffer(length: number): Buffer {
    if (this.#uninitialisedReadBuffers) return this.#readSlab.uninitialised(length);
    return length <= READ_SLAB_PIECE ? this.#readSlab.zeroed(length) : Buffer.alloc(length);
  }

  #sendCommand(task: Task): void {
    const lengths =
      task.writeLength > 0
        ? unsolicitedLengths(this.#params, task.writeLength)
        : { immediateLength: 0, unsolicitedDataOutLength: 0 };
    task.state = 'sent';
    task.cmdSN = this.#window.take();
    task.sendOrder = this.#sendOrder++;
    if (task.readLength > 0) task.readBuffer ??= this.#readBuffer(task.readLength);
    const bidirectional = task.readLength > 0 && task.writeLength > 0;
    const pdu: ScsiCommandPdu = {
      kind: 'scsi-command',
      immediate: false,
      final: commandFinalBit(lengths),
      read: task.readLength > 0,
      write: task.writeLength > 0,
      attribute: task.request.attribute ?? TaskAttribute.Simple,
      lun: task.request.lun,
      itt: task.itt,
      expectedDataTransferLength: task.writeLength > 0 ? task.writeLength : task.readLength,
      cmdSN: task.cmdSN,
      expStatSN: this.#statSN.expStatSN,
      cdb: task.request.cdb,
      ...(bidirectional ? { bidirectionalReadLength: task.readLength } : {}),
      data: lengths.immediateLength > 0 ? sliceChunks(task.writeData, 0, lengths.immediateLength) : [],
    };
    this.#out.push({
      type: 'send-command',
      pdu,
      buffers: {
        ...(task.readBuffer === undefined ? {} : { readBuffer: task.readBuffer }),
        ...(task.writeLength > 0 ? { writeData: task.writeData } : {}),
        immediateLength: lengths.immediateLength,
        unsolicitedDataOutLength: lengths.unsolicitedDataOutLength,
      },
    });
  }

  #sendTmf(id: RequestId, fn: number, lun: bigint, referenced: Task | undefined): void {
    let affected: RequestId[] = [];
    if (referenced !== undefined) {
      if (fn === TaskManagementFunction.AbortTask) {
        referenced.abortRequested = true;
        affected = [referenced.id];
      }
    } else if (ABORTING_FUNCTIONS.has(fn)) {
      const wholeTarget =
        fn === TaskManagementFunction.TargetWarmReset || fn === TaskManagementFunction.TargetColdReset;
      for (const task of this.#tasks.values()) {
        if (task.state === 'sent' && (wholeTarget || task.request.lun === lun)) affected.push(task.id);
      }
    }
    const itt = this.#itts.allocate();
    this.#owners.set(itt, { kind: 'tmf', id });
    this.#tmfs.set(id, { id, itt, function: fn, affected });
    const cmdSN = this.#window.cmdSN;
    this.#out.push({
      type: 'send',
      pdu: {
        kind: 'task-management-request',
        immediate: true,
        function: fn,
        lun,
        itt,
        referencedTaskTag: referenced?.itt ?? RESERVED_TAG,
        cmdSN,
        expStatSN: this.#statSN.expStatSN,
        refCmdSN: referenced?.cmdSN ?? cmdSN,
        expDataSN: 0,
      },
    });
  }

  #sendPing(ping: Ping, data: Buffer): void {
    this.#owners.set(ping.itt, { kind: 'ping', id: ping.id });
    this.#pings.set(ping.id, ping);
    this.#out.push({
      type: 'send',
      pdu: {
        kind: 'nop-out',
        immediate: true,
        lun: 0n,
        itt: ping.itt,
        ttt: RESERVED_TAG,
        cmdSN: this.#window.cmdSN,
        expStatSN: this.#statSN.expStatSN,
        data: data.length > 0 ? [data] : [],
      },
    });
  }

  #armKeepalive(): void {
    if (this.#nopIntervalMs > 0 && this.#state === 'full-feature') this.#arm('nop-interval', this.#nopIntervalMs);
  }

  #sendKeepalive(): void {
    if (this.#state !== 'full-feature' && this.#state !== 'logging-out') return;
    if (this.#keepalive !== undefined) return;
    const ping: Ping = { id: this.#nextInternalId(), itt: this.#itts.allocate(), keepalive: true };
    this.#keepalive = ping;
    this.#sendPing(ping, Buffer.alloc(0));
    this.#arm('nop-timeout', this.#nopTimeoutMs);
  }

  #startText(
    id: RequestId,
    pairs: readonly TextPair[],
    allowDuplicateKeys: boolean,
    negotiator: TextNegotiator | undefined,
  ): void {
    let exchange: TextExchange;
    try {
      exchange = new TextExchange({
        ...this.#textLimits,
        pairs,
        maxSendSegmentLength: this.#params.maxRecvDataSegmentLength.target,
        allowDuplicateKeys,
        ...(negotiator === undefined ? {} : { negotiator }),
      });
    } catch (err) {
      if (!(err instanceof TextError)) throw err;
      this.#fail(
        id,
        new InitiatorSessionError('ERR_SESSION_BAD_REQUEST', `cannot send that text: ${err.message}`, { cause: err }),
      );
      return;
    }
    const itt = this.#itts.allocate();
    this.#owners.set(itt, { kind: 'text', id });
    this.#texts.set(id, { id, itt, exchange, negotiator });
    this.#sendTextPiece(itt, exchange.first(), RESERVED_TAG);
  }

  #sendTextPiece(itt: number, piece: TextPiece, ttt: number): void {
    this.#out.push({
      type: 'send',
      pdu: {
        kind: 'text-request',
        immediate: true,
        final: !piece.continues,
        continue: piece.continues,
        lun: 0n,
        itt,
        ttt,
        cmdSN: this.#window.cmdSN,
        expStatSN: this.#statSN.expStatSN,
        data: piece.data,
      },
    });
  }

  #startLogout(id: RequestId, reason: number): void {
    if (!Number.isSafeInteger(id) || this.isLive(id)) {
      this.#fail(id, new InitiatorSessionError('ERR_SESSION_BAD_REQUEST', `request id ${id} is invalid or in use`));
      return;
    }
    switch (this.#state) {
      case 'logging-out':
        this.#fail(id, new InitiatorSessionError('ERR_SESSION_BAD_REQUEST', 'a logout is already in progress'));
        return;
      case 'logged-out':
      case 'failed':
        this.#fail(
          id,
          new InitiatorSessionError(
            'ERR_SESSION_CLOSED',
            `the session has ${this.#state === 'failed' ? 'failed' : 'logged out'}`,
          ),
        );
        return;
      case 'recovering': {
        // No connection to log out on: give up recovery; the target forgets the old session after Time2Retain.
        const { time2Wait, time2Retain } = this.#recoveryTimes();
        this.#complete(id, { kind: 'logout', result: { time2Wait, time2Retain } });
        this.#end(
          'logged-out',
          new InitiatorSessionError('ERR_SESSION_LOGGED_OUT', 'the session was logged out while recovering'),
        );
        return;
      }
      case 'full-feature':
        break;
    }
    if (!Number.isInteger(reason) || reason < 0 || reason > 0x7f) {
      this.#fail(id, new InitiatorSessionError('ERR_SESSION_BAD_REQUEST', `logout reason ${reason} is not 0..127`));
      return;
    }
    const itt = this.#itts.allocate();
    this.#owners.set(itt, { kind: 'logout', id });
    this.#logout = { id, itt, reason, sent: false };
    this.#setState('logging-out', undefined);
    this.#cancel('nop-interval');
    this.#arm('logout-timeout', this.#logoutTimeoutMs);
    this.#queue.push({ kind: 'logout' });
    this.#pump();
  }

  #sendLogout(immediate: boolean): void {
    const logout = this.#logout;
    if (logout === undefined || logout.sent) return;
    logout.sent = true;
    this.#out.push({
      type: 'send',
      pdu: {
        kind: 'logout-request',
        immediate,
        reason: logout.reason,
        itt: logout.itt,
        cid: this.#cid,
        cmdSN: immediate ? this.#window.cmdSN : this.#window.take(),
        expStatSN: this.#statSN.expStatSN,
      },
    });
  }

  // ------------------------------------------------------------------------------------------ receiving

  #updateWindow(expCmdSN: number, maxCmdSN: number): void {
    if (this.#window.update(expCmdSN, maxCmdSN) === 'ignored') {
      this.#emit({ kind: 'window-ignored', expCmdSN, maxCmdSN });
    }
  }

  /** Records a StatSN; false when the connection was declared failed. */
  #acceptStatSN(statSN: number): boolean {
    const expected = this.#statSN.expStatSN;
    const verdict = this.#statSN.accept(statSN);
    if (verdict === 'gap') this.#emit({ kind: 'statsn-gap', expStatSN: expected, statSN });
    if (this.#statSN.gapOverflow) {
      this.#connectionFailed(
        new InitiatorSessionError(
          'ERR_SESSION_STATSN_GAP',
          `StatSN ${this.#statSN.expStatSN} is missing while many later statuses arrived: a status was lost`,
        ),
      );
      return false;
    }
    if (this.#statSN.hasGap && !this.#gapTimerArmed) {
      this.#gapTimerArmed = true;
      this.#arm('statsn-gap', this.#gapTimeoutMs);
    } else if (!this.#statSN.hasGap && this.#gapTimerArmed) {
      this.#gapTimerArmed = false;
      this.#cancel('statsn-gap');
    }
    return true;
  }

  #owner(itt: number, kind: Owner['kind']): RequestId | undefined {
    const owner = this.#owners.get(itt);
    return owner?.kind === kind ? owner.id : undefined;
  }

  #onScsiResponse(pdu: ScsiResponsePdu): void {
    const id = this.#owner(pdu.itt, 'task');
    const task = id === undefined ? undefined : this.#tasks.get(id);
    if (task?.state !== 'sent') {
      // E.g. a status that crossed our ABORT TASK, for a task already failed.
      this.#emit({ kind: 'unexpected-pdu', pduKind: pdu.kind, itt: pdu.itt });
      return;
    }
    const outcome = commandOutcome(
      {
        lun: task.request.lun,
        cdb: task.request.cdb,
        readLength: task.readLength,
        writeLength: task.writeLength,
        readBuffer: task.readBuffer,
      },
      pdu,
    );
    if (!outcome.ok && this.#retryAfterReinstatement(task, outcome.error)) return;
    this.#finishSent(task);
    if (outcome.ok) this.#complete(task.id, { kind: 'command', result: outcome.result });
    else this.#fail(task.id, outcome.error);
  }

  /**
   * A reissued command that meets UNIT ATTENTION was not executed: the attention (typically I_T NEXUS LOSS
   * OCCURRED) is the target's report of our own session reinstatement. Such a command is sent again, a bounded
   * number of times, ahead of everything queued; the attention is reported as an event.
   */
  #retryAfterReinstatement(task: Task, error: Error): boolean {
    if (!(error instanceof ScsiStatusError) || error.sense?.key !== SenseKey.UnitAttention) return false;
    if (task.unitAttentionRetries <= 0 || task.abortRequested) return false;
    task.unitAttentionRetries -= 1;
    task.state = 'queued';
    this.#out.push({ type: 'task-done', itt: task.itt });
    this.#queue.unshift({ kind: 'task', id: task.id });
    const sense = error.sense;
    this.#emit({ kind: 'reissue-unit-attention', lun: task.request.lun, asc: sense.asc, ascq: sense.ascq });
    return true;
  }

  #onTmfResponse(pdu: TaskManagementResponsePdu): void {
    const id = this.#owner(pdu.itt, 'tmf');
    const tmf = id === undefined ? undefined : this.#tmfs.get(id);
    if (tmf === undefined) {
      this.#emit({ kind: 'unexpected-pdu', pduKind: pdu.kind, itt: pdu.itt });
      return;
    }
    this.#tmfs.delete(tmf.id);
    this.#releaseItt(tmf.itt);
    const abortTask = tmf.function === TaskManagementFunction.AbortTask;
    const done =
      pdu.response === TaskManagementResponse.FunctionComplete ||
      pdu.response === TaskManagementResponse.FunctionSucceeded ||
      (abortTask && pdu.response === TaskManagementResponse.TaskDoesNotExist);
    if (done && ABORTING_FUNCTIONS.has(tmf.function)) {
      // The target answers affected tasks before the TMF (RFC 7143 §4.2.3.4); those still here got no status.
      for (const taskId of tmf.affected) {
        const task = this.#tasks.get(taskId);
        if (task?.state !== 'sent') continue;
        this.#finishSent(task);
        this.#fail(task.id, this.#abortedError(task, `task management function ${tmf.function} ended it`));
      }
    }
    if (done || (!ABORTING_FUNCTIONS.has(tmf.function) && pdu.response !== TaskManagementResponse.FunctionRejected)) {
      this.#complete(tmf.id, { kind: 'task-management', response: pdu.response });
      return;
    }
    if (abortTask) {
      for (const taskId of tmf.affected) {
        const task = this.#tasks.get(taskId);
        if (task !== undefined) task.abortRequested = false;
      }
    }
    this.#fail(
      tmf.id,
      new InitiatorSessionError(
        'ERR_SESSION_TMF_FAILED',
        `task management function ${tmf.function} failed: the target answered ${tmfResponseName(pdu.response)}`,
        { tmfResponse: pdu.response },
      ),
    );
  }

  #onNopIn(pdu: NopInPdu): void {
    if (pdu.itt !== RESERVED_TAG) {
      const id = this.#owner(pdu.itt, 'ping');
      const ping = id === undefined ? undefined : this.#pings.get(id);
      if (ping === undefined) {
        this.#emit({ kind: 'unexpected-pdu', pduKind: pdu.kind, itt: pdu.itt });
        return;
      }
      this.#pings.delete(ping.id);
      this.#releaseItt(ping.itt);
      if (ping.keepalive) {
        this.#keepalive = undefined;
        this.#cancel('nop-timeout');
        this.#armKeepalive();
        return;
      }
      this.#complete(ping.id, { kind: 'ping', data: Buffer.concat(pdu.data) });
      return;
    }
    if (pdu.ttt === RESERVED_TAG) return; // an unsolicited window/StatSN update
    // The target pings us: answer with its TTT and LUN, echoing its data (bounded by what it may receive).
    const data = sliceChunks(pdu.data, 0, this.#params.maxRecvDataSegmentLength.target);
    this.#out.push({
      type: 'send',
      pdu: {
        kind: 'nop-out',
        immediate: true,
        lun: pdu.lun,
        itt: RESERVED_TAG,
        ttt: pdu.ttt,
        cmdSN: this.#window.cmdSN,
        expStatSN: this.#statSN.expStatSN,
        data,
      },
    });
    this.#emit({ kind: 'target-ping-answered', ttt: pdu.ttt });
  }

  #onTextResponse(pdu: TextResponsePdu): void {
    const id = this.#owner(pdu.itt, 'text');
    const text = id === undefined ? undefined : this.#texts.get(id);
    if (text === undefined) {
      this.#emit({ kind: 'unexpected-pdu', pduKind: pdu.kind, itt: pdu.itt });
      return;
    }
    const step = text.exchange.receive(pdu);
    if (step.type === 'send') {
      this.#sendTextPiece(text.itt, step.piece, step.ttt);
      return;
    }
    this.#texts.delete(text.id);
    this.#releaseItt(text.itt);
    if (step.type === 'error') {
      this.#fail(text.id, step.error);
      return;
    }
    if (text.negotiator !== undefined) {
      try {
        this.#params = text.negotiator.params();
        this.#emit({ kind: 'renegotiated', params: this.#params });
      } catch (err) {
        if (!(err instanceof TextError)) throw err;
        this.#fail(
          text.id,
          new InitiatorSessionError('ERR_SESSION_PROTOCOL', `renegotiation failed: ${err.message}`, { cause: err }),
        );
        return;
      }
    }
    this.#complete(text.id, { kind: 'text', pairs: step.pairs });
  }

  #onLogoutResponse(pdu: LogoutResponsePdu): void {
    const logout = this.#logout;
    if (logout?.itt !== pdu.itt || !logout.sent) {
      this.#emit({ kind: 'unexpected-pdu', pduKind: pdu.kind, itt: pdu.itt });
      return;
    }
    this.#releaseItt(logout.itt);
    if (pdu.response === LogoutResponse.ClosedSuccessfully) {
      this.#complete(logout.id, { kind: 'logout', result: { time2Wait: pdu.time2Wait, time2Retain: pdu.time2Retain } });
      this.#end('logged-out', new InitiatorSessionError('ERR_SESSION_LOGGED_OUT', 'the session logged out'));
      return;
    }
    const names = ['closed successfully', 'CID not found', 'connection recovery not supported', 'cleanup failed'];
    const error = new InitiatorSessionError(
      'ERR_SESSION_LOGOUT_FAILED',
      `the target answered the Logout Request with ${pdu.response} (${names[pdu.response] ?? 'unknown'}); the connection was closed`,
      { logoutResponse: pdu.response },
    );
    this.#fail(logout.id, error);
    this.#end('logged-out', error);
  }

  #onAsyncMessage(pdu: AsyncMessagePdu): void {
    switch (pdu.asyncEvent) {
      case AsyncEvent.ScsiAsyncEvent: {
        const { sense } = senseFromSegment(pdu.data);
        this.#emit({ kind: 'scsi-async-event', lun: pdu.lun, sense });
        return;
      }
      case AsyncEvent.LogoutRequest:
        this.#emit({ kind: 'logout-requested', withinSeconds: pdu.parameter3 });
        if (this.#state === 'full-feature') this.#startLogout(this.#nextInternalId(), LogoutReason.CloseSession);
        return;
      case AsyncEvent.ConnectionDrop:
      case AsyncEvent.AllConnectionsDrop: {
        const allConnections = pdu.asyncEvent === AsyncEvent.AllConnectionsDrop;
        if (!allConnections && pdu.parameter1 !== this.#cid) return; // another connection (we have only one)
        this.#announcedTimes = { time2Wait: pdu.parameter2, time2Retain: pdu.parameter3 };
        this.#emit({
          kind: 'connection-drop-announced',
          allConnections,
          time2Wait: pdu.parameter2,
          time2Retain: pdu.parameter3,
        });
        this.#connectionFailed(
          new InitiatorSessionError(
            'ERR_SESSION_CONNECTION_LOST',
            `the target announced it drops ${allConnections ? 'all connections' : 'the connection'} (Async Message event ${pdu.asyncEvent})`,
          ),
        );
        return;
      }
      case AsyncEvent.NegotiationRequest:
        this.#emit({ kind: 'renegotiation-requested' });
        this.#renegotiate();
        return;
      case AsyncEvent.TaskTermination: {
        let count = 0;
        for (const task of [...this.#tasks.values()]) {
          if (task.state !== 'sent' || task.request.lun !== pdu.lun) continue;
          this.#finishSent(task);
          this.#fail(task.id, this.#abortedError(task, 'the target terminated all tasks of its logical unit'));
          count++;
        }
        this.#emit({ kind: 'tasks-terminated', lun: pdu.lun, count });
        return;
      }
      default:
        this.#emit({ kind: 'vendor-async-event', code: pdu.asyncEvent, data: pdu.data });
    }
  }

  #renegotiate(): void {
    if (this.#state !== 'full-feature') return;
    let negotiator: TextNegotiator;
    try {
      negotiator = new TextNegotiator({
        role: 'initiator',
        transport: this.#transport,
        session: this.#params,
        phase: 'full-feature',
        ...(this.#negotiation === undefined ? {} : { config: this.#negotiation }),
      });
    } catch (err) {
      if (err instanceof TextError) return;
      throw err;
    }
    // An empty Text Request lets the target make its offers in the answer.
    this.#startText(this.#nextInternalId(), [], false, negotiator);
  }

  #onReject(pdu: RejectPdu): void {
    const header = pdu.data.length === 1 ? (pdu.data[0] as Buffer) : Buffer.concat(pdu.data);
    if (header.length < 48) {
      this.#emit({ kind: 'unexpected-pdu', pduKind: pdu.kind, itt: undefined });
      return;
    }
    const opcode = header.readUInt8(0) & 0x3f;
    const itt = header.readUInt32BE(16);
    this.#emit({ kind: 'rejected', reason: pdu.reason, opcode, itt });
    const owner = this.#owners.get(itt);
    if (owner === undefined) return;
    switch (owner.kind) {
      case 'task': {
        const task = this.#tasks.get(owner.id);
        // A rejected Data-Out ends nothing by itself; the command's status will tell.
        if (task?.state !== 'sent' || opcode !== Opcode.ScsiCommand) return;
        this.#finishSent(task);
        this.#fail(task.id, rejectedError(describeCommand(task.request), pdu.reason, opcode));
        return;
      }
      case 'tmf': {
        const tmf = this.#tmfs.get(owner.id);
        if (tmf === undefined) return;
        this.#tmfs.delete(tmf.id);
        this.#releaseItt(tmf.itt);
        for (const taskId of tmf.affected) {
          const task = this.#tasks.get(taskId);
          if (task !== undefined) task.abortRequested = false;
        }
        this.#fail(tmf.id, rejectedError('the task management request', pdu.reason, opcode));
        return;
      }
      case 'ping': {
        const ping = this.#pings.get(owner.id);
        if (ping === undefined) return;
        this.#pings.delete(ping.id);
        this.#releaseItt(ping.itt);
        if (ping.keepalive) {
          // A rejected ping still proves the target is alive.
          this.#keepalive = undefined;
          this.#cancel('nop-timeout');
          this.#armKeepalive();
          return;
        }
        this.#fail(ping.id, rejectedError('the NOP-Out', pdu.reason, opcode));
        return;
      }
      case 'text': {
        const text = this.#texts.get(owner.id);
        if (text === undefined) return;
        this.#texts.delete(text.id);
        this.#releaseItt(text.itt);
        this.#fail(text.id, rejectedError('the Text Request', pdu.reason, opcode));
        return;
      }
      case 'logout': {
        const logout = this.#logout;
        if (logout === undefined) return;
        const error = rejectedError('the Logout Request', pdu.reason, opcode);
        this.#fail(logout.id, error);
        this.#end('logged-out', error);
        return;
      }
    }
  }

  // ------------------------------------------------------------------------------------------ recovery

  #recoveryTimes(): { time2Wait: number; time2Retain: number } {
    return (
      this.#announcedTimes ?? {
        time2Wait: this.#params.defaultTime2Wait,
        time2Retain: this.#params.defaultTime2Retain,
      }
    );
  }

  #recoveryDeadlineMs(times: { time2Wait: number; time2Retain: number }): number {
    return this.#recoveryTimeoutMs ?? (times.time2Wait + times.time2Retain) * 1000;
  }

  /** The connection is unusable: recover (ERL 0) or end the session. */
  #connectionFailed(error: Error): void {
    if (this.#state === 'recovering' || this.#state === 'logged-out' || this.#state === 'failed') return;
    this.#emit({ kind: 'connection-lost', error });
    if (this.#state === 'logging-out') {
      const logout = this.#logout;
      const lost = new InitiatorSessionError(
        'ERR_SESSION_CONNECTION_LOST',
        `the connection failed during logout: ${error.message}`,
        { cause: error },
      );
      if (logout !== undefined) this.#fail(logout.id, lost);
      this.#end('logged-out', lost);
      return;
    }
    const lost =
      error instanceof InitiatorSessionError
        ? error
        : new InitiatorSessionError('ERR_SESSION_CONNECTION_LOST', `the connection failed: ${error.message}`, {
            cause: error,
          });
    if (!this.#recoveryEnabled) {
      this.#end('failed', lost);
      return;
    }
    this.#cancel('nop-interval');
    this.#cancel('nop-timeout');
    if (this.#gapTimerArmed) {
      this.#gapTimerArmed = false;
      this.#cancel('statsn-gap');
    }
    this.#out.push({ type: 'close-connection', reason: error });
    this.#failNonCommands(
      new InitiatorSessionError('ERR_SESSION_CONNECTION_LOST', `the connection failed: ${error.message}`, {
        cause: error,
      }),
    );
    // Tasks without status go back to the queue, ahead of those never sent, in their original order.
    const sent = [...this.#tasks.values()].filter((t) => t.state === 'sent').sort((a, b) => a.sendOrder - b.sendOrder);
    const requeued: QueueItem[] = [];
    for (const task of sent) {
      if (task.abortRequested) {
        this.#tasks.delete(task.id);
        this.#releaseItt(task.itt);
        this.#fail(task.id, this.#abortedError(task, 'the connection failed while it was being aborted'));
        continue;
      }
      task.state = 'queued';
      task.unitAttentionRetries = REISSUE_UNIT_ATTENTION_RETRIES;
      requeued.push({ kind: 'task', id: task.id });
    }
    this.#queue = [...requeued, ...this.#queue];
    this.#setState('recovering', lost);
    this.#reconnectAttempts = 0;
    const times = this.#recoveryTimes();
    this.#arm('time2wait', times.time2Wait * 1000);
    this.#arm('time2retain', this.#recoveryDeadlineMs(times));
  }

  /** Fails pings, TMFs and text exchanges (they cannot be reissued). */
  #failNonCommands(error: Error): void {
    for (const ping of this.#pings.values()) {
      this.#releaseItt(ping.itt);
      if (!ping.keepalive) this.#fail(ping.id, error);
    }
    this.#pings.clear();
    this.#keepalive = undefined;
    for (const tmf of this.#tmfs.values()) {
      this.#releaseItt(tmf.itt);
      this.#fail(tmf.id, error);
    }
    this.#tmfs.clear();
    for (const text of this.#texts.values()) {
      this.#releaseItt(text.itt);
      this.#fail(text.id, error);
    }
    this.#texts.clear();
  }

  /** The session is over: everything outstanding fails with `error`, timers stop, the connection closes. */
  #end(state: 'logged-out' | 'failed', error: Error): void {
    for (const task of this.#tasks.values()) {
      if (task.state === 'sent') this.#out.push({ type: 'task-done', itt: task.itt });
      this.#releaseItt(task.itt);
      this.#fail(task.id, error);
    }
    this.#tasks.clear();
    this.#queue = [];
    this.#failNonCommands(error);
    const logout = this.#logout;
    if (logout !== undefined) this.#releaseItt(logout.itt);
    this.#logout = undefined;
    for (const timer of [
      'nop-interval',
      'nop-timeout',
      'statsn-gap',
      'time2wait',
      'time2retain',
      'logout-timeout',
    ] as const) {
      this.#cancel(timer);
    }
    this.#gapTimerArmed = false;
    this.#out.push({ type: 'close-connection', reason: state === 'failed' ? error : undefined });
    this.#setState(state, error);
  }
}
