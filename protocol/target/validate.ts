/**
 * Validation of a {@link TargetConfig}: every name, number and reference checked once, before anything listens,
 * with an error that says what is wrong where. The result has the defaults filled in and lookups by name.
 */
import { chapSecretBytes, checkChapAlgorithms, checkChapSecret } from '../login/chap.js';
import { LoginError } from '../login/errors.js';
import { MAX_FLAT_LUN } from '../scsi/lun.js';
import { isIscsiName, isLocalName, validateConfig } from '../text/config.js';
import { TextError } from '../text/errors.js';
import type {
  ChapConfig,
  DiscoveryConfig,
  InitiatorAcl,
  PortalGroupConfig,
  TargetConfig,
  TargetNodeConfig,
} from './config.js';
import { TargetConfigError, type TargetConfigErrorCode } from './errors.js';

/** Default commands a session may queue. */
export const DEFAULT_QUEUE_DEPTH = 32;
/** Default most sessions at once. */
export const DEFAULT_MAX_SESSIONS = 1024;
/** Default NOP-In timeout. */
export const DEFAULT_NOP_IN_TIMEOUT_MS = 15_000;

/** A checked configuration with defaults applied. */
export interface ResolvedTargetConfig {
  /** The configuration as given. */
  readonly source: TargetConfig;
  /** Target nodes by lower-cased name (iSCSI names compare case-insensitively). */
  readonly targets: ReadonlyMap<string, TargetNodeConfig>;
  /** Portal groups by tag. */
  readonly portalGroups: ReadonlyMap<number, PortalGroupConfig>;
  /** Discovery settings with defaults. */
  readonly discovery: Required<Pick<DiscoveryConfig, 'enabled' | 'acl'>> & Pick<DiscoveryConfig, 'chap'>;
  /** Commands a session may queue. */
  readonly queueDepth: number;
  /** NOP-In interval (0 = off) and timeout, in ms. */
  readonly nopInIntervalMs: number;
  readonly nopInTimeoutMs: number;
  /** Most sessions at once. */
  readonly maxSessions: number;
  /** Accept CHAP secrets under 96 bits. */
  readonly allowShortChapSecrets: boolean;
}

function fail(code: TargetConfigErrorCode, message: string, cause?: unknown): never {
  throw new TargetConfigError(code, message, cause === undefined ? undefined : { cause });
}

/** The key a target name is looked up by. */
export function targetKey(name: string): string {
  return name.toLowerCase();
}

/** True for an iSCSI name in one of RFC 7143 §4.2.7's forms (iqn., eui., naa.). */
export function isTargetNodeName(name: string): boolean {
  return isIscsiName(name) && /^(iqn\.\d{4}-\d{2}\..+|eui\.[0-9a-f]{16}|naa\.[0-9a-f]{16}([0-9a-f]{16})?)$/i.test(name);
}

function integer(value: number, min: number, max: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    fail('ERR_TARGET_CONFIG_VALUE', `${what} must be an integer in ${min}..${max}, not ${value}`);
  }
  return value;
}

function checkAcl(acl: InitiatorAcl, where: string): void {
  if (acl === 'any') return;
  for (const name of acl) {
    if (!isIscsiName(name))
      fail('ERR_TARGET_CONFIG_NAME', `${where}: ACL entry ${JSON.stringify(name)} is not an iSCSI name`);
  }
}

function checkChap(chap: ChapConfig, where: string, allowShort: boolean): void {
  const users = new Set<string>();
  if (chap.accounts.length === 0) fail('ERR_TARGET_CONFIG_CHAP', `${where}: CHAP needs at least one account`);
  const secret = (value: ChapConfig['accounts'][number]['secret'], what: string): void => {
    try {
      checkChapSecret(value, { allowShortSecrets: allowShort, what: `${where}: ${what}`, role: 'target' });
    } catch (err) {
      if (err instanceof LoginError) fail('ERR_TARGET_CONFIG_CHAP', err.message, err);
      throw err;
    }
  };
  for (const account of chap.accounts) {
    if (account.user.length === 0 || !isLocalName(account.user)) {
      fail('ERR_TARGET_CONFIG_CHAP', `${where}: a CHAP user name must be non-empty text`);
    }
    if (users.has(account.user)) fail('ERR_TARGET_CONFIG_DUPLICATE', `${where}: CHAP user ${account.user} twice`);
    users.add(account.user);
    secret(account.secret, `the secret of CHAP user ${account.user}`);
  }
  if (chap.mutual !== undefined) {
    if (chap.mutual.user.length === 0 || !isLocalName(chap.mutual.user)) {
      fail('ERR_TARGET_CONFIG_CHAP', `${where}: the mutual CHAP user name must be non-empty text`);
    }
    secret(chap.mutual.secret, 'the mutual CHAP secret');
    const own = chapSecretBytes(chap.mutual.secret);
    // RFC 7143 §9.2.1: a secret serves one direction only.
    if (chap.accounts.some((a) => chapSecretBytes(a.secret).equals(own))) {
      fail('ERR_TARGET_CONFIG_CHAP', `${where}: the mutual CHAP secret must differ from the initiators' secrets`);
    }
  } else if (chap.requireMutual === true) {
    fail('ERR_TARGET_CONFIG_CHAP', `${where}: requireMutual needs a mutual CHAP account`);
  }
  if (chap.algorithms !== undefined) {
    try {
      checkChapAlgorithms(chap.algorithms, 'target');
    } catch (err) {
      if (err instanceof LoginError) fail('ERR_TARGET_CONFIG_CHAP', `${where}: ${err.message}`, err);
      throw err;
    }
  }
}

