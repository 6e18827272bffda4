/**
 * A logged-in session: the session machine wired to a connection, a clock and its callers with RxJS.
 *
 * - Every request is a cold Observable: subscribing sends it, unsubscribing before it completes aborts it (a SCSI
 *   command gets ABORT TASK), so RxJS `timeout()` bounds it.
 * - State is a BehaviorSubject (`state$`), events a hot Observable (`events`); both are also published on the
 *   `iser:initiator` diagnostics channel.
 * - Timers (keepalive, StatSN gap, Time2Wait/Time2Retain, logout) run on the injected SchedulerLike, so under the
 *   simulator a session lives in virtual time.
 * - On connection loss the machine recovers (ERL 0): after Time2Wait this driver opens a new connection through
 *   the connector and logs in with the same ISID and TSIH 0; the machine reissues what had no status.
 *
 * Every machine event runs to completion before the next starts (a run queue), whatever calls back into the
 * session from a subscriber or a synchronous transport.
 */
import { BehaviorSubject, Observable, Subject, type SchedulerLike, type Subscription } from 'rxjs';
import type { DatamoverConnector, PortalAddress, SequenceSource } from '../datamover.js';
import type { InitiatorLoginConfig } from '../login/initiator-login.js';
import { LoginError } from '../login/errors.js';
import type { Isid } from '../pdu/isid.js';
import { LogoutReason } from '../pdu/logout.js';
import { lunFromNumber } from '../pdu/lun.js';
import { InitiatorSession, type TaskManagementRequest } from '../session/initiator-session.js';
import type {
  CommandResult,
  InitiatorSessionAction,
  InitiatorSessionState,
  LogoutResult,
  RequestId,
  RequestOutcome,
  SessionEvent,
  SessionTimer,
} from '../session/initiator-types.js';
import type { TextPair } from '../text/codec.js';
import type { NegotiatedParams } from '../text/params.js';
import { parseSendTargetsResponse, type DiscoveredTarget } from '../text/sendtargets.js';
import { TextError } from '../text/errors.js';
import type { CommandOptions } from './command-options.js';
import type { ConnectionLink } from './connection-link.js';
import { publish, publishedError } from './diagnostics.js';
import { InitiatorError } from './errors.js';
import { establish, type Established } from './establish.js';
import { Lun, type LunOptions } from './lun.js';

/** The public state of a session. */
export type SessionState = 'logging-in' | InitiatorSessionState;

/** How a session reconnects during recovery: what the first login used. */
export interface SessionReconnect {
  readonly connector: DatamoverConnector;
  readonly portal: PortalAddress;
  readonly login: InitiatorLoginConfig;
  readonly timeoutMs: number;
  readonly maxRedirects: number;
}

interface Pending {
  complete(outcome: RequestOutcome): void;
  fail(error: Error): void;
}

type Run = () => readonly InitiatorSessionAction[];

/** A logged-in iSCSI session. Created by `login()` (and by `discover()` for its discovery session). */
export class Session {
  readonly #machine: InitiatorSession;
  readonly #scheduler: SchedulerLike;
  readonly #reconnect: SessionReconnect;
  readonly #state: BehaviorSubject<SessionState>;
  readonly #events = new Subject<SessionEvent>();
  readonly #timers = new Map<SessionTimer, Subscription>();
  readonly #pending = new Map<RequestId, Pending>();
  readonly #runQueue: Run[] = [];
  #running = false;
  #link: ConnectionLink | undefined;
  #portal: PortalAddress;
  #nextId = 0;
  #ended: Promise<void>;
  #resolveEnded!: () => void;

  /** Observes the session's state; starts with its current value. */
  readonly state$: Observable<SessionState>;
  /** Things worth knowing (connection lost, reconnected, async events, rejects...). */
  readonly events: Observable<SessionEvent>;

