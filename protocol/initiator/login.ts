/**
 * `login()`: open a connection through a Datamover connector, log in (following redirections), and start a
 * {@link Session} on it. Everything the session needs to reinstate itself later (ISID, names, credentials) is kept
 * in memory only and never published.
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { DatamoverConnector, PortalAddress } from '../datamover.js';
import type { InitiatorAuthConfig, InitiatorLoginConfig } from '../login/initiator-login.js';
import { cryptoRandom, randomBytesFrom, type RandomSource } from '../login/random.js';
import { IsidType, type Isid } from '../pdu/isid.js';
import { InitiatorSession, type InitiatorSessionOptions } from '../session/initiator-session.js';
import type { NegotiationConfig } from '../text/config.js';
import type { TransportKind } from '../text/negotiator.js';
import type { SessionType } from '../text/params.js';
import { InitiatorError } from './errors.js';
import { establish } from './establish.js';
import { Session } from './session.js';

/** Options of {@link login}. */
export interface LoginOptions {
  /** Opens connections (TCP or iSER). */
  readonly connector: DatamoverConnector;
  /** Where the target listens. */
  readonly portal: PortalAddress;
  /** The target's iSCSI name. */
  readonly targetName: string;
  /** Our iSCSI name. */
  readonly initiatorName: string;
  /** Our alias. */
  readonly initiatorAlias?: string;
  /** The transport the caller expects (e.g. from an iser:// URL); must match the connector's kind. */
  readonly transport?: TransportKind;
  /** Our half of the session ID (default: a random one, type 2). */
  readonly isid?: Isid;
  /** Authentication (default None). Secrets stay in memory, never in logs or events. */
  readonly auth?: InitiatorAuthConfig;
  /** Operational preferences (digests, burst lengths, ...). */
  readonly negotiation?: NegotiationConfig;
  /** Clock for every timer (default: real time). */
  readonly scheduler?: SchedulerLike;
  /** How long a login may take (default 15000 ms). */
  readonly loginTimeoutMs?: number;
  /** How many login redirections to follow (default 4). */
  readonly maxRedirects?: number;
  /** Session timers and recovery (keepalive defaults to every 10 s here). */
  readonly session?: InitiatorSessionOptions;
  /** Randomness for the ISID and CHAP (default crypto.randomBytes). */
  readonly random?: RandomSource;
}

/** A random ISID (RFC 7143 §11.12.5, type 2: B and C random, D a random qualifier). */
export function randomIsid(random: RandomSource = cryptoRandom): Isid {
  const bytes = randomBytesFrom(random, 5, 'initiator');
  return { type: IsidType.Random, a: 0, b: bytes.readUInt16BE(0), c: bytes.readUInt8(2), d: bytes.readUInt16BE(3) };
}

function checkPositive(name: string, value: number | undefined, fallback: number): number {
  const n = value ?? fallback;
  if (!Number.isFinite(n) || n < 0) throw new InitiatorError('ERR_INITIATOR_BAD_OPTIONS', `${name} must be >= 0`);
  return n;
}

/** Logs in and starts a session with `sessionType` (internal: `login` and `discover` share it). */
export async function startSession(
  options: Omit<LoginOptions, 'targetName'> & { readonly targetName?: string },
  sessionType: SessionType,
): Promise<Session> {
  if (options.transport !== undefined && options.transport !== options.connector.kind) {
    throw new InitiatorError(
      'ERR_INITIATOR_BAD_OPTIONS',
      `the URL asks for ${options.transport === 'iser' ? 'iSER' : 'iSCSI over TCP'} but the connector speaks ${options.connector.kind}`,
    );
  }
  const scheduler = options.scheduler ?? asyncScheduler;
  const timeoutMs = checkPositive('loginTimeoutMs', options.loginTimeoutMs, 15_000);
  const maxRedirects = checkPositive('maxRedirects', options.maxRedirects, 4);
  const random = options.random ?? cryptoRandom;
  const loginConfig: InitiatorLoginConfig = {
    initiatorName: options.initiatorName,
    ...(options.initiatorAlias === undefined ? {} : { initiatorAlias: options.initiatorAlias }),
    ...(options.targetName === undefined ? {} : { targetName: options.targetName }),
    sessionType,
    isid: options.isid ?? randomIsid(random),
    transport: options.connector.kind,
    ...(options.auth === undefined ? {} : { auth: options.auth }),
    ...(options.negotiation === undefined ? {} : { negotiation: options.negotiation }),
    random,
  };
  const established = await establish({
    connector: options.connector,
    portal: options.portal,
    login: loginConfig,
    scheduler,
    timeoutMs,
    maxRedirects,
  });
  let machine: InitiatorSession;
  try {
    machine = new InitiatorSession({
      login: established.result,
      transport: options.connector.kind,
      ...(options.negotiation === undefined ? {} : { negotiation: options.negotiation }),
      options: { nopIntervalMs: 10_000, ...options.session },
      uninitialisedReadBuffers: established.link.connection.zeroesUnplacedReadBytes === true,
    });
  } catch (err) {
    await established.link.close();
    throw err;
  }
  return new Session(established, machine, scheduler, {
    connector: options.connector,
    portal: established.portal,
    login: loginConfig,
    timeoutMs,
    maxRedirects,
  });
}

/** Logs in to a target and returns the session in full feature phase. Rejects with the typed login error. */
export function login(options: LoginOptions): Promise<Session> {
  return startSession(options, 'Normal');
}
