/** `discover()`: a discovery session, SendTargets=All, logout (RFC 7143 §4.3, Appendix C). */
import { lastValueFrom } from 'rxjs';
import type { PortalAddress } from '../datamover.js';
import type { DiscoveredTarget } from '../text/sendtargets.js';
import { startSession, type LoginOptions } from './login.js';

/** Options of {@link discover}: those of a login, without a target. */
export type DiscoverOptions = Omit<LoginOptions, 'portal' | 'targetName' | 'transport'>;

/** Asks the portal which targets it offers, and where. The discovery session is logged out before returning. */
export async function discover(portal: PortalAddress, options: DiscoverOptions): Promise<DiscoveredTarget[]> {
  const session = await startSession(
    { ...options, portal, session: { nopIntervalMs: 0, ...options.session, recovery: false } },
    'Discovery',
  );
  try {
    return await lastValueFrom(session.sendTargets('All'));
  } finally {
    await session.close();
  }
}