  /** Wires a session machine to its first logged-in connection (use `login()` instead). */
  constructor(
    established: Established,
    machine: InitiatorSession,
    scheduler: SchedulerLike,
    reconnect: SessionReconnect,
  ) {
    this.#machine = machine;
    this.#scheduler = scheduler;
    this.#reconnect = reconnect;
    this.#portal = established.portal;
    this.#state = new BehaviorSubject<SessionState>(machine.state);
    this.state$ = this.#state.asObservable();
    this.events = this.#events.asObservable();
    this.#ended = new Promise<void>((resolve) => {
      this.#resolveEnded = resolve;
    });
    this.#attach(established.link);
    this.#run(() => this.#machine.start());
  }

  // ----------------------------------------------------------------------------------------------- views

  /** The state now. */
  get state(): SessionState {
    return this.#state.value;
  }

  /** The negotiated values in force. */
  get params(): NegotiatedParams {
    return this.#machine.params;
  }

  /** The target's session handle (changes when recovery reinstates the session). */
  get tsih(): number {
    return this.#machine.tsih;
  }

  /** Our half of the session ID. */
  get isid(): Isid {
    return this.#reconnect.login.isid;
  }

  /** The target this session is logged in to (undefined for discovery). */
  get targetName(): string | undefined {
    return this.#reconnect.login.targetName;
  }

  /** The portal the current (or last) connection went to. */
  get portal(): PortalAddress {
    return this.#portal;
  }

  /** Resolves once the session has logged out or failed for good. */
  get ended(): Promise<void> {
    return this.#ended;
  }

  // -------------------------------------------------------------------------------------------- requests

  /** A logical unit of this session's target. */
  lun(lun: number | bigint, options: LunOptions = {}): Lun {
    return new Lun(this, typeof lun === 'bigint' ? lun : lunFromNumber(lun), options);
  }

  /** A raw SCSI command (cold: subscribing sends it, unsubscribing aborts it). `lun` is the raw 64-bit LUN. */
  command(lun: bigint, cdb: Buffer, options: CommandOptions = {}): Observable<CommandResult> {
    const write = options.write;
    return this.#request<CommandResult>(
      (id) =>
        this.#machine.submitCommand(id, {
          lun,
          cdb,
          ...(options.read === undefined ? {} : { readLength: options.read }),
          ...(write === undefined ? {} : { writeData: Buffer.isBuffer(write) ? [write] : write }),
          ...(options.attribute === undefined ? {} : { attribute: options.attribute }),
        }),
      (outcome) => (outcome.kind === 'command' ? outcome.result : undefined),
      (id) => this.#machine.abortTask(id),
    );
  }

  /** A task management function (cold); emits the target's response code. */
  taskManagement(request: TaskManagementRequest): Observable<number> {
    return this.#request<number>(
      (id) => this.#machine.taskManagement(id, request),
      (outcome) => (outcome.kind === 'task-management' ? outcome.response : undefined),
      (id) => this.#machine.forget(id),
    );
  }

  /** A NOP-Out ping (cold); emits the echoed data. */
  ping(data?: Buffer): Observable<Buffer> {
    return this.#request<Buffer>(
      (id) => this.#machine.ping(id, data),
      (outcome) => (outcome.kind === 'ping' ? outcome.data : undefined),
      (id) => this.#machine.forget(id),
    );
  }

  /** A full-feature text exchange (cold); emits the target's pairs. */
  text(pairs: readonly TextPair[], options: { allowDuplicateKeys?: boolean } = {}): Observable<readonly TextPair[]> {
    return this.#request<readonly TextPair[]>(
      (id) => this.#machine.text(id, pairs, options),
      (outcome) => (outcome.kind === 'text' ? outcome.pairs : undefined),
      (id) => this.#machine.forget(id),
    );
  }

  /** SendTargets (cold): `All` in a discovery session, or a target name / empty in a normal one (RFC 7143 §13.3). */
  sendTargets(value = 'All'): Observable<DiscoveredTarget[]> {
    return new Observable<DiscoveredTarget[]>((subscriber) =>
      this.text([{ key: 'SendTargets', value }], { allowDuplicateKeys: true }).subscribe({
        next: (pairs) => {
          try {
            subscriber.next(parseSendTargetsResponse(pairs));
          } catch (err) {
            if (!(err instanceof TextError)) throw err;
            subscriber.error(
              new InitiatorError('ERR_INITIATOR_BAD_RESPONSE', `the SendTargets answer is malformed: ${err.message}`, {
                cause: err,
              }),
            );
          }
        },
        error: (err: unknown) => {
          subscriber.error(err);
        },
        complete: () => {
          subscriber.complete();
        },
      }),
    );
  }

  /**
   * Logs out: closes the session (default) or, with `reason: 'connection'`, this connection (for the only
   * connection the target closes the session too). Queued commands go first. Resolves with the target's
   * Time2Wait/Time2Retain.
   */
  logout(options: { readonly reason?: 'session' | 'connection' } = {}): Promise<LogoutResult> {
    const reason = options.reason === 'connection' ? LogoutReason.CloseConnection : LogoutReason.CloseSession;
    return new Promise<LogoutResult>((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, {
        complete: (outcome) => {
          if (outcome.kind === 'logout') resolve(outcome.result);
        },
        fail: reject,
      });
      this.#run(() => this.#machine.logout(id, reason));
    });
  }

  /** Ends the session whatever its state: logs out when it can, else just closes. Never rejects. */
  async close(): Promise<void> {
    const state = this.#machine.state;
    if (state === 'full-feature' || state === 'recovering') await this.logout().catch(() => undefined);
    if (this.#link !== undefined) {
      const link = this.#link;
      this.#link = undefined;
      await link.close();
    }
  }

  // ------------------------------------------------------------------------------------------- plumbing

  /** A cold Observable over one machine request. */
  #request<T>(
    start: (id: RequestId) => readonly InitiatorSessionAction[],
    pick: (outcome: RequestOutcome) => T | undefined,
    cancel: (id: RequestId) => readonly InitiatorSessionAction[],
  ): Observable<T> {
    return new Observable<T>((subscriber) => {
      const id = this.#nextId++;
      let settled = false;
      this.#pending.set(id, {
        complete: (outcome) => {
          settled = true;
          const value = pick(outcome);
          if (value !== undefined) subscriber.next(value);
          subscriber.complete();
        },
        fail: (error) => {
          settled = true;
          subscriber.error(error);
        },
      });
      this.#run(() => start(id));
      return () => {
        this.#pending.delete(id);
        if (!settled) this.#run(() => cancel(id));
      };
    });
  }

  /** Runs machine events one at a time, each with its actions, in arrival order. */
  #run(event: Run): void {
    this.#runQueue.push(event);
    if (this.#running) return;
    this.#running = true;
    try {
      for (let next = this.#runQueue.shift(); next !== undefined; next = this.#runQueue.shift()) {
        for (const action of next()) this.#execute(action);
      }
    } finally {
      this.#running = false;
    }
  }

  #execute(action: InitiatorSessionAction): void {
    switch (action.type) {
      case 'send':
      case 'send-command': {
        const link = this.#link;
        if (link === undefined) return;
        try {
          if (action.type === 'send') link.connection.sendControl(action.pdu);
          else link.connection.sendCommand(action.pdu, action.buffers);
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          this.#run(() => (this.#link === link ? this.#machine.connectionLost(error) : []));
        }
        return;
      }
      case 'task-done':
        try {
          this.#link?.connection.taskDone(action.itt);
        } catch {
          // A closed connection has nothing left to forget.
        }
        return;
      case 'arm-timer': {
        this.#timers.get(action.timer)?.unsubscribe();
        const timer = action.timer;
        this.#timers.set(
          timer,
          this.#scheduler.schedule(() => {
            this.#timers.delete(timer);
            this.#run(() => this.#machine.timerFired(timer));
          }, action.ms),
        );
        return;
      }
      case 'cancel-timer':
        this.#timers.get(action.timer)?.unsubscribe();
        this.#timers.delete(action.timer);
        return;
      case 'complete': {
        const pending = this.#pending.get(action.id);
        this.#pending.delete(action.id);
        pending?.complete(action.outcome);
        return;
      }
      case 'fail': {
        const pending = this.#pending.get(action.id);
        this.#pending.delete(action.id);
        pending?.fail(action.error);
        return;
      }
      case 'close-connection': {
        const link = this.#link;
        this.#link = undefined;
        void link?.close();
        return;
      }
      case 'reconnect':
        void this.#reconnectOnce(action.cmdSN);
        return;
      case 'state':
        publish({
          type: 'state',
          targetName: this.targetName,
          state: action.state,
          ...(action.error === undefined ? {} : { error: publishedError(action.error) }),
        });
        this.#state.next(action.state);
        if (action.state === 'logged-out' || action.state === 'failed') {
          for (const timer of this.#timers.values()) timer.unsubscribe();
          this.#timers.clear();
          this.#events.complete();
          this.#resolveEnded();
        }
        return;
      case 'event':
        publish({
          type: 'event',
          targetName: this.targetName,
          event: action.event.kind,
          detail: eventDetail(action.event),
        });
        this.#events.next(action.event);
        return;
    }
  }

  #attach(link: ConnectionLink): void {
    this.#link = link;
    const machine = this.#machine;
    const sequence: SequenceSource = {
      expStatSN: () => machine.expStatSN,
      statSN: () => (machine.expStatSN - 1) >>> 0,
      expCmdSN: () => machine.expCmdSN,
      maxCmdSN: () => machine.maxCmdSN,
    };
    link.connection.enable(machine.params, sequence);
    link.attach({
      pdu: (pdu) => {
        this.#run(() => (this.#link === link ? machine.receive(pdu) : []));
      },
      ended: (error) => {
        this.#run(() => (this.#link === link ? machine.connectionLost(error) : []));
      },
    });
  }

  async #reconnectOnce(cmdSN: number): Promise<void> {
    const { connector, login, timeoutMs, maxRedirects } = this.#reconnect;
    try {
      const established = await establish({
        connector,
        portal: this.#portal,
        // Session reinstatement (RFC 7143 §6.3.5): the same ISID with TSIH 0; the target ends the old session.
        login: { ...login, tsih: 0, cmdSN },
        scheduler: this.#scheduler,
        timeoutMs,
        maxRedirects,
      });
      this.#run(() => {
        if (this.#machine.state !== 'recovering') {
          void established.link.close();
          return [];
        }
        this.#portal = established.portal;
        const actions = this.#machine.reconnected(established.result);
        this.#attach(established.link);
        return actions;
      });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const retryable = !(err instanceof LoginError) || err.retryable;
      this.#run(() => this.#machine.reconnectFailed(error, retryable));
    }
  }
}

