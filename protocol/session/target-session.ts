/**
 * The target's session in full feature phase (RFC 7143 §3.2, §4.2, §7, §11), sans-IO: events in (a PDU from a
 * connection, a command the SCSI device finished, data the transport moved, a timer), actions out (send a PDU,
 * execute a command, move data-in, release a task, arm a timer, close a connection).
 *
 * What it does:
 * - the command window: non-immediate PDUs in CmdSN order, early ones held, those outside [ExpCmdSN, MaxCmdSN]
 *   and duplicates silently ignored (§3.2.2.1); immediate PDUs bypass the order; MaxCmdSN never goes back;
 * - StatSN per connection, with the initiator's ExpStatSN acknowledgements and a bound on what it leaves unacked;
 * - a task table keyed by ITT (a live ITT reused gets Reject "task in progress"); SCSI commands go to the driver
 *   (`execute`), data-in comes back as `put-data`, then the SCSI Response with status, sense and residuals;
 * - NOP-Out pings answered, and our own NOP-In keepalive with a timeout;
 * - task management (ABORT TASK with the RefCmdSN rules of §11.5.1, ABORT/CLEAR TASK SET, LUN RESET, TARGET
 *   WARM/COLD RESET, QUERY TASK/TASK SET, I_T NEXUS RESET): aborted tasks send no response, and the TMF response
 *   waits until the tasks it aborted have stopped;
 * - Text (SendTargets in discovery and normal sessions, other keys through the TextNegotiator), Logout (session,
 *   connection; recovery is not supported at ERL 0), Async logout requests with a deadline;
 * - Reject for what may not come: SNACK at ERL 0 (protocol error), a login request, a target opcode (command not
 *   supported), SCSI or task management in a discovery session (protocol error).
 */
import type { PortalAddress, SequenceSource, TargetTaskRef } from '../datamover.js';
import { RESERVED_TAG } from '../pdu/constants.js';
import { encodeHeader } from '../pdu/encode.js';
import { formatIsid } from '../pdu/isid.js';
import { lunToNumber } from '../pdu/lun.js';
import { AsyncEvent, LogoutReason, LogoutResponse } from '../pdu/index.js';
import type {
  LogoutRequestPdu,
  NopOutPdu,
  Pdu,
  ScsiCommandPdu,
  TaskManagementRequestPdu,
  TextRequestPdu,
} from '../pdu/index.js';
import { RejectReason } from '../pdu/reject-reason.js';
import { ScsiServiceResponse } from '../pdu/scsi-response.js';
import { serialLt } from '../pdu/serial.js';
import { TaskManagementFunction, TaskManagementResponse } from '../pdu/task-management.js';
import { cdbTransferLengths } from '../scsi/target/transfer-lengths.js';
import type { DataDirection, ScsiNexus, ScsiResponse } from '../scsi/target/types.js';
import type { TextPair } from '../text/codec.js';
import { TextNegotiator } from '../text/negotiator.js';
import type { NegotiatedParams } from '../text/params.js';
import { dataSegmentLimits } from '../text/params.js';
import { DEFAULT_MAX_TEXT_BYTES } from '../text/assembler.js';
import { formatSendTargetsResponse } from '../text/sendtargets.js';
import { sliceChunks, totalLength } from './data-sequencing-chunks.js';
import { dataPhaseError, refuseDataOutMismatch } from './target-data-out.js';
import { TargetSessionError } from './target-errors.js';
import { NO_RESIDUAL, residualOf, truncatedWriteCdb, type Residual } from './target-residuals.js';
import { StatusSequence } from './target-statsn.js';
import { TextResponder } from './target-text.js';
import type {
  ExecuteRequest,
  TargetConnectionOptions,
  TargetControlPdu,
  TargetResetKind,
  TargetSessionAction,
  TargetSessionEvent,
  TargetSessionOptions,
  TargetSessionTimer,
} from './target-types.js';
import { TargetCommandWindow } from './target-window.js';

const DEFAULT_QUEUE_DEPTH = 32;
const DEFAULT_MAX_IMMEDIATE = 16;
const DEFAULT_MAX_PENDING_TMF = 16;
const DEFAULT_NOP_TIMEOUT_MS = 15_000;

/** A PDU held by the command window, with the connection it came on. */
interface Arrival {
  readonly cid: number;
  readonly pdu: OrderedPdu;
}

/** PDUs that carry a CmdSN and take part in command ordering. */
type OrderedPdu = NopOutPdu | ScsiCommandPdu | TaskManagementRequestPdu | TextRequestPdu | LogoutRequestPdu;

/** A SCSI task from command to status. */
interface Task {
  readonly id: number;
  readonly cid: number;
  readonly itt: number;
  readonly lun: number;
  readonly cmdSN: number;
  readonly immediate: boolean;
  readonly ref: TargetTaskRef;
  readonly read: boolean;
  readonly write: boolean;
  /** EDTL of the read data (the bidirectional read length for a bidirectional command). */
  readonly readLength: number;
  /** EDTL of the write data. */
  readonly writeLength: number;
  /** Data-out bytes the CDB as sent moves. */
  readonly dataOut: number;
  phase: 'executing' | 'sending-data';
  aborted: boolean;
  /** Set while data-in is moving: the status to send once it is out. */
  response: { readonly result: ScsiResponse; readonly readResidual: Residual } | undefined;
}

/** A response that waits for tasks to stop (task management, logout). */
interface Barrier {
  readonly cid: number;
  readonly waitFor: Set<number>;
  readonly then: () => TargetSessionAction[];
}

