/**
 * The iscsid role: holds iSCSI sessions (ERL 0 recovery and NOP keepalive are the Session's own), serves one NBD
 * socket per session (an export per LUN), and answers `iser ctl` on an owner-only unix control socket.
 */
import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Subscription } from 'rxjs';
import { discover } from '../../protocol/initiator/discover.js';
import { login } from '../../protocol/initiator/login.js';
import type { Session } from '../../protocol/initiator/session.js';
import type { InitiatorAuthConfig } from '../../protocol/login/initiator-login.js';
import type { DatamoverConnector } from '../../protocol/datamover.js';
import { NbdServer } from '../../nbd/server.js';
import { DEFAULT_INITIATOR_NAME } from '../connect-options.js';
import { describeFailure, redact } from '../failure.js';
import { DaemonError } from './errors.js';
import { exportLun, probeLuns, rebindExports, type Exported, type ProbedLun } from './exports.js';
import {
  MAX_REQUEST_BYTES,
  Request,
  type AddRequest,
  type DiscoverRequest,
  type ModifyRequest,
  type Response,
  type SessionInfo,
} from './protocol.js';

/** How long a control client may take to send its request line. */
const REQUEST_IDLE_MS = 10_000;
/** NOP-Out keepalive of the daemon's sessions (login()'s default, restated where session options are given). */
const NOP_INTERVAL_MS = 10_000;
/** Most sessions one daemon holds. */
const MAX_SESSIONS = 256;

/** Opens connections for a transport, or says why it cannot. */
export interface TransportProviders {
  readonly tcp: () => DatamoverConnector;
  /** iSER: a connector, or undefined with `iserUnavailable` saying why. */
  readonly iser?: () => DatamoverConnector;
  readonly iserUnavailable?: string;
}

/** Options of {@link IscsiDaemon.start}. */
export interface DaemonOptions {
  readonly socketPath: string;
  /** Where NBD sockets go (default: the control socket's directory). */
  readonly nbdDir?: string;
  readonly transports: TransportProviders;
  /**
   * How long a lost session keeps trying to log in again before its NBD requests fail (default: the negotiated
   * DefaultTime2Wait + DefaultTime2Retain, 22 s unless changed). A target that takes longer to restart needs more.
   */
  readonly recoveryTimeoutMs?: number;
  /** Diagnostics (never a secret). */
  readonly log?: (line: string) => void;
}

/** A session the daemon holds. Its id and NBD socket never change; `-M` replaces the rest. */
interface HeldSession {
  readonly id: number;
  request: AddRequest;
  session: Session;
  readonly nbd: NbdServer;
  readonly nbdPath: string;
  /** Exports by LUN number. */
  exports: ReadonlyMap<number, Exported>;
  reconnects: number;
  /** The session's events, watched for reconnections (replaced with the session). */
  watch: Subscription | undefined;
  /** A `-M` is logging in its replacement. */
  modifying: boolean;
}

/** Request fields whose change logs a session in again (`-M`). */
const CONNECTION_FIELDS = [
  'target',
  'portal',
  'transport',
  'user',
  'secret',
  'initiatorName',
  'mutualUser',
  'mutualSecret',
] as const;

/** The default control socket: `$XDG_RUNTIME_DIR/iser/iserd.sock`, else `/tmp/iser-<uid>/iserd.sock`. */
export function defaultSocketPath(): string {
  const runtime = process.env['XDG_RUNTIME_DIR'];
  const uid = process.getuid?.() ?? 0;
  return runtime !== undefined && runtime !== '' ? join(runtime, 'iser', 'iserd.sock') : `/tmp/iser-${uid}/iserd.sock`;
}

/** Whether something accepts connections on the unix socket `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(true); // something holds it but is slow: do not steal it
    }, 2000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** Creates `dir` owner-only, or checks that an existing one is ours and not open to others. */
async function ownerOnlyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await lstat(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
    throw new DaemonError('ERR_DAEMON_SOCKET', `${dir} must be a directory owned by this user with mode 0700`);
  }
}

/** A running daemon. */
export class IscsiDaemon {
  readonly #sessions = new Map<number, HeldSession>();
  readonly #clients = new Set<Socket>();
  #nextId = 1;
  #closing: Promise<void> | undefined;
  readonly #nbdDir: string;

