/**
 * The iSCSI target server: accepts connections from DatamoverListeners (TCP portals, or any listener a caller
 * hands in), runs the login machine on each, attaches logged-in connections to new, joined or reinstated sessions
 * (RFC 7143 §6.3.5), and drives each session's sans-IO machine against the SCSI device of its target. Every timer
 * comes from the injected scheduler. `close()` asks every session to log out (Async Message), waits a bounded
 * time, then drops what is left.
 */
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import type { DatamoverConnection, DatamoverListener, PortalAddress } from '../protocol/datamover.js';
import type { LoginError, RandomSource, TargetLoginPolicy, TargetLoginResult } from '../protocol/login/index.js';
import { formatIsid, type Isid } from '../protocol/pdu/index.js';
import type { ScsiTargetDevice } from '../protocol/scsi/target/device.js';
import type { ScsiNexus } from '../protocol/scsi/target/types.js';
import { TargetSessionError } from '../protocol/session/target-errors.js';
import { TargetSession } from '../protocol/session/target-session.js';
import type { TargetResetKind, TargetSessionEvent } from '../protocol/session/target-types.js';
import {
  answerSendTargets,
  createLoginPolicy,
  createScsiDevice,
  findTarget,
  SessionRegistry,
  targetKey,
  validateTargetConfig,
  type RegisteredSession,
  type ResolvedTargetConfig,
  type TargetConfig,
  type TargetNodeConfig,
} from '../protocol/target/index.js';
import type { NegotiatedParams, SessionType, TransportKind } from '../protocol/text/index.js';
import { TcpListener, type TcpListenerOptions } from '../transports/tcp/index.js';
import { TargetServerError } from './errors.js';
import { SessionDriver, type CommandDone } from './session-driver.js';
import { TargetConnection } from './target-connection.js';

/** Options of an {@link IscsiTarget}. */
export interface IscsiTargetOptions {
  /** Source of every timer (login timeout, NOP-In, logout deadline); default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Bound on one login, in ms (default 30 s). */
  readonly loginTimeoutMs?: number;
  /** How long `close()` gives initiators to log out, in seconds (default 5). */
  readonly logoutDeadlineSeconds?: number;
  /** Randomness for CHAP challenges and first StatSNs (default crypto). */
  readonly random?: RandomSource;
  /** Options of the TCP listeners `listen()` opens. */
  readonly tcp?: TcpListenerOptions;
  /** Receives what happens, for logs. */
  readonly onEvent?: (event: TargetServerEvent) => void;
  /** Milliseconds for command latency (default the scheduler's `now()`; e.g. `performance.now` for sub-ms). */
  readonly commandClock?: () => number;
  /** Receives finer-grained happenings (every command, every closed connection), for metrics and logs. */
  readonly observer?: TargetServerObserver;
}

/** Happenings too frequent or too new for `onEvent` (whose consumers record every event they get). */
export interface TargetServerObserver {
  /** A SCSI command finished on a target's device. */
  readonly command?: (event: CommandEvent) => void;
  /** A connection closed, in whatever phase. */
  readonly connectionClosed?: (event: ConnectionClosedEvent) => void;
}

/** A finished SCSI command. */
export interface CommandEvent extends CommandDone {
  readonly tsih: number;
  readonly targetName: string;
}

/** A closed connection. */
export interface ConnectionClosedEvent {
  /** The server's id of the connection (as in the `connection` event). */
  readonly id: number;
  readonly remote: PortalAddress;
  /** Its session and CID, when it got past login. */
  readonly tsih: number | undefined;
  readonly cid: number | undefined;
  /** Why the transport failed, if it did (e.g. a digest error). */
  readonly error: unknown;
}

/** What {@link IscsiTarget.reconfigure} did, target by target (names as configured). */
export interface ReconfigureResult {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly replaced: readonly string[];
  readonly unchanged: readonly string[];
  /** TSIHs of the sessions asked to log out because their target was removed or replaced. */
  readonly endingSessions: readonly number[];
  /** Resolves once those sessions are gone (they are dropped at the logout deadline at the latest). */
  readonly settled: Promise<void>;
}

