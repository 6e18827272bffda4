import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../backends/memory.js';
import { isIserError } from '../../../protocol/errors.js';
import {
  aclAllows,
  answerSendTargets,
  createLoginPolicy,
  createScsiDevice,
  isTargetNodeName,
  SessionRegistry,
  validateTargetConfig,
  type RegisteredSession,
  type TargetConfig,
} from '../../../protocol/target/index.js';
import { defaultNegotiatedParams } from '../../support/datamover-pair.js';

const backend = new MemoryBackend(2048);
const base: TargetConfig = {
  targets: [
    { name: 'iqn.2024-01.org.example:disk', luns: [{ lun: 0, backend }] },
    {
      name: 'iqn.2024-01.org.example:secret',
      luns: [{ lun: 3, backend }],
      acl: ['iqn.2024-01.org.example:host1'],
      chap: {
        accounts: [{ user: 'host1', secret: 'initiator-secret-1' }],
        mutual: { user: 'target', secret: 'target-secret-12' },
      },
      portalGroups: [2],
    },
  ],
  portalGroups: [
    { tag: 1, portals: [{ host: '0.0.0.0', port: 3260 }] },
    { tag: 2, portals: [{ host: '192.0.2.1', port: 3261 }] },
  ],
};

function codeOf(config: TargetConfig): string | undefined {
  try {
    validateTargetConfig(config);
    return undefined;
  } catch (err) {
    return isIserError(err) ? err.code : String(err);
  }
}

describe('target configuration: validation', () => {
  it('accepts a good configuration and fills in defaults', () => {
    const resolved = validateTargetConfig(base);
    expect(resolved.queueDepth).toBe(32);
    expect(resolved.discovery).toEqual({ enabled: true, acl: 'any' });
    expect(resolved.targets.get('iqn.2024-01.org.example:disk')?.luns).toHaveLength(1);
  });

  it.each([
    ['a bad target name', { ...base, targets: [{ name: 'disk', luns: [] }] }, 'ERR_TARGET_CONFIG_NAME'],
    [
      'a duplicate target (case-insensitive)',
      { ...base, targets: [base.targets[0]!, { name: 'IQN.2024-01.org.example:DISK', luns: [] }] },
      'ERR_TARGET_CONFIG_DUPLICATE',
    ],
    [
      'a LUN out of range',
      { ...base, targets: [{ name: 'iqn.2024-01.a:b', luns: [{ lun: 16384, backend }] }] },
      'ERR_TARGET_CONFIG_VALUE',
    ],
    [
      'a duplicate LUN',
      {
        ...base,
        targets: [
          {
            name: 'iqn.2024-01.a:b',
            luns: [
              { lun: 1, backend },
              { lun: 1, backend },
            ],
          },
        ],
      },
      'ERR_TARGET_CONFIG_DUPLICATE',
    ],
    ['no portal group', { ...base, portalGroups: [] }, 'ERR_TARGET_CONFIG_PORTAL'],
    [
      'an unknown portal group',
      { ...base, targets: [{ name: 'iqn.2024-01.a:b', luns: [], portalGroups: [9] }] },
      'ERR_TARGET_CONFIG_PORTAL',
    ],
    [
      'a duplicate portal',
      {
        ...base,
        portalGroups: [
          {
            tag: 1,
            portals: [
              { host: 'a', port: 1 },
              { host: 'A', port: 1 },
            ],
          },
        ],
      },
      'ERR_TARGET_CONFIG_DUPLICATE',
    ],
    [
      'a short CHAP secret',
      {
        ...base,
        targets: [{ name: 'iqn.2024-01.a:b', luns: [], chap: { accounts: [{ user: 'u', secret: 'short' }] } }],
      },
      'ERR_TARGET_CONFIG_CHAP',
    ],
    [
      'one secret both ways',
      {
        ...base,
        targets: [
          {
            name: 'iqn.2024-01.a:b',
            luns: [],
            chap: {
              accounts: [{ user: 'u', secret: 'same-secret-123' }],
              mutual: { user: 't', secret: 'same-secret-123' },
            },
          },
        ],
      },
      'ERR_TARGET_CONFIG_CHAP',
    ],
    [
      'requireMutual without a mutual account',
      {
        ...base,
        targets: [
          {
            name: 'iqn.2024-01.a:b',
            luns: [],
            chap: { accounts: [{ user: 'u', secret: 'long-enough-secret' }], requireMutual: true },
          },
        ],
      },
      'ERR_TARGET_CONFIG_CHAP',
    ],
    [
      'a bad ACL entry',
      { ...base, targets: [{ name: 'iqn.2024-01.a:b', luns: [], acl: ['has space'] }] },
      'ERR_TARGET_CONFIG_NAME',
    ],
    ['a queue depth of 0', { ...base, queueDepth: 0 }, 'ERR_TARGET_CONFIG_VALUE'],
    [
      'a bad negotiation preference',
      { ...base, targets: [{ name: 'iqn.2024-01.a:b', luns: [], negotiation: { maxBurstLength: 1 } }] },
      'ERR_TARGET_CONFIG_VALUE',
    ],
  ] as const)('refuses %s', (_what, config, code) => {
    expect(codeOf(config as TargetConfig)).toBe(code);
  });

  it('knows the three iSCSI name forms', () => {
    expect(['iqn.2024-01.org.example:x', 'eui.0123456789abcdef', 'naa.0123456789abcdef'].every(isTargetNodeName)).toBe(
      true,
    );
    expect(['iqn.24-1.x', 'eui.123', 'foo'].some(isTargetNodeName)).toBe(false);
  });
});