  private constructor(
    private readonly options: DaemonOptions,
    private readonly server: Server,
  ) {
    this.#nbdDir = options.nbdDir ?? dirname(options.socketPath);
  }

  /** Starts serving `options.socketPath`; throws ERR_DAEMON_RUNNING when another daemon already does. */
  static async start(options: DaemonOptions): Promise<IscsiDaemon> {
    const dir = dirname(options.socketPath);
    await ownerOnlyDir(dir);
    if (options.nbdDir !== undefined) await ownerOnlyDir(options.nbdDir);
    const existing = await lstat(options.socketPath).catch(() => undefined);
    if (existing !== undefined) {
      if (!existing.isSocket()) {
        throw new DaemonError('ERR_DAEMON_SOCKET', `${options.socketPath} exists and is not a socket`);
      }
      if (await answers(options.socketPath)) {
        throw new DaemonError('ERR_DAEMON_RUNNING', `a daemon is already running on ${options.socketPath}`);
      }
      await rm(options.socketPath, { force: true }); // stale: its daemon died
    }
    const server = createServer();
    const daemon = new IscsiDaemon(options, server);
    server.on('connection', (socket) => {
      daemon.#serve(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (cause: NodeJS.ErrnoException) => {
        reject(
          cause.code === 'EADDRINUSE'
            ? new DaemonError('ERR_DAEMON_RUNNING', `a daemon is already running on ${options.socketPath}`)
            : new DaemonError('ERR_DAEMON_SOCKET', `cannot listen on ${options.socketPath}: ${cause.message}`),
        );
      });
      server.listen(options.socketPath, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => {
          options.log?.(`control socket: ${err.message}`);
        });
        resolve();
      });
    });
    await chmod(options.socketPath, 0o600);
    return daemon;
  }

  /** The control socket's path. */
  get socketPath(): string {
    return this.options.socketPath;
  }

  /** Logs every session out, stops every NBD export, removes the sockets. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await new Promise<void>((resolve) => {
        this.server.close(() => {
          resolve();
        });
        for (const client of this.#clients) client.destroy();
      });
      await Promise.all([...this.#sessions.values()].map((held) => this.#drop(held)));
      await rm(this.options.socketPath, { force: true });
    })();
    return this.#closing;
  }

  #serve(socket: Socket): void {
    this.#clients.add(socket);
    socket.setTimeout(REQUEST_IDLE_MS);
    let buffered = Buffer.alloc(0);
    let answered = false;
    const reply = (response: Response): void => {
      answered = true;
      socket.setTimeout(0);
      socket.end(`${JSON.stringify(response)}\n`);
    };
    socket.on('timeout', () => {
      socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.#clients.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      if (answered) return;
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline < 0) {
        if (buffered.length > MAX_REQUEST_BYTES) reply(badRequest('request line too long'));
        return;
      }
      socket.setTimeout(0);
      answered = true;
      const line = buffered.subarray(0, newline).toString('utf8');
      this.#handle(line).then(reply, (err: unknown) => {
        reply(errorReply(err));
      });
    });
  }

  async #handle(line: string): Promise<Response> {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return badRequest('request is not JSON');
    }
    const parsed = Request.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue === undefined ? '' : `${issue.path.join('.') || 'request'}: `;
      return badRequest(`${where}${issue?.message ?? 'malformed request'}`);
    }
    const request = parsed.data;
    if (this.#closing !== undefined) throw new DaemonError('ERR_DAEMON_INTERNAL', 'the daemon is shutting down');
    switch (request.op) {
      case 'list':
        return { ok: true, sessions: this.#list(request.verbose ?? false) };
      case 'add':
        return { ok: true, sessions: [this.#info(await this.#add(request), false)] };
      case 'discover':
        return { ok: true, sessions: (await this.#discover(request)).map((held) => this.#info(held, false)) };
      case 'modify':
        return { ok: true, sessions: [this.#info(await this.#modify(request), false)] };
      case 'remove': {
        const chosen = [...this.#sessions.values()].filter(
          (held) =>
            request.all === true ||
            (request.id !== undefined && held.id === request.id) ||
            (request.target !== undefined && held.request.target === request.target) ||
            (request.nickname !== undefined && held.request.nickname === request.nickname),
        );
        if (chosen.length === 0 && request.all !== true) {
          const what =
            request.id === undefined ? `for ${request.target ?? request.nickname ?? ''}` : `with id ${request.id}`;
          throw new DaemonError('ERR_DAEMON_NO_SESSION', `no session ${what}`);
        }
        const infos = chosen.map((held) => this.#info(held, false));
        await Promise.all(chosen.map((held) => this.#drop(held)));
        return { ok: true, sessions: infos };
      }
    }
  }

  #list(verbose: boolean): SessionInfo[] {
    return [...this.#sessions.values()].map((held) => this.#info(held, verbose));
  }

  #info(held: HeldSession, verbose: boolean): SessionInfo {
    const base = {
      id: held.id,
      target: held.request.target,
      portal: held.request.portal,
      transport: held.request.transport,
      ...(held.request.nickname === undefined ? {} : { nickname: held.request.nickname }),
      state: held.session.state,
      reconnects: held.reconnects,
      luns: [...held.exports.values()].map((exported) => exported.info),
    };
    if (!verbose) return base;
    const p = held.session.params;
    const keys: Record<string, string> = {
      TSIH: String(held.session.tsih),
      HeaderDigest: p.headerDigest,
      DataDigest: p.dataDigest,
      InitialR2T: p.initialR2T ? 'Yes' : 'No',
      ImmediateData: p.immediateData ? 'Yes' : 'No',
      MaxRecvDataSegmentLength: `${p.maxRecvDataSegmentLength.initiator}/${p.maxRecvDataSegmentLength.target}`,
      MaxBurstLength: String(p.maxBurstLength),
      FirstBurstLength: String(p.firstBurstLength),
    };
    return { ...base, keys };
  }

  async #add(request: AddRequest): Promise<HeldSession> {
    this.#checkUnique(request, undefined);
    if (this.#sessions.size >= MAX_SESSIONS) {
      throw new DaemonError('ERR_DAEMON_EXISTS', `the daemon holds ${MAX_SESSIONS} sessions already`);
    }
    const session = await this.#login(request);
    const id = this.#nextId++;
    const nbdPath = join(this.#nbdDir, `nbd-${id}.sock`);
    const nbd = new NbdServer();
    try {
      const probed = await probeLuns(session);
      const exports = new Map(probed.map((p) => [p.number, exportLun(nbd, nbdPath, session, p)]));
      await rm(nbdPath, { force: true });
      await nbd.listen({ path: nbdPath });
      await chmod(nbdPath, 0o600);
      const held: HeldSession = {
        id,
        request,
        session,
        nbd,
        nbdPath,
        exports,
        reconnects: 0,
        watch: undefined,
        modifying: false,
      };
      this.#watch(held);
      this.#sessions.set(id, held);
      const count = exports.size;
      this.options.log?.(`session ${id}: logged in to ${request.target} at ${request.portal}, ${count} LUN(s)`);
      return held;
    } catch (err) {
      await nbd.close().catch(() => undefined);
      await session.close().catch(() => undefined);
      await rm(nbdPath, { force: true });
      throw err;
    }
  }

  /**
   * `-M`: with a connection field, logs in with the merged request first (a failure changes nothing), then moves
   * the NBD exports to the new session (same socket, same names; a LUN whose size changed is exported anew) and
   * logs the old one out. NBD requests waiting on the old session (say, recovering towards a portal that is gone)
   * are sent again on the new one. A nickname alone only renames.
   */
  async #modify(request: ModifyRequest): Promise<HeldSession> {
    const held = this.#sessions.get(request.id);
    if (held === undefined) {
      throw new DaemonError('ERR_DAEMON_NO_SESSION', `no session with id ${request.id} (iser ctl -L lists them)`);
    }
    if (held.modifying) throw new DaemonError('ERR_DAEMON_BUSY', `session ${held.id} is being modified already`);
    const { op: _op, id: _id, replace, ...changes } = request;
    if ((changes.user === undefined) !== (changes.secret === undefined)) {
      throw new DaemonError('ERR_DAEMON_BAD_REQUEST', 'CHAP needs both a user (-u) and a secret (-s)');
    }
    let next: AddRequest;
    if (replace === true) {
      const { target, portal, transport } = changes;
      if (target === undefined || portal === undefined) {
        throw new DaemonError('ERR_DAEMON_BAD_REQUEST', 'a replacing modify needs a target and a portal');
      }
      next = { ...changes, op: 'add', target, portal, transport: transport ?? 'tcp' };
    } else {
      next = { ...held.request, ...changes };
    }
    this.#checkUnique(next, held);
    const relogin = CONNECTION_FIELDS.some((field) => changes[field] !== undefined);
    if (!relogin) {
      if (changes.nickname === undefined) {
        throw new DaemonError('ERR_DAEMON_BAD_REQUEST', 'nothing to modify (give -t, -p, -T, -u/-s or -n)');
      }
      held.request = next;
      this.options.log?.(`session ${held.id}: nickname ${changes.nickname}`);
      return held;
    }
    held.modifying = true;
    try {
      const session = await this.#login(next);
      let probed: ProbedLun[];
      try {
        probed = await probeLuns(session);
        if (this.#sessions.get(held.id) !== held || this.#closing !== undefined) {
          throw new DaemonError('ERR_DAEMON_NO_SESSION', `session ${held.id} was removed while being modified`);
        }
      } catch (err) {
        await session.close().catch(() => undefined);
        throw err;
      }
      const old = held.session;
      const { exports, removed } = rebindExports(held.nbd, held.nbdPath, held.exports, session, probed);
      held.watch?.unsubscribe();
      held.exports = exports;
      held.session = session;
      this.#watch(held);
      held.request = next;
      this.options.log?.(`session ${held.id}: logged in again to ${next.target} at ${next.portal} (ctl -M)`);
      await old.close().catch(() => undefined);
      await Promise.all(removed);
      return held;
    } finally {
      held.modifying = false;
    }
  }

  /** Throws ERR_DAEMON_EXISTS when another session than `self` has `request`'s target and portal, or nickname. */
  #checkUnique(request: AddRequest, self: HeldSession | undefined): void {
    for (const held of this.#sessions.values()) {
      if (held === self) continue;
      if (held.request.target === request.target && held.request.portal === request.portal) {
        throw new DaemonError('ERR_DAEMON_EXISTS', `a session to ${request.target} at ${request.portal} exists`);
      }
      if (request.nickname !== undefined && held.request.nickname === request.nickname) {
        throw new DaemonError('ERR_DAEMON_EXISTS', `nickname ${request.nickname} is taken`);
      }
    }
  }

  /** Logs in as `request` says; a failure is ERR_DAEMON_LOGIN with the reason and the exit code it deserves. */
  async #login(request: AddRequest): Promise<Session> {
    if ((request.user === undefined) !== (request.secret === undefined)) {
      throw new DaemonError('ERR_DAEMON_BAD_REQUEST', 'CHAP needs both a user (-u) and a secret (-s)');
    }
    const portal = parsePortal(request.portal);
    const connector = this.#connector(request.transport);
    try {
      return await login({
        connector,
        portal,
        targetName: request.target,
        initiatorName: request.initiatorName ?? DEFAULT_INITIATOR_NAME,
        transport: request.transport,
        auth: authOf(request),
        ...(this.options.recoveryTimeoutMs === undefined
          ? {}
          : { session: { nopIntervalMs: NOP_INTERVAL_MS, recoveryTimeoutMs: this.options.recoveryTimeoutMs } }),
      });
    } catch (err) {
      const failure = describeFailure(err, secretsOf(request));
      throw new DaemonError('ERR_DAEMON_LOGIN', failure.message, { exitCode: failure.exitCode });
    }
  }

  /** Counts and logs reconnections of `held`'s current session. */
  #watch(held: HeldSession): void {
    const session = held.session;
    const log = (line: string): void => {
      this.options.log?.(`session ${held.id}: ${redact(line, secretsOf(held.request))}`);
    };
    held.watch = session.events.subscribe((event) => {
      if (held.session !== session) return;
      if (event.kind === 'connection-lost') log(`connection lost (${event.error.message}); reconnecting`);
      if (event.kind === 'reconnected') {
        held.reconnects += 1;
        log(`reconnected (TSIH ${event.tsih}, ${event.reissued} command(s) reissued)`);
      }
    });
    void session.ended.then(() => {
      if (held.session === session && session.state === 'failed' && this.#sessions.get(held.id) === held) {
        log('failed for good (recovery gave up); ctl -M -i logs it in again, ctl -R removes it');
      }
    });
  }

  /** Discovery at the portal, then a session to each target found that the daemon does not hold yet. */
  async #discover(request: DiscoverRequest): Promise<HeldSession[]> {
    if ((request.user === undefined) !== (request.secret === undefined)) {
      throw new DaemonError('ERR_DAEMON_BAD_REQUEST', 'CHAP needs both a user (-u) and a secret (-s)');
    }
    const portal = parsePortal(request.portal);
    let targets;
    try {
      targets = await discover(portal, {
        connector: this.#connector(request.transport),
        initiatorName: request.initiatorName ?? DEFAULT_INITIATOR_NAME,
        auth: authOf(request),
      });
    } catch (err) {
      const failure = describeFailure(err, secretsOf(request));
      throw new DaemonError('ERR_DAEMON_LOGIN', `discovery: ${failure.message}`, { exitCode: failure.exitCode });
    }
    const added: HeldSession[] = [];
    for (const target of targets.slice(0, MAX_SESSIONS)) {
      const held = [...this.#sessions.values()].some(
        (s) => s.request.target === target.name && s.request.portal === request.portal,
      );
      if (held) continue;
      const { op: _op, ...rest } = request;
      added.push(await this.#add({ ...rest, op: 'add', target: target.name }));
    }
    return added;
  }

  #connector(transport: 'tcp' | 'iser'): DatamoverConnector {
    const { transports } = this.options;
    if (transport === 'tcp') return transports.tcp();
    if (transports.iser === undefined) {
      throw new DaemonError(
        'ERR_DAEMON_ISER_UNAVAILABLE',
        `iSER unavailable: ${transports.iserUnavailable ?? 'the daemon was started without an iSER provider'}`,
      );
    }
    return transports.iser();
  }

  async #drop(held: HeldSession): Promise<void> {
    this.#sessions.delete(held.id);
    held.watch?.unsubscribe();
    // NBD clients finish their running requests first; but requests waiting on a session that is recovering would
    // hold the NBD close for its whole drain timeout: give that session up at once, so they get their error now.
    const nbdClosed = held.nbd.close().catch(() => undefined);
    if (held.session.state !== 'full-feature') await held.session.close().catch(() => undefined);
    await nbdClosed;
    await rm(held.nbdPath, { force: true });
    await held.session.close().catch(() => undefined);
    this.options.log?.(`session ${held.id}: logged out of ${held.request.target}`);
  }
}