function checkPortalGroups(groups: readonly PortalGroupConfig[]): Map<number, PortalGroupConfig> {
  const byTag = new Map<number, PortalGroupConfig>();
  const addresses = new Set<string>();
  if (groups.length === 0) fail('ERR_TARGET_CONFIG_PORTAL', 'at least one portal group is needed');
  for (const group of groups) {
    integer(group.tag, 0, 0xffff, 'a portal group tag');
    if (byTag.has(group.tag)) fail('ERR_TARGET_CONFIG_DUPLICATE', `portal group ${group.tag} is defined twice`);
    if (group.portals.length === 0) fail('ERR_TARGET_CONFIG_PORTAL', `portal group ${group.tag} has no portal`);
    for (const portal of group.portals) {
      if (portal.host.length === 0 || /[\s,[\]]/.test(portal.host)) {
        fail('ERR_TARGET_CONFIG_PORTAL', `portal group ${group.tag}: host ${JSON.stringify(portal.host)} is malformed`);
      }
      integer(portal.port, 0, 0xffff, `portal ${portal.host} port`);
      const address = `${portal.host.toLowerCase()}:${portal.port}:${portal.transport ?? 'tcp'}`;
      if (portal.port !== 0 && addresses.has(address)) {
        fail('ERR_TARGET_CONFIG_DUPLICATE', `portal ${portal.host}:${portal.port} is listed twice`);
      }
      addresses.add(address);
    }
    byTag.set(group.tag, group);
  }
  return byTag;
}

function checkTarget(
  node: TargetNodeConfig,
  groups: ReadonlyMap<number, PortalGroupConfig>,
  allowShort: boolean,
): void {
  const where = `target ${node.name}`;
  if (!isTargetNodeName(node.name)) {
    fail('ERR_TARGET_CONFIG_NAME', `${JSON.stringify(node.name)} is not an iSCSI target name (iqn., eui. or naa.)`);
  }
  if (node.alias !== undefined && !isLocalName(node.alias)) fail('ERR_TARGET_CONFIG_NAME', `${where}: bad alias`);
  const luns = new Set<number>();
  for (const lun of node.luns) {
    integer(lun.lun, 0, MAX_FLAT_LUN, `${where}: a LUN number`);
    if (luns.has(lun.lun)) fail('ERR_TARGET_CONFIG_DUPLICATE', `${where}: LUN ${lun.lun} is defined twice`);
    luns.add(lun.lun);
    const { blockSize, blockCount } = lun.backend;
    if (!Number.isSafeInteger(blockSize) || blockSize < 1 || !Number.isSafeInteger(blockCount) || blockCount < 1) {
      fail('ERR_TARGET_CONFIG_LUN', `${where}: LUN ${lun.lun} has no usable backend (block size or count)`);
    }
  }
  checkAcl(node.acl ?? 'any', where);
  if (node.chap !== undefined) checkChap(node.chap, where, allowShort);
  for (const tag of node.portalGroups ?? []) {
    if (!groups.has(tag)) fail('ERR_TARGET_CONFIG_PORTAL', `${where}: portal group ${tag} does not exist`);
  }
  if (node.queueDepth !== undefined) integer(node.queueDepth, 1, 0xffff, `${where}: queueDepth`);
  if (node.negotiation !== undefined) {
    try {
      validateConfig(node.negotiation);
    } catch (err) {
      if (err instanceof TextError) fail('ERR_TARGET_CONFIG_VALUE', `${where}: ${err.message}`, err);
      throw err;
    }
  }
}

/** Checks a configuration; throws {@link TargetConfigError} on the first problem. */
export function validateTargetConfig(config: TargetConfig): ResolvedTargetConfig {
  const allowShort = config.allowShortChapSecrets === true;
  const portalGroups = checkPortalGroups(config.portalGroups);
  const targets = new Map<string, TargetNodeConfig>();
  for (const node of config.targets) {
    checkTarget(node, portalGroups, allowShort);
    const key = targetKey(node.name);
    if (targets.has(key)) fail('ERR_TARGET_CONFIG_DUPLICATE', `target ${node.name} is defined twice`);
    targets.set(key, node);
  }
  const discovery = config.discovery ?? {};
  checkAcl(discovery.acl ?? 'any', 'discovery');
  if (discovery.chap !== undefined) checkChap(discovery.chap, 'discovery', allowShort);
  return {
    source: config,
    targets,
    portalGroups,
    discovery: {
      enabled: discovery.enabled ?? true,
      acl: discovery.acl ?? 'any',
      ...(discovery.chap === undefined ? {} : { chap: discovery.chap }),
    },
    queueDepth: integer(config.queueDepth ?? DEFAULT_QUEUE_DEPTH, 1, 0xffff, 'queueDepth'),
    nopInIntervalMs: integer(config.nopInIntervalMs ?? 0, 0, 86_400_000, 'nopInIntervalMs'),
    nopInTimeoutMs: integer(config.nopInTimeoutMs ?? DEFAULT_NOP_IN_TIMEOUT_MS, 1, 86_400_000, 'nopInTimeoutMs'),
    maxSessions: integer(config.maxSessions ?? DEFAULT_MAX_SESSIONS, 1, 0xffff, 'maxSessions'),
    allowShortChapSecrets: allowShort,
  };
}
