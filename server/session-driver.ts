/**
 * Drives one sans-IO {@link TargetSession}: carries out its actions on the session's Datamover connections, the
 * SCSI device and the scheduler, and feeds what happens back in (PDUs, finished commands, moved data, timers,
 * closed connections). Actions run strictly in order; an action that produces more work queues it behind.
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import type { DatamoverConnection } from '../protocol/datamover.js';
import type { Pdu } from '../protocol/pdu/index.js';
import type { ScsiTargetDevice } from '../protocol/scsi/target/device.js';
import type { DataDirection } from '../protocol/scsi/target/types.js';
import { TargetSessionError } from '../protocol/session/target-errors.js';
import type { TargetSession } from '../protocol/session/target-session.js';
import type {
  ExecuteRequest,
  TargetResetKind,
  TargetSessionAction,
  TargetSessionEvent,
} from '../protocol/session/target-types.js';

/** What the driver tells its owner (the server) about. */
export interface SessionDriverHooks {
  /** Task management reset the device and wants the target's other sessions to follow. */
  readonly onReset: (driver: SessionDriver, kind: TargetResetKind, lun: number | undefined) => void;
  /** CLEAR TASK SET: the other sessions' tasks on `lun` are to be aborted. */
  readonly onClearTaskSet: (driver: SessionDriver, lun: number) => void;
  /** Every connection closed: the session is over. */
  readonly onEnded: (driver: SessionDriver, reason: TargetSessionError) => void;
  /** Something to log. */
  readonly onEvent?: (driver: SessionDriver, event: TargetSessionEvent) => void;
  /** A SCSI command finished (for statistics). */
  readonly onCommand?: (driver: SessionDriver, done: CommandDone) => void;
  /** Milliseconds for command latency (default the scheduler's `now()`, whose real-time one counts whole ms). */
  readonly clock?: () => number;
}

/** One finished SCSI command, for metrics. */
export interface CommandDone {
  readonly lun: number;
  /** The direction the initiator declared. */
  readonly direction: DataDirection;
  /** SCSI status. */
  readonly status: number;
  /** Data-in bytes returned. */
  readonly bytesRead: number;
  /** Data-out bytes the command consumed (0 unless it ended GOOD). */
  readonly bytesWritten: number;
  /** From the command reaching the device to its response, in scheduler milliseconds. */
  readonly latencyMs: number;
}

/** The I/O side of one target session. */
export class SessionDriver {
  /** The sans-IO session machine it drives. */
  readonly session: TargetSession;
  /** The SCSI device of the session's target (undefined for discovery sessions). */
  readonly device: ScsiTargetDevice | undefined;
  readonly #scheduler: SchedulerLike;
  readonly #hooks: SessionDriverHooks;
  readonly #connections = new Map<number, DatamoverConnection>();
  readonly #timers = new Map<string, Subscription>();
  readonly #queue: TargetSessionAction[] = [];
  #draining = false;
  #ended = false;

  constructor(
    session: TargetSession,
    device: ScsiTargetDevice | undefined,
    scheduler: SchedulerLike,
    hooks: SessionDriverHooks,
  ) {
    this.session = session;
    this.device = device;
    this.#scheduler = scheduler;
    this.#hooks = hooks;
  }

  /** True once the session ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Adds a logged-in connection: enables its transport with the session's numbers, then hands it its PDUs.
   * `statSN` is the StatSN of its first full-feature status.
   */
  attach(cid: number, connection: DatamoverConnection, statSN: number): void {
    this.#connections.set(cid, connection);
    connection.enable(this.session.params, this.session.sequence(cid));
    this.run(this.session.addConnection(cid, { statSN, local: connection.local }));
  }

  /** A PDU arrived on connection `cid` (this transport). */
  receive(cid: number, transport: DatamoverConnection, pdu: Pdu): void {
    if (this.#connections.get(cid) !== transport) return;
    this.run(this.session.receive(cid, pdu));
  }

  /** Connection `cid` (this transport) closed or failed underneath us. */
  connectionClosed(cid: number, transport: DatamoverConnection, error?: unknown): void {
    if (this.#connections.get(cid) !== transport) return;
    this.#connections.delete(cid);
    this.run(this.session.connectionClosed(cid, error));
  }

  /** A new login with the same CID takes over: the old transport is closed, its tasks end, the session stays. */
  replaceConnection(cid: number): void {
    const old = this.#connections.get(cid);
    this.#connections.delete(cid);
    void old?.close().catch(() => undefined);
    this.run(this.session.replaceConnection(cid));
  }

  /** Runs actions (and whatever they lead to) in order. */
  run(actions: readonly TargetSessionAction[]): void {
    this.#queue.push(...actions);
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let action = this.#queue.shift(); action !== undefined; action = this.#queue.shift()) {
        this.#perform(action);
      }
    } finally {
      this.#draining = false;
    }
  }