describe('target configuration: login policy', () => {
  const config = validateTargetConfig(base);
  const registry = new SessionRegistry<RegisteredSession>();

  it('finds targets only on their portal groups', () => {
    const group1 = createLoginPolicy(config, registry, 1);
    const group2 = createLoginPolicy(config, registry, 2);
    expect(group1.lookupTarget('iqn.2024-01.org.example:disk').kind).toBe('found');
    expect(group1.lookupTarget('iqn.2024-01.org.example:secret').kind).toBe('not-found');
    expect(group2.lookupTarget('IQN.2024-01.ORG.EXAMPLE:SECRET').kind).toBe('found');
    expect(group1.lookupTarget('iqn.2024-01.org.example:nope').kind).toBe('not-found');
  });

  it('applies the ACL and asks for CHAP where configured', () => {
    const policy = createLoginPolicy(config, registry, 2);
    const name = 'iqn.2024-01.org.example:secret';
    expect(policy.isInitiatorAllowed('iqn.2024-01.org.example:host1', name)).toBe(true);
    expect(policy.isInitiatorAllowed('iqn.2024-01.org.example:host2', name)).toBe(false);
    expect(policy.authentication('x', name)).toEqual({ methods: ['CHAP'] });
    expect(createLoginPolicy(config, registry, 1).authentication('x', 'iqn.2024-01.org.example:disk')).toEqual({
      methods: ['None'],
    });
    expect(policy.chapSecret('host1', 'x', name)).toBe('initiator-secret-1');
    expect(policy.chapSecret('host9', 'x', name)).toBeUndefined();
    expect(policy.targetChapCredentials('x', name)).toEqual({ user: 'target', secret: 'target-secret-12' });
    expect(policy.discovery('x').allowed).toBe(true);
  });

  it('matches ACL names case-insensitively', () => {
    expect(aclAllows(['iqn.2024-01.Org:A'], 'iqn.2024-01.org:a')).toBe(true);
    expect(aclAllows('any', 'whatever')).toBe(true);
  });
});