/** Something that happened in the server, for logs. */
export type TargetServerEvent =
  | { readonly kind: 'listening'; readonly portalGroupTag: number; readonly address: PortalAddress }
  | {
      readonly kind: 'connection';
      /** The server's id of the connection, until it closes. */
      readonly id: number;
      readonly transport: TransportKind;
      readonly portalGroupTag: number;
      readonly remote: PortalAddress;
      readonly local: PortalAddress;
    }
  | {
      readonly kind: 'login-failed';
      readonly id: number;
      readonly remote: PortalAddress;
      readonly error: Error | undefined;
    }
  | {
      readonly kind: 'session-started';
      /** The connection id of the leading connection. */
      readonly id: number;
      readonly cid: number;
      /** The ISID as 12 hex digits. */
      readonly isid: string;
      readonly tsih: number;
      readonly initiatorName: string;
      readonly targetName: string | undefined;
      readonly sessionType: SessionType;
      readonly reinstated: number | undefined;
    }
  | {
      readonly kind: 'connection-joined';
      readonly id: number;
      readonly tsih: number;
      readonly cid: number;
      readonly replaced: boolean;
    }
  | { readonly kind: 'session-ended'; readonly tsih: number; readonly reason: TargetSessionError }
  | { readonly kind: 'session-event'; readonly tsih: number; readonly event: TargetSessionEvent };

/** Counters of an {@link IscsiTarget}. */
export interface TargetStats {
  /** Connections open now (in login or full feature phase). */
  readonly connections: number;
  /** Sessions open now. */
  readonly sessions: number;
  /** Logins that succeeded / failed since start. */
  readonly logins: number;
  readonly loginFailures: number;
  /** Sessions that ended since start. */
  readonly sessionsEnded: number;
  /** SCSI commands the devices finished since start. */
  readonly commands: number;
}

/** A registered session: the registry's view plus its driver. */
class SessionEntry implements RegisteredSession {
  constructor(
    readonly driver: SessionDriver,
    readonly initiatorName: string,
    readonly isid: Isid,
    readonly targetName: string | undefined,
    readonly sessionType: SessionType,
  ) {}

  get tsih(): number {
    return this.driver.session.tsih;
  }

  get params(): NegotiatedParams {
    return this.driver.session.params;
  }

  get cids(): readonly number[] {
    return this.driver.session.cids;
  }
}

const DEFAULT_LOGIN_TIMEOUT_MS = 30_000;
const DEFAULT_LOGOUT_DEADLINE_SECONDS = 5;

/** An iSCSI target server. */
export class IscsiTarget {
  #config: ResolvedTargetConfig;
  readonly #options: IscsiTargetOptions;
  readonly #scheduler: SchedulerLike;
  readonly #registry: SessionRegistry<SessionEntry>;
  readonly #devices = new Map<string, ScsiTargetDevice>();
  readonly #policies = new Map<number, TargetLoginPolicy>();
  readonly #connections = new Set<TargetConnection>();
  readonly #listeners: { readonly listener: DatamoverListener; readonly tag: number; readonly sub: Subscription }[] =
    [];
  readonly #waiters = new Set<() => void>();
  #closing: Promise<void> | undefined;
  #logins = 0;
  #loginFailures = 0;
  #sessionsEnded = 0;
  #commands = 0;
  #nextConnectionId = 1;

