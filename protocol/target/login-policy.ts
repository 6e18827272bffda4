/**
 * The answers the target login machine asks for (`TargetLoginPolicy`), derived from a validated configuration
 * and the session registry: which targets exist on this portal group, who may log in, which authentication a
 * login must pass and with which CHAP secrets, and which session a login refers to.
 */
import type { ChapCredentials, ChapSecret } from '../login/chap.js';
import type { TargetAuthPolicy, TargetLoginPolicy, TargetLookup } from '../login/target-login.js';
import type { ChapConfig, InitiatorAcl, TargetNodeConfig } from './config.js';
import type { RegisteredSession, SessionRegistry } from './session-registry.js';
import { targetKey, type ResolvedTargetConfig } from './validate.js';

/** True when `initiatorName` passes the ACL (names compare case-insensitively). */
export function aclAllows(acl: InitiatorAcl, initiatorName: string): boolean {
  if (acl === 'any') return true;
  const name = initiatorName.toLowerCase();
  return acl.some((entry) => entry.toLowerCase() === name);
}

/** True when the target is reachable through portal group `tag`. */
export function exposedOn(node: TargetNodeConfig, tag: number): boolean {
  return node.portalGroups === undefined || node.portalGroups.includes(tag);
}

/** The target node a login names, if it exists and is reachable through portal group `tag`. */
export function findTarget(config: ResolvedTargetConfig, name: string, tag: number): TargetNodeConfig | undefined {
  const node = config.targets.get(targetKey(name));
  return node !== undefined && exposedOn(node, tag) ? node : undefined;
}

function authOf(chap: ChapConfig | undefined): TargetAuthPolicy {
  if (chap === undefined) return { methods: ['None'] };
  return {
    methods: ['CHAP'],
    ...(chap.algorithms === undefined ? {} : { chapAlgorithms: chap.algorithms }),
    ...(chap.requireMutual === true ? { requireMutual: true } : {}),
  };
}

/** The login policy of portal group `tag`. */
export function createLoginPolicy<S extends RegisteredSession>(
  config: ResolvedTargetConfig,
  registry: SessionRegistry<S>,
  tag: number,
): TargetLoginPolicy {
  const chapOf = (targetName: string | undefined): ChapConfig | undefined =>
    targetName === undefined ? config.discovery.chap : findTarget(config, targetName, tag)?.chap;
  return {
    lookupTarget(targetName: string): TargetLookup {
      const node = findTarget(config, targetName, tag);
      if (node === undefined) return { kind: 'not-found' };
      return {
        kind: 'found',
        ...(node.negotiation === undefined ? {} : { negotiation: node.negotiation }),
        ...(node.alias === undefined ? {} : { alias: node.alias }),
      };
    },
    discovery() {
      return { allowed: config.discovery.enabled };
    },
    isInitiatorAllowed(initiatorName: string, targetName: string | undefined): boolean {
      if (targetName === undefined) return aclAllows(config.discovery.acl, initiatorName);
      const node = findTarget(config, targetName, tag);
      return node !== undefined && aclAllows(node.acl ?? 'any', initiatorName);
    },
    authentication(_initiatorName: string, targetName: string | undefined): TargetAuthPolicy {
      return authOf(chapOf(targetName));
    },
    chapSecret(user: string, _initiatorName: string, targetName: string | undefined): ChapSecret | undefined {
      return chapOf(targetName)?.accounts.find((a) => a.user === user)?.secret;
    },
    targetChapCredentials(_initiatorName: string, targetName: string | undefined): ChapCredentials | undefined {
      return chapOf(targetName)?.mutual;
    },
    findSession: (query) => registry.find(query),
    allocateTsih: () => registry.allocateTsih(),
  };
}
