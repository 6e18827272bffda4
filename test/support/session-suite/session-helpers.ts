/** Logging in to a fixture's target and getting a LUN ready, the way every test of the suite starts. */
import { login, type LoginOptions, type Lun, type Session } from '../../../protocol/initiator/index.js';
import type { InitiatorAuthConfig } from '../../../protocol/login/initiator-login.js';
import { ScsiStatusError } from '../../../protocol/scsi/errors.js';
import { SenseKey } from '../../../protocol/scsi/sense-codes.js';
import type { NegotiationConfig } from '../../../protocol/text/config.js';
import type { SessionFixture, SuiteLun, SuiteTarget } from './fixture.js';
import { bounded } from './workload.js';

/** What a test may change about a login. */
export interface OpenOptions {
  /** Operational preferences on top of the fixture's. */
  readonly negotiation?: NegotiationConfig;
  /** Authentication (default: the target's CHAP credentials, or none). */
  readonly auth?: InitiatorAuthConfig;
}

/** The login options for `target` (exported so tests can vary them). */
export function loginOptions(fixture: SessionFixture, target: SuiteTarget, options: OpenOptions = {}): LoginOptions {
  const auth: InitiatorAuthConfig =
    options.auth ??
    (target.chap === undefined
      ? { method: 'None' }
      : { method: 'CHAP', credentials: { user: target.chap.user, secret: target.chap.secret } });
  return {
    connector: fixture.connector(),
    portal: target.portal,
    targetName: target.targetName,
    initiatorName: fixture.initiatorName,
    transport: fixture.transport,
    scheduler: fixture.scheduler,
    auth,
    negotiation: { ...fixture.negotiation, ...options.negotiation },
    loginTimeoutMs: 10_000,
    // Keepalive would only add traffic the wire checks must skip; the suite's own bounds catch a dead peer.
    session: { nopIntervalMs: 0 },
  };
}

/** Logs in to `target`. */
export function openSession(fixture: SessionFixture, target: SuiteTarget, options: OpenOptions = {}): Promise<Session> {
  return login(loginOptions(fixture, target, options));
}

/** The first LUN of a target (every fixture has one). */
export function firstLun(target: SuiteTarget): SuiteLun {
  const lun = target.luns[0];
  if (lun === undefined) throw new Error(`fixture target ${target.targetName} has no LUN`);
  return lun;
}

/**
 * A LUN with its block size known, after TEST UNIT READY has cleared the unit attention a fresh I_T nexus gets
 * (POWER ON OR RESET OCCURRED: tgt and our target both report it, as SPC requires).
 */
export async function readyLun(session: Session, lun: SuiteLun, fixture: SessionFixture): Promise<Lun> {
  const handle = session.lun(lun.lun, { blockSize: lun.blockSize });
  for (let attempt = 1; ; attempt++) {
    try {
      await bounded(handle.testUnitReady(), fixture.workload.opTimeoutMs, fixture.scheduler);
      return handle;
    } catch (err) {
      const unitAttention = err instanceof ScsiStatusError && err.sense?.key === SenseKey.UnitAttention;
      if (!unitAttention || attempt >= 4) throw err;
    }
  }
}

/** Runs `body` on a logged-in session, closing it afterwards whatever happens. */
export async function withSession<T>(
  fixture: SessionFixture,
  target: SuiteTarget,
  body: (session: Session) => Promise<T>,
  options: OpenOptions = {},
): Promise<T> {
  const session = await openSession(fixture, target, options);
  try {
    return await body(session);
  } finally {
    await session.close();
  }
}