  /** Validates the configuration (throws TargetConfigError) and builds the targets' SCSI devices. */
  constructor(config: TargetConfig, options: IscsiTargetOptions = {}) {
    this.#config = validateTargetConfig(config);
    this.#options = options;
    this.#scheduler = options.scheduler ?? asyncScheduler;
    this.#registry = new SessionRegistry(this.#config.maxSessions);
    for (const node of this.#config.targets.values()) this.#devices.set(targetKey(node.name), this.#device(node));
  }

  /** The validated configuration in force (it changes with {@link reconfigure}). */
  get config(): ResolvedTargetConfig {
    return this.#config;
  }

  /** Opens a TCP listener on every portal of the configuration and serves them. */
  static async listen(config: TargetConfig, options: IscsiTargetOptions = {}): Promise<IscsiTarget> {
    const target = new IscsiTarget(config, options);
    try {
      for (const group of target.#config.portalGroups.values()) {
        for (const portal of group.portals) {
          if ((portal.transport ?? 'tcp') !== 'tcp') {
            throw new TargetServerError(
              'ERR_SERVER_TRANSPORT',
              `portal ${portal.host}:${portal.port}: only TCP portals can be opened here (hand iSER listeners to serve())`,
            );
          }
          const listener = await TcpListener.listen(
            { host: portal.host, port: portal.port },
            { ...options.tcp, ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }) },
          );
          target.serve(listener, group.tag);
        }
      }
    } catch (err) {
      await target.close();
      throw err;
    }
    return target;
  }

  /** The portals being served, with their portal group tags. */
  get portals(): { readonly portalGroupTag: number; readonly address: PortalAddress }[] {
    return this.#listeners.map((l) => ({ portalGroupTag: l.tag, address: l.listener.address }));
  }

  /** Counters. */
  get stats(): TargetStats {
    return {
      connections: this.#connections.size,
      sessions: this.#registry.size,
      logins: this.#logins,
      loginFailures: this.#loginFailures,
      sessionsEnded: this.#sessionsEnded,
      commands: this.#commands,
    };
  }

  /** The SCSI device of a target (for tests and tools). */
  device(targetName: string): ScsiTargetDevice | undefined {
    return this.#devices.get(targetKey(targetName));
  }

  /**
   * Puts a new configuration in force, or throws (TargetConfigError, ERR_SERVER_TRANSPORT) and changes nothing.
   * Target nodes are compared by object: a node passed again (the same object, under the same name) is
   * unchanged and its sessions are untouched; a new object under a known name replaces the node (new SCSI
   * device, so unit attentions and reservations start afresh); a name no longer present removes it. Sessions of
   * removed and replaced targets are asked to log out (Async Message) and dropped at the deadline; new logins
   * see the new configuration at once. Every portal group a served listener uses must still exist.
   */
  reconfigure(next: TargetConfig, options: { readonly logoutDeadlineSeconds?: number } = {}): ReconfigureResult {
    this.#checkOpen();
    const resolved = validateTargetConfig(next);
    for (const { listener, tag } of this.#listeners) {
      if (!resolved.portalGroups.has(tag)) {
        throw new TargetServerError(
          'ERR_SERVER_TRANSPORT',
          `portal group ${tag} is still served on ${listener.address.host}:${listener.address.port} (unserve it first)`,
        );
      }
    }
    const old = this.#config;
    const added: string[] = [];
    const removed: string[] = [];
    const replaced: string[] = [];
    const unchanged: string[] = [];
    const leaving: SessionEntry[] = [];
    for (const [key, node] of old.targets) {
      const successor = resolved.targets.get(key);
      if (successor === node) {
        unchanged.push(node.name);
        continue;
      }
      (successor === undefined ? removed : replaced).push(node.name);
      leaving.push(...this.#registry.forTarget(node.name).filter((e) => !e.driver.ended));
      this.#devices.delete(key);
    }
    for (const [key, node] of resolved.targets) {
      if (old.targets.get(key) !== node) this.#devices.set(key, this.#device(node));
      if (!old.targets.has(key)) added.push(node.name);
    }
    this.#config = resolved;
    // Policies read the configuration they were made with: make them again on next use.
    this.#policies.clear();
    const seconds =
      options.logoutDeadlineSeconds ?? this.#options.logoutDeadlineSeconds ?? DEFAULT_LOGOUT_DEADLINE_SECONDS;
    // They stay registered until they end: a login with the same identity reinstates them onto the new node.
    for (const entry of leaving) entry.driver.run(entry.driver.session.requestLogout(seconds));
    const settled = this.#until(() => leaving.every((e) => e.driver.ended), seconds * 1000 + 1000).then(() => {
      for (const entry of leaving) {
        if (entry.driver.ended) continue;
        const name = entry.targetName ?? '';
        const reason = new TargetSessionError(
          'ERR_TARGET_SESSION_SHUTDOWN',
          `target ${name} was ${removed.includes(name) ? 'removed' : 'replaced'} by a reconfiguration`,
        );
        entry.driver.run(entry.driver.session.close(reason));
      }
    });
    return { added, removed, replaced, unchanged, endingSessions: leaving.map((e) => e.tsih), settled };
  }

  /** Serves a listener's connections as portal group `portalGroupTag` (which must be configured). */
  serve(listener: DatamoverListener, portalGroupTag: number): void {
    this.#checkOpen();
    if (!this.#config.portalGroups.has(portalGroupTag)) {
      throw new TargetServerError('ERR_SERVER_TRANSPORT', `portal group ${portalGroupTag} is not configured`);
    }
    const sub = listener.connections.subscribe((connection) => {
      this.accept(connection, portalGroupTag);
    });
    this.#listeners.push({ listener, tag: portalGroupTag, sub });
    this.#emit({ kind: 'listening', portalGroupTag, address: listener.address });
  }

  /**
   * Stops serving a listener and closes it. Connections it accepted stay: their sessions end by logout or by
   * {@link reconfigure}, not because the portal went away.
   */
  async unserve(listener: DatamoverListener): Promise<void> {
    const index = this.#listeners.findIndex((l) => l.listener === listener);
    if (index < 0) return;
    const [entry] = this.#listeners.splice(index, 1);
    entry?.sub.unsubscribe();
    await listener.close().catch(() => undefined);
  }

  /** Takes one accepted connection through login and full feature phase. */
  accept(transport: DatamoverConnection, portalGroupTag: number): void {
    if (this.#closing !== undefined || !this.#config.portalGroups.has(portalGroupTag)) {
      void transport.close().catch(() => undefined);
      return;
    }
    const id = this.#nextConnectionId++;
    this.#emit({
      kind: 'connection',
      id,
      transport: transport.kind,
      portalGroupTag,
      remote: transport.remote,
      local: transport.local,
    });
    let reservedTsih: number | undefined;
    // Every question goes to the policy in force when it is asked, so a login spanning a reload sees the new one.
    const policy = (): TargetLoginPolicy => this.#policy(portalGroupTag);
    const connection = new TargetConnection(transport, {
      id,
      login: {
        transport: transport.kind,
        portalGroupTag,
        policy: {
          lookupTarget: (...args) => policy().lookupTarget(...args),
          discovery: (...args) => policy().discovery(...args),
          isInitiatorAllowed: (...args) => policy().isInitiatorAllowed(...args),
          authentication: (...args) => policy().authentication(...args),
          chapSecret: (...args) => policy().chapSecret(...args),
          targetChapCredentials: (...args) => policy().targetChapCredentials(...args),
          findSession: (...args) => policy().findSession(...args),
          allocateTsih: () => (reservedTsih = policy().allocateTsih()),
        },
        commandWindow: this.#config.queueDepth,
        allowShortSecrets: this.#config.allowShortChapSecrets,
        ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
      },
      loginTimeoutMs: this.#options.loginTimeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS,
      scheduler: this.#scheduler,
      hooks: {
        sessionFor: (c, result) => {
          const driver = this.#sessionFor(c, result, portalGroupTag);
          reservedTsih = undefined;
          return driver;
        },
        loginFailed: (c, error: LoginError | TargetServerError | undefined) => {
          if (reservedTsih !== undefined && this.#registry.byTsih(reservedTsih) === undefined) {
            this.#registry.release(reservedTsih);
          }
          reservedTsih = undefined;
          this.#loginFailures += 1;
          this.#emit({ kind: 'login-failed', id: c.id, remote: c.transport.remote, error });
        },
        closed: (c, error) => {
          this.#connections.delete(c);
          this.#options.observer?.connectionClosed?.({
            id: c.id,
            remote: c.transport.remote,
            tsih: c.driver?.session.tsih,
            cid: c.cid,
            error,
          });
          this.#notify();
        },
      },
    });
    this.#connections.add(connection);
    connection.start();
  }

  /**
   * Stops accepting, asks every session to log out within the deadline (Async Message), then drops what is
   * left and closes every connection. Resolves once they are closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  // -------------------------------------------------------------------------------------------- sessions

  #sessionFor(connection: TargetConnection, result: TargetLoginResult, tag: number): SessionDriver {
    this.#checkOpen();
    this.#logins += 1;
    if (!result.leading) {
      const entry = this.#registry.byTsih(result.tsih);
      if (entry === undefined || entry.driver.ended) {
        throw new TargetServerError('ERR_SERVER_CLOSED', `session ${result.tsih} ended during the login`);
      }
      if (result.replacesConnection) entry.driver.replaceConnection(result.cid);
      this.#emit({
        kind: 'connection-joined',
        id: connection.id,
        tsih: result.tsih,
        cid: result.cid,
        replaced: result.replacesConnection,
      });
      return entry.driver;
    }
    if (result.reinstate !== undefined) {
      // RFC 7143 §6.3.5: a new session with the identity of an existing one closes the old one first.
      const old = this.#registry.byTsih(result.reinstate);
      if (old !== undefined) {
        this.#registry.remove(old);
        const reason = new TargetSessionError('ERR_TARGET_SESSION_REINSTATED', `session ${old.tsih} was reinstated`);
        old.driver.run(old.driver.session.close(reason));
      }
    }
    const node = result.targetName === undefined ? undefined : findTarget(this.#config, result.targetName, tag);
    const device = node === undefined ? undefined : this.#devices.get(targetKey(node.name));
    const session = new TargetSession({
      tsih: result.tsih,
      isid: result.isid,
      initiatorName: result.initiatorName,
      targetName: node?.name ?? result.targetName,
      sessionType: result.sessionType,
      portalGroupTag: tag,
      params: result.params,
      transport: connection.transport.kind,
      ...(node?.negotiation === undefined ? {} : { negotiation: node.negotiation }),
      expCmdSN: result.expCmdSN,
      maxCmdSN: result.maxCmdSN,
      queueDepth: node?.queueDepth ?? this.#config.queueDepth,
      nopInIntervalMs: this.#config.nopInIntervalMs,
      nopInTimeoutMs: this.#config.nopInTimeoutMs,
      ...(device === undefined
        ? {}
        : {
            transferLengths: (lun: number, cdb: Buffer) => device.transferLengths(lun, cdb),
            hasLun: (lun: number) => device.unit(lun) !== undefined,
          }),
      sendTargets: (request) => answerSendTargets(this.#config, request),
    });
    const driver = new SessionDriver(session, device, this.#scheduler, {
      onReset: (origin, kind, lun) => {
        this.#reset(origin, kind, lun);
      },
      onClearTaskSet: (origin, lun) => {
        for (const other of this.#peers(origin)) other.driver.run(other.driver.session.abortTasks(lun));
      },
      onEnded: (ended, reason) => {
        // SAM-5 I_T nexus loss: a session that ends other than by logout ended its tasks without status, so the
        // initiator port finds I_T NEXUS LOSS OCCURRED (29h/07h) on its next command (e.g. after reinstatement).
        if (reason.code !== 'ERR_TARGET_SESSION_LOGGED_OUT') ended.device?.nexusLost(ended.session.nexus);
        const entry = this.#registry.byTsih(ended.session.tsih);
        if (entry?.driver === ended) this.#registry.remove(entry);
        this.#sessionsEnded += 1;
        this.#emit({ kind: 'session-ended', tsih: ended.session.tsih, reason });
        this.#notify();
      },
      onEvent: (origin, event) => {
        this.#emit({ kind: 'session-event', tsih: origin.session.tsih, event });
      },
      ...(this.#options.commandClock === undefined ? {} : { clock: this.#options.commandClock }),
      onCommand: (origin, done) => {
        this.#commands += 1;
        this.#options.observer?.command?.({ ...done, tsih: origin.session.tsih, targetName: node?.name ?? '' });
      },
    });
    this.#registry.add(
      new SessionEntry(driver, result.initiatorName, result.isid, node?.name ?? result.targetName, result.sessionType),
    );
    this.#emit({
      kind: 'session-started',
      id: connection.id,
      cid: result.cid,
      isid: formatIsid(result.isid),
      tsih: result.tsih,
      initiatorName: result.initiatorName,
      targetName: result.targetName,
      sessionType: result.sessionType,
      reinstated: result.reinstate,
    });
    return driver;
  }

  /** The other live sessions of `origin`'s target (on the same device: a replaced node's sessions are not peers). */
  #peers(origin: SessionDriver): SessionEntry[] {
    const mine = this.#registry.all().find((e) => e.driver === origin);
    if (mine?.targetName === undefined) return [];
    return this.#registry
      .forTarget(mine.targetName)
      .filter((e) => e.driver !== origin && !e.driver.ended && e.driver.device === origin.device);
  }

  #device(node: TargetNodeConfig): ScsiTargetDevice {
    const device: ScsiTargetDevice = createScsiDevice(node, {
      onAbortTasks: (lun, nexuses) => {
        this.#preempted(device, node.name, lun, nexuses);
      },
    });
    return device;
  }

  #reset(origin: SessionDriver, kind: TargetResetKind, lun: number | undefined): void {
    const device = origin.device;
    if (kind === 'it-nexus-reset') {
      device?.nexusLost(origin.session.nexus);
      return;
    }
    device?.reset(kind, lun);
    for (const other of this.#peers(origin)) {
      const driver = other.driver;
      driver.run(driver.session.abortTasks(kind === 'lun-reset' ? lun : undefined));
      if (kind === 'target-cold-reset') {
        driver.run(
          driver.session.close(new TargetSessionError('ERR_TARGET_SESSION_TARGET_RESET', 'TARGET COLD RESET')),
        );
      }
    }
  }

  /** PREEMPT AND ABORT: the preempted nexuses' tasks on `lun` end without a response. */
  #preempted(device: ScsiTargetDevice, targetName: string, lun: number, nexuses: readonly ScsiNexus[]): void {
    const ports = new Set(nexuses.map((n) => n.initiatorPortName));
    for (const entry of this.#registry.forTarget(targetName)) {
      if (entry.driver.device === device && ports.has(entry.driver.session.nexus.initiatorPortName)) {
        entry.driver.run(entry.driver.session.abortTasks(lun));
      }
    }
  }

  #policy(tag: number): TargetLoginPolicy {
    let policy = this.#policies.get(tag);
    if (policy === undefined) {
      policy = createLoginPolicy(this.#config, this.#registry, tag);
      this.#policies.set(tag, policy);
    }
    return policy;
  }

  // ------------------------------------------------------------------------------------------- shutdown

  async #shutDown(): Promise<void> {
    for (const { listener, sub } of this.#listeners) {
      sub.unsubscribe();
      await listener.close().catch(() => undefined);
    }
    for (const connection of [...this.#connections]) {
      if (connection.phase === 'login') void connection.close();
    }
    const seconds = this.#options.logoutDeadlineSeconds ?? DEFAULT_LOGOUT_DEADLINE_SECONDS;
    for (const entry of this.#registry.all()) entry.driver.run(entry.driver.session.requestLogout(seconds));
    await this.#until(() => this.#registry.size === 0, seconds * 1000 + 1000);
    const reason = new TargetSessionError('ERR_TARGET_SESSION_SHUTDOWN', 'the target is shutting down');
    for (const entry of this.#registry.all()) entry.driver.run(entry.driver.session.close(reason));
    for (const connection of [...this.#connections]) void connection.close();
    await this.#until(() => this.#connections.size === 0, 5000);
  }

  /** Resolves when `done()` holds or after `ms` of scheduler time, whichever comes first. */
  #until(done: () => boolean, ms: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (!done()) return;
        finish();
      };
      const timer = this.#scheduler.schedule(() => {
        finish();
      }, ms);
      const finish = (): void => {
        timer.unsubscribe();
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new TargetServerError('ERR_SERVER_CLOSED', 'the target is closing');
  }

  #emit(event: TargetServerEvent): void {
    this.#options.onEvent?.(event);
  }
}
