/**
 * SendTargets answers (RFC 7143 §13.3, Appendix C) from the configuration: the targets an initiator may see and
 * the portals that reach each, with their portal group tags. A portal listening on a wildcard address reports
 * the address the question arrived at.
 */
import type { PortalAddress } from '../datamover.js';
import type { SendTargetsRequest } from '../session/target-types.js';
import type { DiscoveredTarget, TargetAddress } from '../text/sendtargets.js';
import type { TargetNodeConfig } from './config.js';
import { aclAllows, exposedOn } from './login-policy.js';
import { targetKey, type ResolvedTargetConfig } from './validate.js';

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '*']);

/** The addresses a target is reachable at, portal group by portal group. */
export function targetAddresses(
  config: ResolvedTargetConfig,
  node: TargetNodeConfig,
  local: PortalAddress,
): TargetAddress[] {
  const addresses: TargetAddress[] = [];
  for (const group of config.portalGroups.values()) {
    if (!exposedOn(node, group.tag)) continue;
    for (const portal of group.portals) {
      const wildcard = WILDCARDS.has(portal.host);
      addresses.push({
        host: wildcard ? local.host : portal.host,
        port: portal.port === 0 || wildcard ? local.port : portal.port,
        portalGroupTag: group.tag,
      });
    }
  }
  return addresses;
}

/**
 * The answer to `SendTargets=<value>`: `All` lists every target the initiator may log in to (in a normal session,
 * only the session's own target); a name lists that target; an empty value lists the session's target.
 */
export function answerSendTargets(config: ResolvedTargetConfig, request: SendTargetsRequest): DiscoveredTarget[] {
  const visible = (node: TargetNodeConfig): boolean => aclAllows(node.acl ?? 'any', request.initiatorName);
  const describe = (node: TargetNodeConfig): DiscoveredTarget => ({
    name: node.name,
    addresses: targetAddresses(config, node, request.local),
  });
  let wanted: TargetNodeConfig[];
  const session =
    request.sessionTarget === undefined ? undefined : config.targets.get(targetKey(request.sessionTarget));
  if (request.value === 'All') {
    wanted = request.sessionType === 'Normal' ? (session === undefined ? [] : [session]) : [...config.targets.values()];
  } else if (request.value === '') {
    wanted = session === undefined ? [] : [session];
  } else {
    const node = config.targets.get(targetKey(request.value));
    wanted = node === undefined ? [] : [node];
  }
  return wanted.filter(visible).map(describe);
}