/** `host:port`, `[v6]:port` or `host` (port 3260). Loopback and any other address the user names are allowed. */
function parsePortal(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/u.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = match?.[3] === undefined ? 3260 : Number(match[3]);
  if (host === undefined || port < 1 || port > 65535) {
    throw new DaemonError('ERR_DAEMON_BAD_REQUEST', `portal ${text}: expected host[:port]`);
  }
  return { host, port };
}

interface AuthFields {
  readonly user?: string;
  readonly secret?: string;
  readonly mutualUser?: string;
  readonly mutualSecret?: string;
}

function authOf(request: AuthFields): InitiatorAuthConfig {
  if (request.user === undefined || request.secret === undefined) return { method: 'None' };
  const mutual =
    request.mutualUser !== undefined && request.mutualSecret !== undefined
      ? { mutual: { user: request.mutualUser, secret: request.mutualSecret } }
      : {};
  return { method: 'CHAP', credentials: { user: request.user, secret: request.secret }, ...mutual };
}

/** The secrets of a request, to keep out of every message. */
function secretsOf(request: AuthFields): string[] {
  return [request.secret, request.mutualSecret].filter((s): s is string => s !== undefined);
}

function badRequest(message: string): Response {
  return { ok: false, code: 'ERR_DAEMON_BAD_REQUEST', message: `bad request: ${message}`, exitCode: 1 };
}

function errorReply(err: unknown): Response {
  if (err instanceof DaemonError && err.code !== 'ERR_DAEMON_RUNNING' && err.code !== 'ERR_DAEMON_SOCKET') {
    const code =
      err.code === 'ERR_DAEMON_NOT_RUNNING' || err.code === 'ERR_DAEMON_BAD_REPLY' ? 'ERR_DAEMON_INTERNAL' : err.code;
    return { ok: false, code, message: err.message, exitCode: err.exitCode };
  }
  const failure = describeFailure(err);
  return { ok: false, code: 'ERR_DAEMON_INTERNAL', message: failure.message, exitCode: failure.exitCode };
}
