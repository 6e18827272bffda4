/**
 * Logging in for one command and always logging out: a session, a LUN, a discovery, each bounded in time, each
 * closed on every path out.
 */
import { asyncScheduler, lastValueFrom, throwError, timeout, type Observable, type SchedulerLike } from 'rxjs';
import { discover } from '../protocol/initiator/discover.js';
import { login } from '../protocol/initiator/login.js';
import type { Lun } from '../protocol/initiator/lun.js';
import { ScsiStatusError } from '../protocol/scsi/errors.js';
import { SenseKey } from '../protocol/scsi/sense-codes.js';
import type { Session } from '../protocol/initiator/session.js';
import type { NegotiatedParams } from '../protocol/text/params.js';
import type { DiscoveredTarget } from '../protocol/text/sendtargets.js';
import type { LoginPlan } from './connect-options.js';
import { openConnector } from './connectors.js';
import type { CommandContext } from './context.js';
import { CliError } from './errors.js';

/** The one value of a command Observable, or ERR_CLI_TIMEOUT after `ms` (unsubscribing aborts the command). */
export function bounded<T>(
  command: Observable<T>,
  ms: number,
  what = 'the command',
  scheduler: SchedulerLike = asyncScheduler,
): Promise<T> {
  return lastValueFrom(
    command.pipe(
      timeout({
        first: ms,
        scheduler,
        with: () =>
          throwError(
            () => new CliError('ERR_CLI_TIMEOUT', `${what} got no answer within ${ms / 1000} s (--command-timeout)`),
          ),
      }),
    ),
  );
}

/** Says so when the target refused a digest the user insisted on (the RFC lets the login go on without it). */
function warnUnmetDigests(plan: LoginPlan, params: NegotiatedParams, ctx: CommandContext): void {
  const asked = plan.negotiation;
  if (asked === undefined || plan.transport === 'iser') return;
  for (const [key, wanted, got] of [
    ['HeaderDigest', asked.headerDigest, params.headerDigest],
    ['DataDigest', asked.dataDigest, params.dataDigest],
  ] as const) {
    if (wanted !== undefined && !wanted.includes(got)) {
      ctx.noteOnce(`digest:${key}`, `note: the target refused ${key}=${wanted.join(',')}; running with ${key}=${got}`);
    }
  }
}

/** A logged-in session and how to end it (logout, then release the connector). */
export interface OpenSession {
  readonly session: Session;
  readonly close: () => Promise<void>;
}

/** Logs in to the plan's target. The caller must call `close()`. */
export async function openSession(plan: LoginPlan, ctx: CommandContext): Promise<OpenSession> {
  if (plan.targetName === undefined) throw new CliError('ERR_CLI_USAGE', 'the URL names no target (/iqn/lun)');
  const opened = await openConnector(
    { transport: plan.transport, connectTimeoutMs: plan.loginTimeoutMs, pcap: plan.pcap, softroce: plan.softroce },
    ctx,
  );
  try {
    const session = await login({
      connector: opened.connector,
      portal: plan.portal,
      targetName: plan.targetName,
      initiatorName: plan.initiatorName,
      transport: plan.transport,
      loginTimeoutMs: plan.loginTimeoutMs,
      ...(plan.auth === undefined ? {} : { auth: plan.auth }),
      ...(plan.negotiation === undefined ? {} : { negotiation: plan.negotiation }),
    });
    warnUnmetDigests(plan, session.params, ctx);
    return {
      session,
      close: async () => {
        await session.close();
        await opened.close();
      },
    };
  } catch (err) {
    await opened.close();
    throw err;
  }
}

/** Logs in to the plan's target, runs `work`, and logs out whatever happened. */
export async function withSession<T>(
  plan: LoginPlan,
  ctx: CommandContext,
  work: (session: Session) => Promise<T>,
): Promise<T> {
  const open = await openSession(plan, ctx);
  try {
    return await work(open.session);
  } finally {
    await open.close();
  }
}

/** Most unit attentions one LUN may report in a row after login (power on, parameters changed, ...). */
const MAX_UNIT_ATTENTIONS = 8;

/**
 * TEST UNIT READY until no UNIT ATTENTION is pending, as libiscsi's tools do after login: a new I_T nexus starts
 * with "power on or reset occurred", which would otherwise fail the first real command. Other statuses are left
 * for that command to report.
 */
export async function clearUnitAttention(
  lun: Lun,
  timeoutMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): Promise<void> {
  for (let attempt = 0; attempt < MAX_UNIT_ATTENTIONS; attempt++) {
    try {
      await bounded(lun.testUnitReady(), timeoutMs, 'TEST UNIT READY', scheduler);
      return;
    } catch (err) {
      if (!(err instanceof ScsiStatusError)) throw err;
      if (err.sense?.key !== SenseKey.UnitAttention) return;
    }
  }
}

/** {@link withSession} on the plan's LUN, its unit attentions cleared. */
export function withLun<T>(plan: LoginPlan, ctx: CommandContext, work: (lun: Lun) => Promise<T>): Promise<T> {
  return withSession(plan, ctx, async (session) => {
    const lun = session.lun(plan.lun ?? 0);
    await clearUnitAttention(lun, plan.commandTimeoutMs);
    return work(lun);
  });
}

/** SendTargets=All at the plan's portal. */
export async function discoverTargets(plan: LoginPlan, ctx: CommandContext): Promise<DiscoveredTarget[]> {
  const opened = await openConnector(
    { transport: plan.transport, connectTimeoutMs: plan.loginTimeoutMs, pcap: plan.pcap, softroce: plan.softroce },
    ctx,
  );
  try {
    return await discover(plan.portal, {
      connector: opened.connector,
      initiatorName: plan.initiatorName,
      loginTimeoutMs: plan.loginTimeoutMs,
      ...(plan.auth === undefined ? {} : { auth: plan.auth }),
      ...(plan.negotiation === undefined ? {} : { negotiation: plan.negotiation }),
    });
  } finally {
    await opened.close();
  }
}