  #perform(action: TargetSessionAction): void {
    switch (action.type) {
      case 'send': {
        const connection = this.#connections.get(action.cid);
        if (connection === undefined) return;
        try {
          connection.sendControl(action.pdu);
        } catch (err) {
          this.#lost(action.cid, err);
        }
        return;
      }
      case 'execute':
        this.#execute(action.request);
        return;
      case 'put-data': {
        const connection = this.#connections.get(action.cid);
        if (connection === undefined) {
          this.run(this.session.dataFailed(action.taskId, closedError(action.cid)));
          return;
        }
        connection.putData(action.task, 0, action.data).then(
          () => {
            this.run(this.session.dataDelivered(action.taskId));
          },
          (err: unknown) => {
            this.run(this.session.dataFailed(action.taskId, err));
          },
        );
        return;
      }
      case 'task-done':
        this.#connections.get(action.cid)?.taskDone(action.itt);
        return;
      case 'arm-timer': {
        const key = `${action.cid}:${action.timer}`;
        this.#timers.get(key)?.unsubscribe();
        const subscription = this.#scheduler.schedule(() => {
          this.#timers.delete(key);
          this.run(this.session.timerFired(action.cid, action.timer));
        }, action.ms);
        this.#timers.set(key, subscription);
        return;
      }
      case 'cancel-timer': {
        const key = `${action.cid}:${action.timer}`;
        this.#timers.get(key)?.unsubscribe();
        this.#timers.delete(key);
        return;
      }
      case 'close-connection': {
        const connection = this.#connections.get(action.cid);
        this.#connections.delete(action.cid);
        // close() flushes what was sent before (a Logout or TMF response) and then ends the transport.
        void connection?.close().catch(() => undefined);
        return;
      }
      case 'reset':
        this.#hooks.onReset(this, action.kind, action.lun);
        return;
      case 'clear-task-set':
        this.#hooks.onClearTaskSet(this, action.lun);
        return;
      case 'session-ended':
        if (this.#ended) return;
        this.#ended = true;
        for (const timer of this.#timers.values()) timer.unsubscribe();
        this.#timers.clear();
        for (const connection of this.#connections.values()) void connection.close().catch(() => undefined);
        this.#connections.clear();
        this.#hooks.onEnded(this, action.reason);
        return;
      case 'event':
        this.#hooks.onEvent?.(this, action.event);
        return;
    }
  }

  #execute(request: ExecuteRequest): void {
    const { taskId, cid, task } = request;
    const device = this.device;
    if (device === undefined) {
      this.run(
        this.session.commandFailed(taskId, new TargetSessionError('ERR_TARGET_SESSION_STATE', 'no SCSI device')),
      );
      return;
    }
    // Data-out the model pulled: what the metrics count as written (no second CDB decode per command).
    let pulled = 0;
    const getDataOut = (offset: number, length: number): Promise<readonly Buffer[]> => {
      const connection = this.#connections.get(cid);
      // An aborted task's ITT may already belong to a new command: never touch the transport for it.
      if (connection === undefined || !this.session.canMoveData(taskId)) return Promise.reject(closedError(cid));
      pulled += length;
      return connection.getData(task, offset, length);
    };
    const now = this.#hooks.clock ?? (() => this.#scheduler.now());
    const started = now();
    device.execute({ ...request.command, getDataOut }).then(
      (response) => {
        if (this.#hooks.onCommand !== undefined) {
          const { lun, direction } = request.command;
          let bytesRead = 0;
          for (const chunk of response.dataIn ?? []) bytesRead += chunk.length;
          this.#hooks.onCommand(this, {
            lun,
            direction,
            status: response.status,
            bytesRead,
            bytesWritten: response.status === 0 ? pulled : 0,
            latencyMs: now() - started,
          });
        }
        this.run(this.session.commandExecuted(taskId, response));
      },
      (err: unknown) => {
        this.run(this.session.commandFailed(taskId, err));
      },
    );
  }

  #lost(cid: number, error: unknown): void {
    const connection = this.#connections.get(cid);
    this.#connections.delete(cid);
    void connection?.close().catch(() => undefined);
    this.run(this.session.connectionClosed(cid, error));
  }
}

function closedError(cid: number): TargetSessionError {
  return new TargetSessionError('ERR_TARGET_SESSION_TRANSPORT', `connection ${cid} is closed or the task is over`);
}