describe('target configuration: SendTargets', () => {
  const config = validateTargetConfig(base);
  const local = { host: '127.0.0.1', port: 3260 };

  it('lists every visible target in discovery, with wildcard portals as the address asked', () => {
    const answer = answerSendTargets(config, {
      initiatorName: 'iqn.2024-01.org.example:host1',
      sessionType: 'Discovery',
      sessionTarget: undefined,
      value: 'All',
      local,
    });
    expect(answer).toEqual([
      {
        name: 'iqn.2024-01.org.example:disk',
        addresses: [
          { host: '127.0.0.1', port: 3260, portalGroupTag: 1 },
          { host: '192.0.2.1', port: 3261, portalGroupTag: 2 },
        ],
      },
      { name: 'iqn.2024-01.org.example:secret', addresses: [{ host: '192.0.2.1', port: 3261, portalGroupTag: 2 }] },
    ]);
  });

  it('hides targets the ACL refuses, and answers only the session target in a normal session', () => {
    const other = answerSendTargets(config, {
      initiatorName: 'iqn.2024-01.org.example:host2',
      sessionType: 'Discovery',
      sessionTarget: undefined,
      value: 'All',
      local,
    });
    expect(other.map((t) => t.name)).toEqual(['iqn.2024-01.org.example:disk']);
    const normal = answerSendTargets(config, {
      initiatorName: 'iqn.2024-01.org.example:host1',
      sessionType: 'Normal',
      sessionTarget: 'iqn.2024-01.org.example:disk',
      value: 'All',
      local,
    });
    expect(normal.map((t) => t.name)).toEqual(['iqn.2024-01.org.example:disk']);
    const empty = answerSendTargets(config, {
      ...{ initiatorName: 'i', sessionType: 'Normal' as const, sessionTarget: 'iqn.2024-01.org.example:disk', local },
      value: '',
    });
    expect(empty.map((t) => t.name)).toEqual(['iqn.2024-01.org.example:disk']);
  });
});

describe('session registry', () => {
  const isid = { type: 2, a: 0, b: 1, c: 2, d: 3 };
  const session = (tsih: number, initiatorName = 'iqn.2024-01.i:1'): RegisteredSession => ({
    tsih,
    initiatorName,
    isid,
    targetName: 'iqn.2024-01.t:1',
    sessionType: 'Normal',
    params: defaultNegotiatedParams(),
    cids: [0],
  });

  it('allocates distinct TSIHs within the session bound, and reuses released ones', () => {
    const registry = new SessionRegistry<RegisteredSession>(2);
    const a = registry.allocateTsih();
    const b = registry.allocateTsih();
    expect(a).not.toBe(b);
    expect(registry.allocateTsih()).toBeUndefined();
    registry.release(a!);
    expect(registry.allocateTsih()).toBeDefined();
  });

  it('finds a session by TSIH (same initiator and ISID only) and by identity (reinstatement)', () => {
    const registry = new SessionRegistry<RegisteredSession>();
    const tsih = registry.allocateTsih()!;
    const entry = session(tsih);
    registry.add(entry);
    expect(registry.find({ initiatorName: 'iqn.2024-01.i:1', isid, targetName: 'iqn.2024-01.t:1', tsih })?.tsih).toBe(
      tsih,
    );
    expect(
      registry.find({ initiatorName: 'iqn.2024-01.i:2', isid, targetName: 'iqn.2024-01.t:1', tsih }),
    ).toBeUndefined();
    expect(
      registry.find({ initiatorName: 'IQN.2024-01.I:1', isid, targetName: 'iqn.2024-01.t:1', tsih: 0 })?.tsih,
    ).toBe(tsih);
    expect(
      registry.find({
        initiatorName: 'iqn.2024-01.i:1',
        isid: { ...isid, d: 4 },
        targetName: 'iqn.2024-01.t:1',
        tsih: 0,
      }),
    ).toBeUndefined();
    registry.remove(entry);
    expect(registry.size).toBe(0);
  });
});

describe('SCSI device of a target node', () => {
  it('attaches one logical unit per configured LUN', () => {
    const device = createScsiDevice(base.targets[1]!);
    expect(device.luns).toEqual([3]);
  });
});