/** One connection's state. */
interface Connection {
  readonly cid: number;
  readonly local: PortalAddress;
  readonly status: StatusSequence;
  readonly text: TextResponder;
  /** A logout was accepted on (or for) it: it takes no more requests. */
  closing: boolean;
  /** TTT of our unanswered NOP-In ping. */
  pingTtt: number | undefined;
  /** A PDU arrived since the last keepalive check. */
  active: boolean;
}

/** The target side of one iSCSI session. */
export class TargetSession {
  readonly #options: TargetSessionOptions;
  readonly #nexus: ScsiNexus;
  readonly #window: TargetCommandWindow<Arrival>;
  readonly #connections = new Map<number, Connection>();
  readonly #tasks = new Map<number, Task>();
  readonly #byItt = new Map<number, number>();
  readonly #barriers = new Set<Barrier>();
  readonly #maxImmediate: number;
  readonly #maxPendingTmf: number;
  readonly #maxUnacked: number;
  readonly #nopIntervalMs: number;
  readonly #nopTimeoutMs: number;
  #params: NegotiatedParams;
  #nextTaskId = 1;
  #nextTag = 1;
  #running = 0;
  #immediateRunning = 0;
  #pendingTmf = 0;
  #ended = false;

  constructor(options: TargetSessionOptions) {
    this.#options = options;
    this.#params = options.params;
    const depth = options.queueDepth ?? DEFAULT_QUEUE_DEPTH;
    this.#window = new TargetCommandWindow(options.expCmdSN, options.maxCmdSN, depth);
    this.#window.open(0);
    this.#maxImmediate = positive(options.maxImmediateTasks ?? DEFAULT_MAX_IMMEDIATE, 'maxImmediateTasks');
    this.#maxPendingTmf = positive(options.maxPendingTaskManagement ?? DEFAULT_MAX_PENDING_TMF, 'maxPendingTmf');
    this.#maxUnacked = positive(options.maxUnacknowledgedStatus ?? Math.max(1024, 4 * depth), 'maxUnacked');
    this.#nopIntervalMs = nonNegative(options.nopInIntervalMs ?? 0, 'nopInIntervalMs');
    this.#nopTimeoutMs = positive(options.nopInTimeoutMs ?? DEFAULT_NOP_TIMEOUT_MS, 'nopInTimeoutMs');
    const tpgt = options.portalGroupTag.toString(16).padStart(4, '0');
    this.#nexus = {
      initiatorPortName: `${options.initiatorName},i,0x${formatIsid(options.isid)}`,
      targetPortName: `${options.targetName ?? ''},t,0x${tpgt}`,
    };
  }

  /** The session's TSIH. */
  get tsih(): number {
    return this.#options.tsih;
  }

  /** The I_T nexus the SCSI device sees this session as. */
  get nexus(): ScsiNexus {
    return this.#nexus;
  }

  /** The negotiated values (text negotiation in full feature phase may change declared ones). */
  get params(): NegotiatedParams {
    return this.#params;
  }

  /** The next CmdSN expected. */
  get expCmdSN(): number {
    return this.#window.expCmdSN;
  }

  /** The highest CmdSN the initiator may send. */
  get maxCmdSN(): number {
    return this.#window.maxCmdSN;
  }

  /** CIDs of the open connections. */
  get cids(): number[] {
    return [...this.#connections.keys()];
  }

  /** SCSI tasks not yet over (including aborted ones still stopping). */
  get taskCount(): number {
    return this.#tasks.size;
  }

  /** True once every connection closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The numbers a connection's transport writes into its own Data-In and R2T PDUs. */
  sequence(cid: number): SequenceSource {
    return {
      expStatSN: () => 0,
      statSN: () => this.#connections.get(cid)?.status.next ?? 0,
      expCmdSN: () => this.#window.expCmdSN,
      maxCmdSN: () => this.#window.maxCmdSN,
    };
  }

  /** True while a task may still move data (not aborted, not over): the driver checks before `getData`. */
  canMoveData(taskId: number): boolean {
    const task = this.#tasks.get(taskId);
    return task !== undefined && !task.aborted;
  }

  /** A connection enters full feature phase in this session. */
  addConnection(cid: number, options: TargetConnectionOptions): TargetSessionAction[] {
    if (this.#ended) throw new TargetSessionError('ERR_TARGET_SESSION_STATE', 'the session has ended');
    if (this.#connections.has(cid)) {
      throw new TargetSessionError('ERR_TARGET_SESSION_STATE', `connection ${cid} is already in the session`);
    }
    const connection: Connection = {
      cid,
      local: options.local,
      status: new StatusSequence(options.statSN, this.#maxUnacked),
      text: new TextResponder({
        maxTextBytes: this.#options.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES,
        answer: (pairs) => this.#answerText(cid, pairs),
        maxSendDataSegmentLength: () => this.#maxSendSegment(),
        nextTag: () => this.#tag(),
      }),
      closing: false,
      pingTtt: undefined,
      active: false,
    };
    this.#connections.set(cid, connection);
    return this.#nopIntervalMs > 0 ? [{ type: 'arm-timer', cid, timer: 'nop-interval', ms: this.#nopIntervalMs }] : [];
  }

  // ------------------------------------------------------------------------------------------------ events

  /** A PDU arrived on connection `cid`. */
  receive(cid: number, pdu: Pdu): TargetSessionAction[] {
    const connection = this.#connections.get(cid);
    if (connection === undefined || this.#ended) return [];
    connection.active = true;
    if ('expStatSN' in pdu) connection.status.acknowledge(pdu.expStatSN);
    const out: TargetSessionAction[] = [];
    if (connection.closing) return out;
    switch (pdu.kind) {
      case 'nop-out':
      case 'scsi-command':
      case 'task-management-request':
      case 'text-request':
      case 'logout-request':
        this.#admit(cid, pdu, out);
        break;
      case 'snack-request':
        // ErrorRecoveryLevel 0: SNACK is not supported (RFC 7143 §11.16, as LIO answers it).
        this.#reject(cid, pdu, RejectReason.ProtocolError, out);
        break;
      case 'scsi-data-out':
        // The transport consumes Data-Out and passes on only one it refuses without dropping the connection (out of
        // DataSN order: it fails that task's getData). We Reject it: a Reject advances StatSN (RFC 7143 §11.17.3).
        this.#reject(cid, pdu, RejectReason.ProtocolError, out);
        break;
      case 'login-request':
        this.#reject(cid, pdu, RejectReason.ProtocolError, out);
        break;
      default:
        this.#reject(cid, pdu, RejectReason.CommandNotSupported, out);
    }
    this.#checkBacklog(connection, out);
    return out;
  }

  /** The SCSI device finished a task. */
  commandExecuted(taskId: number, result: ScsiResponse): TargetSessionAction[] {
    const task = this.#tasks.get(taskId);
    if (task === undefined || task.phase !== 'executing') return [];
    const out: TargetSessionAction[] = [];
    if (task.aborted) {
      this.#settle(task, out);
      return out;
    }
    const produced = result.dataIn ?? [];
    const producedLength = totalLength(produced);
    // Only a command with the R bit has somewhere to put data-in (RFC 7143 §11.3.1), but a command without either
    // bit that produced data-in still reports it as overflow: its EDTL (0) was not sufficient (§11.4.5.1).
    const readResidual = task.read || !task.write ? residualOf(task.readLength, producedLength) : NO_RESIDUAL;
    const sendLength = task.read ? Math.min(producedLength, task.readLength) : 0;
    if (sendLength > 0) {
      task.phase = 'sending-data';
      task.response = { result, readResidual };
      out.push({
        type: 'put-data',
        cid: task.cid,
        taskId,
        task: task.ref,
        data: sliceChunks(produced, 0, sendLength),
      });
      return out;
    }
    this.#respond(task, result, readResidual, out);
    return out;
  }

  /**
   * The SCSI device could not finish a task: pulling its data-out failed. A lost connection reaches us as
   * `connectionClosed` (and this task is gone by then); otherwise the transport gave up on this task's data
   * (a sequence error, a timeout) and the command ends in CHECK CONDITION, ABORTED COMMAND, DATA PHASE ERROR.
   */
  commandFailed(taskId: number, error: unknown): TargetSessionAction[] {
    const task = this.#tasks.get(taskId);
    if (task === undefined || task.phase !== 'executing') return [];
    const out: TargetSessionAction[] = [];
    if (task.aborted) {
      this.#settle(task, out);
      return out;
    }
    out.push(this.#event({ kind: 'data-out-failed', itt: task.itt, error }));
    this.#respond(task, dataPhaseError(), NO_RESIDUAL, out);
    return out;
  }

  /** The transport moved a task's data-in. */
  dataDelivered(taskId: number): TargetSessionAction[] {
    const task = this.#tasks.get(taskId);
    if (task === undefined || task.phase !== 'sending-data') return [];
    const out: TargetSessionAction[] = [];
    const pending = task.response;
    if (task.aborted || pending === undefined) {
      this.#settle(task, out);
      return out;
    }
    this.#respond(task, pending.result, pending.readResidual, out);
    return out;
  }

  /** The transport could not move a task's data-in. */
  dataFailed(taskId: number, error: unknown): TargetSessionAction[] {
    const task = this.#tasks.get(taskId);
    if (task === undefined) return [];
    const out: TargetSessionAction[] = [];
    if (task.aborted) {
      this.#settle(task, out);
      return out;
    }
    const reason = new TargetSessionError('ERR_TARGET_SESSION_TRANSPORT', `task ${task.itt}: data-in failed`, {
      cause: error,
    });
    this.#closeConnection(task.cid, reason, out, true);
    return out;
  }

  /** A timer the session armed went off. */
  timerFired(cid: number, timer: TargetSessionTimer): TargetSessionAction[] {
    const connection = this.#connections.get(cid);
    if (connection === undefined || this.#ended) return [];
    const out: TargetSessionAction[] = [];
    switch (timer) {
      case 'nop-interval':
        if (connection.pingTtt === undefined && !connection.active && !connection.closing) {
          const ttt = this.#tag();
          connection.pingTtt = ttt;
          // A target ping does not advance StatSN (RFC 7143 §11.19.2).
          this.#send(connection, { kind: 'nop-in', lun: 0n, itt: RESERVED_TAG, ttt, data: [] }, false, out);
          out.push({ type: 'arm-timer', cid, timer: 'nop-timeout', ms: this.#nopTimeoutMs });
        }
        connection.active = false;
        out.push({ type: 'arm-timer', cid, timer: 'nop-interval', ms: this.#nopIntervalMs });
        break;
      case 'nop-timeout':
        if (connection.pingTtt !== undefined) {
          const reason = new TargetSessionError(
            'ERR_TARGET_SESSION_NOP_TIMEOUT',
            `connection ${cid}: NOP-In ping unanswered for ${this.#nopTimeoutMs} ms`,
          );
          this.#closeConnection(cid, reason, out, true);
        }
        break;
      case 'logout-deadline': {
        const reason = new TargetSessionError(
          'ERR_TARGET_SESSION_LOGOUT_TIMEOUT',
          `connection ${cid}: no logout after the target asked for one`,
        );
        this.#closeConnection(cid, reason, out, true);
        break;
      }
    }
    return out;
  }

  /** The transport closed (or lost) a connection. */
  connectionClosed(cid: number, error?: unknown): TargetSessionAction[] {
    if (!this.#connections.has(cid)) return [];
    const out: TargetSessionAction[] = [];
    const reason =
      error instanceof TargetSessionError
        ? error
        : new TargetSessionError('ERR_TARGET_SESSION_TRANSPORT', `connection ${cid} closed`, { cause: error });
    this.#closeConnection(cid, reason, out, false);
    return out;
  }

  /**
   * Asks the initiator to log out within `seconds` (Async Message, AsyncEvent 1, RFC 7143 §11.9.1) on every
   * connection; a connection still open at the deadline is dropped.
   */
  requestLogout(seconds: number): TargetSessionAction[] {
    const out: TargetSessionAction[] = [];
    const within = Math.max(0, Math.min(0xffff, Math.floor(seconds)));
    for (const connection of this.#connections.values()) {
      if (connection.closing) continue;
      const pdu = {
        kind: 'async-message' as const,
        lun: 0n,
        asyncEvent: AsyncEvent.LogoutRequest,
        asyncVCode: 0,
        parameter1: 0,
        parameter2: 0,
        parameter3: within,
        data: [],
      };
      this.#send(connection, pdu, true, out);
      out.push({ type: 'arm-timer', cid: connection.cid, timer: 'logout-deadline', ms: within * 1000 });
    }
    return out;
  }

  /**
   * A new login took over connection `cid` (same CID, RFC 7143 §6.3.4): the old connection's tasks end without a
   * response, and the session stays even if that was its only connection; add the new one with `addConnection`.
   */
  replaceConnection(cid: number): TargetSessionAction[] {
    const out: TargetSessionAction[] = [];
    const reason = new TargetSessionError('ERR_TARGET_SESSION_CONNECTION_REPLACED', `connection ${cid} was replaced`);
    this.#closeConnection(cid, reason, out, false, false);
    return out;
  }

  /** Ends the session now: every task aborted, every connection closed (reinstatement, cold reset, shutdown). */
  close(reason: TargetSessionError): TargetSessionAction[] {
    const out: TargetSessionAction[] = [];
    for (const cid of [...this.#connections.keys()]) this.#closeConnection(cid, reason, out, true);
    return out;
  }

  /** Another session reset the LUN (or the target): this session's matching tasks end without a response. */
  abortTasks(lun: number | undefined): TargetSessionAction[] {
    const out: TargetSessionAction[] = [];
    for (const task of [...this.#tasks.values()]) {
      if (lun === undefined || task.lun === lun) this.#abort(task, 'reset', out);
    }
    this.#window.remove((a) => a.pdu.kind === 'scsi-command' && (lun === undefined || lunOf(a.pdu.lun) === lun));
    this.#drain(out);
    return out;
  }

  // ------------------------------------------------------------------------------------------- ordering

  #admit(cid: number, pdu: OrderedPdu, out: TargetSessionAction[]): void {
    // NOP-Out with ITT 0xffffffff is an answer: immediate whatever its I bit says (RFC 7143 §11.18.3).
    const immediate = pdu.immediate || (pdu.kind === 'nop-out' && pdu.itt === RESERVED_TAG);
    const verdict = this.#window.admit(pdu.cmdSN, immediate, { cid, pdu });
    if (verdict.kind === 'dropped') {
      out.push(
        this.#event({ kind: 'command-dropped', cid, cmdSN: pdu.cmdSN, reason: verdict.reason, ...this.#seqNumbers() }),
      );
      return;
    }
    if (verdict.kind === 'queued') return;
    this.#dispatch(verdict.item, immediate, out);
    this.#drain(out);
  }

  /** Processes held PDUs whose turn has come. */
  #drain(out: TargetSessionAction[]): void {
    for (let next = this.#window.takeReady(); next !== undefined; next = this.#window.takeReady()) {
      if (this.#connections.get(next.cid)?.closing === false) this.#dispatch(next, false, out);
    }
  }

  #dispatch(arrival: Arrival, immediate: boolean, out: TargetSessionAction[]): void {
    const { cid, pdu } = arrival;
    switch (pdu.kind) {
      case 'nop-out':
        this.#nopOut(cid, pdu, out);
        break;
      case 'scsi-command':
        this.#command(cid, pdu, immediate, out);
        break;
      case 'task-management-request':
        this.#taskManagement(cid, pdu, out);
        break;
      case 'text-request':
        this.#text(cid, pdu, out);
        break;
      case 'logout-request':
        this.#logout(cid, pdu, out);
        break;
    }
  }

  // ------------------------------------------------------------------------------------------------- NOP

  #nopOut(cid: number, pdu: NopOutPdu, out: TargetSessionAction[]): void {
    const connection = this.#connections.get(cid);
    if (connection === undefined) return;
    if (pdu.ttt !== RESERVED_TAG) {
      // The answer to our ping; an unknown TTT (a late answer) changes nothing.
      if (pdu.ttt === connection.pingTtt) {
        connection.pingTtt = undefined;
        out.push({ type: 'cancel-timer', cid, timer: 'nop-timeout' });
      }
      return;
    }
    if (pdu.itt === RESERVED_TAG) return; // ExpStatSN acknowledgement only
    const data = sliceChunks(pdu.data, 0, this.#maxSendSegment());
    this.#send(connection, { kind: 'nop-in', lun: pdu.lun, itt: pdu.itt, ttt: RESERVED_TAG, data }, true, out);
  }

  // ----------------------------------------------------------------------------------------------- SCSI

  #command(cid: number, pdu: ScsiCommandPdu, immediate: boolean, out: TargetSessionAction[]): void {
    if (this.#options.sessionType === 'Discovery') {
      this.#reject(cid, pdu, RejectReason.ProtocolError, out);
      return;
    }
    if (pdu.itt === RESERVED_TAG) {
      this.#reject(cid, pdu, RejectReason.InvalidPduField, out);
      return;
    }
    if (this.#byItt.has(pdu.itt)) {
      this.#reject(cid, pdu, RejectReason.TaskInProgress, out);
      return;
    }
    if (immediate && this.#immediateRunning >= this.#maxImmediate) {
      this.#reject(cid, pdu, RejectReason.ImmediateCommandReject, out);
      return;
    }
    const lun = lunOf(pdu.lun);
    const edtl = pdu.expectedDataTransferLength;
    const writeLength = pdu.write ? edtl : 0;
    const readLength = pdu.read ? (pdu.write ? (pdu.bidirectionalReadLength ?? 0) : edtl) : 0;
    const lengths = (this.#options.transferLengths ?? defaultTransferLengths)(lun, pdu.cdb);
    const cdb = (pdu.write && truncatedWriteCdb(pdu.cdb, lengths.dataOut, writeLength)) || pdu.cdb;
    const task: Task = {
      id: this.#nextTaskId++,
      cid,
      itt: pdu.itt,
      lun,
      cmdSN: pdu.cmdSN,
      immediate,
      ref: { itt: pdu.itt, lun: pdu.lun, expectedDataTransferLength: edtl },
      read: pdu.read,
      write: pdu.write,
      readLength,
      writeLength,
      dataOut: lengths.dataOut,
      phase: 'executing',
      aborted: false,
      response: undefined,
    };
    this.#tasks.set(task.id, task);
    this.#byItt.set(task.itt, task.id);
    if (immediate) this.#immediateRunning += 1;
    else this.#running += 1;
    const refused = pdu.write ? refuseDataOutMismatch(pdu.cdb, writeLength, lengths.dataOut) : undefined;
    if (refused !== undefined) {
      this.#respond(task, refused, NO_RESIDUAL, out);
      return;
    }
    const request: ExecuteRequest = {
      taskId: task.id,
      cid,
      task: task.ref,
      command: { lun, cdb, expectedDataTransferLength: writeLength, direction: directionOf(pdu), nexus: this.#nexus },
    };
    out.push({ type: 'execute', request });
  }

  #respond(task: Task, result: ScsiResponse, readResidual: Residual, out: TargetSessionAction[]): void {
    const connection = this.#connections.get(task.cid);
    // Free the slot first, so the response already announces the wider window.
    this.#forget(task);
    if (connection === undefined) {
      this.#release(task, out);
      return;
    }
    const writeResidual = task.write ? residualOf(task.writeLength, task.dataOut) : NO_RESIDUAL;
    const bidirectional = task.read && task.write;
    const main = task.write ? writeResidual : readResidual;
    const sense = result.sense;
    const data: Buffer[] = [];
    if (sense !== undefined && sense.length > 0) {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(Math.min(sense.length, 0xffff));
      data.push(length, sense);
    }
    const pdu = {
      kind: 'scsi-response' as const,
      bidirectionalReadResidualOverflow: bidirectional && readResidual.overflow,
      bidirectionalReadResidualUnderflow: bidirectional && readResidual.underflow,
      residualOverflow: main.overflow,
      residualUnderflow: main.underflow,
      response: ScsiServiceResponse.CommandCompletedAtTarget,
      status: result.status,
      itt: task.itt,
      snackTag: 0,
      expDataSN: 0,
      bidirectionalReadResidualCount: bidirectional ? readResidual.count : 0,
      residualCount: main.count,
      data,
    };
    this.#send(connection, pdu, true, out);
    this.#release(task, out);
  }

  /** The task is over: forget it, release the transport, let waiting responses go. */
  #settle(task: Task, out: TargetSessionAction[]): void {
    if (!this.#forget(task)) return;
    this.#release(task, out);
  }

  /** Drops the task from the table and opens the window; false when it was already gone. */
  #forget(task: Task): boolean {
    if (!this.#tasks.delete(task.id)) return false;
    if (this.#byItt.get(task.itt) === task.id) this.#byItt.delete(task.itt);
    if (task.immediate) this.#immediateRunning -= 1;
    else this.#running -= 1;
    this.#window.open(this.#running);
    return true;
  }

  /** Tells the transport the task is over and lets responses that waited for it go. */
  #release(task: Task, out: TargetSessionAction[]): void {
    if (!task.aborted && this.#connections.has(task.cid)) out.push({ type: 'task-done', cid: task.cid, itt: task.itt });
    for (const barrier of [...this.#barriers]) {
      if (barrier.waitFor.delete(task.id) && barrier.waitFor.size === 0) {
        this.#barriers.delete(barrier);
        out.push(...barrier.then());
      }
    }
  }

  /** Aborts a task: no response will be sent; the transport lets go of it now. */
  #abort(
    task: Task,
    by: 'task-management' | 'connection-closed' | 'reset' | 'session-closed',
    out: TargetSessionAction[],
  ): void {
    if (task.aborted) return;
    task.aborted = true;
    if (this.#byItt.get(task.itt) === task.id) this.#byItt.delete(task.itt);
    out.push(this.#event({ kind: 'task-aborted', itt: task.itt, lun: task.lun, by }));
    if (this.#connections.has(task.cid)) out.push({ type: 'task-done', cid: task.cid, itt: task.itt });
  }

  // ----------------------------------------------------------------------------------------- task management

  #taskManagement(cid: number, pdu: TaskManagementRequestPdu, out: TargetSessionAction[]): void {
    if (this.#options.sessionType === 'Discovery') {
      this.#reject(cid, pdu, RejectReason.ProtocolError, out);
      return;
    }
    const respond = (response: number): TargetSessionAction[] => {
      const actions: TargetSessionAction[] = [];
      const connection = this.#connections.get(cid);
      if (connection === undefined) return actions;
      actions.push(this.#event({ kind: 'task-management', cid, function: pdu.function, response }));
      this.#send(connection, { kind: 'task-management-response', response, itt: pdu.itt }, true, actions);
      return actions;
    };
    if (this.#pendingTmf >= this.#maxPendingTmf) {
      out.push(...respond(TaskManagementResponse.FunctionRejected));
      return;
    }
    const lun = lunOf(pdu.lun);
    const lunExists = (this.#options.hasLun ?? (() => true))(lun);
    const F = TaskManagementFunction;
    switch (pdu.function) {
      case F.AbortTask:
        this.#abortTask(pdu, respond, out);
        return;
      case F.AbortTaskSet:
      case F.ClearTaskSet:
      case F.LogicalUnitReset: {
        if (!lunExists) {
          out.push(...respond(TaskManagementResponse.LunDoesNotExist));
          return;
        }
        const stopped = this.#abortWhere((t) => t.lun === lun, pdu, out);
        const after: TargetSessionAction[] =
          pdu.function === F.LogicalUnitReset
            ? [{ type: 'reset', kind: 'lun-reset', lun }]
            : pdu.function === F.ClearTaskSet
              ? [{ type: 'clear-task-set', lun }]
              : [];
        this.#await(cid, stopped, () => [...after, ...respond(TaskManagementResponse.FunctionComplete)], out);
        return;
      }
      case F.TargetWarmReset:
      case F.TargetColdReset:
      case F.ItNexusReset: {
        const stopped = this.#abortWhere(() => true, pdu, out);
        const kind: TargetResetKind =
          pdu.function === F.TargetWarmReset
            ? 'target-warm-reset'
            : pdu.function === F.TargetColdReset
              ? 'target-cold-reset'
              : 'it-nexus-reset';
        this.#await(
          cid,
          stopped,
          () => {
            const actions: TargetSessionAction[] = [
              { type: 'reset', kind, lun: undefined },
              ...respond(TaskManagementResponse.FunctionComplete),
            ];
            if (kind === 'target-cold-reset') {
              // The response goes out first; then every connection drops (RFC 7143 §11.5.1).
              const reason = new TargetSessionError('ERR_TARGET_SESSION_TARGET_RESET', 'TARGET COLD RESET');
              for (const id of [...this.#connections.keys()]) this.#closeConnection(id, reason, actions, true);
            }
            return actions;
          },
          out,
        );
        return;
      }
      case F.QueryTask: {
        const id = this.#byItt.get(pdu.referencedTaskTag);
        out.push(
          ...respond(
            id === undefined ? TaskManagementResponse.FunctionComplete : TaskManagementResponse.FunctionSucceeded,
          ),
        );
        return;
      }
      case F.QueryTaskSet: {
        if (!lunExists) {
          out.push(...respond(TaskManagementResponse.LunDoesNotExist));
          return;
        }
        const any = [...this.#tasks.values()].some((t) => !t.aborted && t.lun === lun);
        out.push(...respond(any ? TaskManagementResponse.FunctionSucceeded : TaskManagementResponse.FunctionComplete));
        return;
      }
      case F.TaskReassign:
        // Allegiance reassignment needs ErrorRecoveryLevel 2 (RFC 7143 §11.5.1).
        out.push(...respond(TaskManagementResponse.TaskAllegianceReassignmentNotSupported));
        return;
      default:
        out.push(...respond(TaskManagementResponse.FunctionNotSupported));
    }
  }

  /** ABORT TASK with the RefCmdSN rules of RFC 7143 §11.5.1. */
  #abortTask(
    pdu: TaskManagementRequestPdu,
    respond: (response: number) => TargetSessionAction[],
    out: TargetSessionAction[],
  ): void {
    const id = this.#byItt.get(pdu.referencedTaskTag);
    const task = id === undefined ? undefined : this.#tasks.get(id);
    if (task !== undefined) {
      this.#abort(task, 'task-management', out);
      this.#await(task.cid, [task.id], () => respond(TaskManagementResponse.FunctionComplete), out);
      return;
    }
    // Not seen yet: a command held for a gap, or one still on its way.
    const held = this.#window.remove((a) => a.pdu.kind === 'scsi-command' && a.pdu.itt === pdu.referencedTaskTag);
    if (held.length > 0) {
      this.#drain(out);
      out.push(...respond(TaskManagementResponse.FunctionComplete));
      return;
    }
    if (this.#window.inWindow(pdu.refCmdSN) && serialLt(pdu.refCmdSN, pdu.cmdSN)) {
      // b) consider the CmdSN received: the command, should it come, is a duplicate.
      this.#window.consume(pdu.refCmdSN);
      this.#drain(out);
      out.push(...respond(TaskManagementResponse.FunctionComplete));
      return;
    }
    out.push(...respond(TaskManagementResponse.TaskDoesNotExist));
  }

  /** Aborts this session's tasks matching `predicate`, and held commands before the TMF; returns the task ids. */
  #abortWhere(predicate: (task: Task) => boolean, pdu: TaskManagementRequestPdu, out: TargetSessionAction[]): number[] {
    const stopped: number[] = [];
    for (const task of this.#tasks.values()) {
      if (!predicate(task)) continue;
      this.#abort(task, 'task-management', out);
      stopped.push(task.id);
    }
    const lun = lunOf(pdu.lun);
    const everything =
      pdu.function !== TaskManagementFunction.AbortTaskSet &&
      pdu.function !== TaskManagementFunction.ClearTaskSet &&
      pdu.function !== TaskManagementFunction.LogicalUnitReset;
    this.#window.remove(
      (a) =>
        a.pdu.kind === 'scsi-command' && serialLt(a.pdu.cmdSN, pdu.cmdSN) && (everything || lunOf(a.pdu.lun) === lun),
    );
    this.#drain(out);
    return stopped;
  }

  /** Runs `then` once the tasks have stopped (now, when none is running). */
  #await(cid: number, taskIds: readonly number[], then: () => TargetSessionAction[], out: TargetSessionAction[]): void {
    const waitFor = new Set(taskIds.filter((id) => this.#tasks.has(id)));
    if (waitFor.size === 0) {
      out.push(...then());
      return;
    }
    this.#pendingTmf += 1;
    this.#barriers.add({
      cid,
      waitFor,
      then: () => {
        this.#pendingTmf -= 1;
        return then();
      },
    });
  }

  // ----------------------------------------------------------------------------------------------- text

  #text(cid: number, pdu: TextRequestPdu, out: TargetSessionAction[]): void {
    const connection = this.#connections.get(cid);
    if (connection === undefined) return;
    const step = connection.text.receive(pdu);
    if (step.kind === 'reject') {
      this.#reject(cid, pdu, step.reason, out);
      return;
    }
    const response = {
      kind: 'text-response' as const,
      final: step.final,
      continue: step.continues,
      lun: pdu.lun,
      itt: pdu.itt,
      ttt: step.ttt,
      data: step.data,
    };
    this.#send(connection, response, true, out);
  }

  /** Answers one complete text: SendTargets here, every other key through a full-feature negotiator. */
  #answerText(cid: number, pairs: readonly TextPair[]): TextPair[] {
    const negotiator = new TextNegotiator({
      role: 'target',
      transport: this.#options.transport,
      ...(this.#options.negotiation === undefined ? {} : { config: this.#options.negotiation }),
      session: this.#params,
      phase: 'full-feature',
    });
    const { reply, delegated } = negotiator.receive(pairs, 'full-feature');
    const answer: TextPair[] = [...reply];
    for (const pair of delegated) {
      if (pair.key !== 'SendTargets') continue;
      const local = this.#connections.get(cid)?.local ?? { host: '0.0.0.0', port: 3260 };
      const targets =
        this.#options.sendTargets?.({
          initiatorName: this.#options.initiatorName,
          sessionType: this.#options.sessionType,
          sessionTarget: this.#options.targetName,
          value: pair.value,
          local,
        }) ?? [];
      answer.push(...formatSendTargetsResponse(targets));
    }
    // Declarations of ALL keys (e.g. MaxRecvDataSegmentLength) change what we send from now on.
    if (delegated.length < pairs.length) this.#params = negotiator.params();
    return answer;
  }

  // ---------------------------------------------------------------------------------------------- logout

  #logout(cid: number, pdu: LogoutRequestPdu, out: TargetSessionAction[]): void {
    const connection = this.#connections.get(cid);
    if (connection === undefined) return;
    const time2Wait = this.#params.defaultTime2Wait;
    const respond = (response: number, actions: TargetSessionAction[]): void => {
      actions.push(this.#event({ kind: 'logout', cid, reason: pdu.reason, response }));
      const pdu2 = { kind: 'logout-response' as const, response, itt: pdu.itt, time2Wait, time2Retain: 0 };
      if (this.#connections.has(cid)) this.#send(connection, pdu2, true, actions);
    };
    const loggedOut = (what: string): TargetSessionError =>
      new TargetSessionError('ERR_TARGET_SESSION_LOGGED_OUT', `the initiator logged out ${what}`);
    switch (pdu.reason) {
      case LogoutReason.CloseSession: {
        for (const c of this.#connections.values()) c.closing = true;
        const running = [...this.#tasks.values()].filter((t) => !t.aborted).map((t) => t.id);
        this.#await(
          cid,
          running,
          () => {
            const actions: TargetSessionAction[] = [];
            respond(LogoutResponse.ClosedSuccessfully, actions);
            const reason = loggedOut('the session');
            for (const id of [...this.#connections.keys()]) this.#closeConnection(id, reason, actions, true);
            return actions;
          },
          out,
        );
        return;
      }
      case LogoutReason.CloseConnection: {
        const target = this.#connections.get(pdu.cid);
        if (target === undefined) {
          respond(LogoutResponse.CidNotFound, out);
          return;
        }
        target.closing = true;
        const running = [...this.#tasks.values()].filter((t) => !t.aborted && t.cid === pdu.cid).map((t) => t.id);
        this.#await(
          cid,
          running,
          () => {
            const actions: TargetSessionAction[] = [];
            respond(LogoutResponse.ClosedSuccessfully, actions);
            this.#closeConnection(pdu.cid, loggedOut(`connection ${pdu.cid}`), actions, true);
            return actions;
          },
          out,
        );
        return;
      }
      case LogoutReason.RemoveConnectionForRecovery:
        // Connection recovery needs ErrorRecoveryLevel 2 (RFC 7143 §11.15.1).
        respond(LogoutResponse.ConnectionRecoveryNotSupported, out);
        return;
      default:
        this.#reject(cid, pdu, RejectReason.InvalidPduField, out);
    }
  }

  // -------------------------------------------------------------------------------------------- closing

  #closeConnection(
    cid: number,
    reason: TargetSessionError,
    out: TargetSessionAction[],
    tellDriver: boolean,
    endWhenEmpty = true,
  ): void {
    const connection = this.#connections.get(cid);
    if (connection === undefined) return;
    this.#connections.delete(cid);
    for (const timer of ['nop-interval', 'nop-timeout', 'logout-deadline'] as const) {
      out.push({ type: 'cancel-timer', cid, timer });
    }
    // Responses owed on this connection can no longer be sent.
    for (const barrier of [...this.#barriers]) {
      if (barrier.cid === cid) {
        this.#barriers.delete(barrier);
        this.#pendingTmf -= 1;
      }
    }
    const by = reason.code === 'ERR_TARGET_SESSION_LOGGED_OUT' ? 'session-closed' : 'connection-closed';
    for (const task of [...this.#tasks.values()]) {
      if (task.cid !== cid) continue;
      if (!task.aborted) out.push(this.#event({ kind: 'task-aborted', itt: task.itt, lun: task.lun, by }));
      task.aborted = true;
      this.#settle(task, out);
    }
    this.#window.remove((a) => a.cid === cid);
    if (tellDriver) out.push({ type: 'close-connection', cid, reason });
    if (this.#connections.size === 0 && endWhenEmpty && !this.#ended) {
      this.#ended = true;
      out.push({ type: 'session-ended', reason });
    } else {
      this.#drain(out);
    }
  }

  // -------------------------------------------------------------------------------------------- helpers

  #reject(cid: number, pdu: Pdu, reason: number, out: TargetSessionAction[]): void {
    const connection = this.#connections.get(cid);
    if (connection === undefined) return;
    let header: Buffer;
    try {
      header = encodeHeader(pdu);
    } catch {
      header = Buffer.alloc(48); // unreachable for a decoded PDU; a blank header still says "rejected"
    }
    out.push(this.#event({ kind: 'rejected', cid, reason, pduKind: pdu.kind }));
    this.#send(connection, { kind: 'reject', reason, dataSN: 0, data: [header] }, true, out);
  }

  /** Stamps StatSN (advancing it for a status), ExpCmdSN and MaxCmdSN, and sends. */
  #send(
    connection: Connection,
    pdu: DistributiveOmit<TargetControlPdu, 'statSN' | 'expCmdSN' | 'maxCmdSN'>,
    advance: boolean,
    out: TargetSessionAction[],
  ): void {
    const statSN = advance ? connection.status.take() : connection.status.next;
    const full = { ...pdu, statSN, ...this.#seqNumbers() } as TargetControlPdu;
    out.push({ type: 'send', cid: connection.cid, pdu: full });
  }

  #checkBacklog(connection: Connection, out: TargetSessionAction[]): void {
    if (!connection.status.overrun || !this.#connections.has(connection.cid)) return;
    const reason = new TargetSessionError(
      'ERR_TARGET_SESSION_STATUS_BACKLOG',
      `connection ${connection.cid}: ${connection.status.unacknowledged} statuses unacknowledged`,
    );
    this.#closeConnection(connection.cid, reason, out, true);
  }

  #seqNumbers(): { expCmdSN: number; maxCmdSN: number } {
    return { expCmdSN: this.#window.expCmdSN, maxCmdSN: this.#window.maxCmdSN };
  }

  #event(event: TargetSessionEvent): TargetSessionAction {
    return { type: 'event', event };
  }

  #maxSendSegment(): number {
    return dataSegmentLimits(this.#params, 'target').maxSendDataSegmentLength;
  }

  #tag(): number {
    const tag = this.#nextTag;
    this.#nextTag = this.#nextTag >= 0xfffffffe ? 1 : this.#nextTag + 1;
    return tag;
  }
}

/** Omit over each member of a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function lunOf(raw: bigint): number {
  // A LUN in a form we do not map reaches no unit: the device answers LOGICAL UNIT NOT SUPPORTED.
  return lunToNumber(raw) ?? -1;
}

function directionOf(pdu: ScsiCommandPdu): DataDirection {
  if (pdu.read && pdu.write) return 'bidi';
  if (pdu.read) return 'read';
  if (pdu.write) return 'write';
  return 'none';
}

function defaultTransferLengths(_lun: number, cdb: Buffer): { dataOut: number; dataIn: number } {
  return cdbTransferLengths(cdb, 512);
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TargetSessionError('ERR_TARGET_SESSION_BAD_CONFIG', `${name} must be a positive integer, not ${value}`);
  }
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TargetSessionError('ERR_TARGET_SESSION_BAD_CONFIG', `${name} must be a non-negative integer`);
  }
  return value;
}