/** Flat, secret-free fields of an event for the diagnostics channel. */
function eventDetail(event: SessionEvent): Record<string, string | number | boolean | undefined> {
  switch (event.kind) {
    case 'connection-lost': {
      const error = publishedError(event.error);
      return { code: error.code, message: error.message };
    }
    case 'reconnecting':
      return { attempt: event.attempt };
    case 'reconnected':
      return { tsih: event.tsih, reissued: event.reissued };
    case 'reissue-unit-attention':
      return { lun: event.lun.toString(), asc: event.asc, ascq: event.ascq };
    case 'window-ignored':
      return { expCmdSN: event.expCmdSN, maxCmdSN: event.maxCmdSN };
    case 'statsn-gap':
      return { expStatSN: event.expStatSN, statSN: event.statSN };
    case 'rejected':
      return { reason: event.reason, opcode: event.opcode, itt: event.itt };
    case 'unexpected-pdu':
      return { pduKind: event.pduKind, itt: event.itt };
    case 'scsi-async-event':
      return { lun: event.lun.toString(), senseKey: event.sense?.key, asc: event.sense?.asc, ascq: event.sense?.ascq };
    case 'logout-requested':
      return { withinSeconds: event.withinSeconds };
    case 'connection-drop-announced':
      return { allConnections: event.allConnections, time2Wait: event.time2Wait, time2Retain: event.time2Retain };
    case 'tasks-terminated':
      return { lun: event.lun.toString(), count: event.count };
    case 'vendor-async-event':
      return { code: event.code };
    case 'target-ping-answered':
      return { ttt: event.ttt };
    case 'renegotiation-requested':
    case 'renegotiated':
      return {};
  }
}
