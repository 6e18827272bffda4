import { describe, expect, it } from 'vitest';
import { ChapAlgorithm, type ChapAlgorithmId } from '../../../protocol/login/chap.js';
import { LoginError } from '../../../protocol/login/errors.js';
import { TargetLogin, type TargetLoginAction } from '../../../protocol/login/target-login.js';
import { LoginStatus, loginStatusCode } from '../../../protocol/pdu/login.js';
import { decodeText } from '../../../protocol/text/codec.js';
import {
  errorText,
  INITIATOR,
  INITIATOR_SECRET,
  ISID,
  login,
  loginRequest,
  memoryPolicy,
  secretForms,
  TARGET,
  TARGET_SECRET,
} from './harness.js';

const chapTarget = (extra: Parameters<typeof memoryPolicy>[0] = {}): ReturnType<typeof memoryPolicy> =>
  memoryPolicy({ auth: { methods: ['CHAP'] }, users: { alice: INITIATOR_SECRET }, ...extra });

function keysOf(data: readonly Buffer[]): string[] {
  return decodeText(data).map((p) => p.key);
}

describe('login with AuthMethod=None', () => {
  it('succeeds on both sides with the same parameters, TSIH and sequence numbers', () => {
    const run = login();
    expect(run.initiatorError).toBeUndefined();
    expect(run.targetError).toBeUndefined();
    expect(run.initiatorResult?.params).toEqual(run.targetResult?.params);
    expect(run.initiatorResult?.tsih).toBe(0x0101);
    expect(run.targetResult?.tsih).toBe(0x0101);
    expect(run.initiatorResult?.statSN).toBe(run.targetResult?.statSN);
    expect(run.initiatorResult?.targetPortalGroupTag).toBe(1);
    expect(run.initiatorResult?.authMethod).toBe('None');
    expect(run.targetResult?.initiatorName).toBe(INITIATOR);
    expect(run.targetResult?.targetName).toBe(TARGET);
    expect(run.targetResult?.leading).toBe(true);
  });

  it('moves from security to operational in one round trip and ends in full feature phase', () => {
    const run = login();
    const [first, second] = run.requests;
    expect(first?.currentStage).toBe(0);
    expect(first?.transit).toBe(true);
    expect(first?.nextStage).toBe(1);
    expect(run.responses[0]?.transit).toBe(true);
    expect(run.responses[0]?.nextStage).toBe(1);
    expect(second?.currentStage).toBe(1);
    const last = run.responses.at(-1);
    expect(last?.transit).toBe(true);
    expect(last?.nextStage).toBe(3);
    expect(last?.tsih).toBe(0x0101);
  });

  it('keeps ITT, ISID, CID and CmdSN constant, echoes StatSN + 1 in ExpStatSN, and StatSN counts up', () => {
    const run = login({ cmdSN: 77, initiatorTaskTag: 0x42, cid: 3, expStatSN: 9 }, { initialStatSN: 0xfffffffe });
    expect(run.requests.length).toBeGreaterThanOrEqual(2);
    for (const request of run.requests) {
      expect(request.itt).toBe(0x42);
      expect(request.cmdSN).toBe(77);
      expect(request.cid).toBe(3);
      expect(request.isid).toEqual(ISID);
    }
    expect(run.requests[0]?.expStatSN).toBe(9);
    run.responses.forEach((response, i) => {
      expect(response.statSN).toBe((0xfffffffe + i) >>> 0);
      expect(response.itt).toBe(0x42);
      expect(response.expCmdSN).toBe(77);
      const next = run.requests[i + 1];
      if (next) expect(next.expStatSN).toBe((response.statSN + 1) >>> 0);
    });
    expect(run.initiatorResult?.cmdSN).toBe(77);
    expect(run.initiatorResult?.expCmdSN).toBe(77);
    expect(run.initiatorResult?.maxCmdSN).toBe(77 + 31);
  });

  it('declares TargetPortalGroupTag in the first response of a normal session', () => {
    const run = login({}, { portalGroupTag: 7 });
    expect(keysOf(run.responses[0]?.data ?? [])).toContain('TargetPortalGroupTag');
    expect(run.initiatorResult?.targetPortalGroupTag).toBe(7);
  });
});

describe('login with CHAP', () => {
  const algorithms: ChapAlgorithmId[] = [
    ChapAlgorithm.MD5,
    ChapAlgorithm.SHA1,
    ChapAlgorithm.SHA256,
    ChapAlgorithm.SHA3_256,
  ];
  for (const algorithm of algorithms) {
    it(`authenticates with CHAP_A=${algorithm}`, () => {
      const run = login(
        { auth: { method: 'CHAP', credentials: { user: 'alice', secret: INITIATOR_SECRET }, algorithms: [algorithm] } },
        { policy: chapTarget() },
      );
      expect(run.initiatorError).toBeUndefined();
      expect(run.initiatorResult?.authMethod).toBe('CHAP');
      expect(run.targetResult?.chapUser).toBe('alice');
      const challenge = run.responses.map((r) => decodeText(r.data)).find((p) => p.some((x) => x.key === 'CHAP_A'));
      expect(challenge?.find((p) => p.key === 'CHAP_A')?.value).toBe(String(algorithm));
    });
  }

  it('offers 8,6,5 by default and the target takes the first it accepts', () => {
    const run = login(
      { auth: { method: 'CHAP', credentials: { user: 'alice', secret: INITIATOR_SECRET } } },
      { policy: chapTarget({ auth: { methods: ['CHAP'], chapAlgorithms: [5, 6] } }) },
    );
    const offer = run.requests.map((r) => decodeText(r.data)).find((p) => p.some((x) => x.key === 'CHAP_A'));
    expect(offer?.find((p) => p.key === 'CHAP_A')?.value).toBe('8,6,5');
    const answer = run.responses.map((r) => decodeText(r.data)).find((p) => p.some((x) => x.key === 'CHAP_A'));
    expect(answer?.find((p) => p.key === 'CHAP_A')?.value).toBe('6');
    expect(run.initiatorResult).toBeDefined();
  });

  it('gets MD5, not a misread SHA-256, from a tgt-like target that knows only 5 and 7 (tgt reads 7 as SHA-1)', () => {
    const run = login(
      { auth: { method: 'CHAP', credentials: { user: 'alice', secret: INITIATOR_SECRET } } },
      { policy: chapTarget({ auth: { methods: ['CHAP'], chapAlgorithms: [5, 7] } }) },
    );
    const answer = run.responses.map((r) => decodeText(r.data)).find((p) => p.some((x) => x.key === 'CHAP_A'));
    expect(answer?.find((p) => p.key === 'CHAP_A')?.value).toBe('5');
    expect(run.initiatorResult).toBeDefined();
  });

  it('authenticates both ways with mutual CHAP', () => {
    const run = login(
      {
        auth: {
          method: 'CHAP',
          credentials: { user: 'alice', secret: INITIATOR_SECRET },
          mutual: { user: 'disk', secret: TARGET_SECRET },
        },
      },
      { policy: chapTarget({ targetCredentials: { user: 'disk', secret: TARGET_SECRET } }) },
    );
    expect(run.initiatorError).toBeUndefined();
    expect(run.initiatorResult?.targetAuthenticated).toBe(true);
    expect(run.targetResult?.mutualChap).toBe(true);
    // Mutual CHAP offers CHAP alone: the target must authenticate itself.
    expect(decodeText(run.requests[0]?.data ?? []).find((p) => p.key === 'AuthMethod')?.value).toBe('CHAP');
  });

  it('fails with 0x0201 and a typed error, without the secret anywhere, when the secret is wrong', () => {
    const wrong = 'not-the-right-secret';
    const run = login(
      { auth: { method: 'CHAP', credentials: { user: 'alice', secret: wrong } } },
      { policy: chapTarget() },
    );
    const error = run.initiatorError;
    expect(error).toBeInstanceOf(LoginError);
    expect(error?.code).toBe('ERR_LOGIN_AUTHENTICATION_FAILED');
    expect(error?.status).toBe(LoginStatus.AuthenticationFailure);
    expect(error?.statusClass).toBe(2);
    expect(error?.statusDetail).toBe(1);
    expect(error?.retryable).toBe(false);
    expect(error?.detectedBy).toBe('target');
    expect(run.targetError?.code).toBe('ERR_LOGIN_AUTHENTICATION_FAILED');
    const text = `${errorText(error)}\n${errorText(run.targetError)}`;
    for (const form of [...secretForms(wrong), ...secretForms(INITIATOR_SECRET)]) expect(text).not.toContain(form);
  });

  it('fails on the initiator when the target proves the wrong mutual secret', () => {
    const run = login(
      {
        auth: {
          method: 'CHAP',
          credentials: { user: 'alice', secret: INITIATOR_SECRET },
          mutual: { user: 'disk', secret: TARGET_SECRET },
        },
      },
      { policy: chapTarget({ targetCredentials: { user: 'disk', secret: 'some-other-target-secret' } }) },
    );
    expect(run.initiatorError?.code).toBe('ERR_LOGIN_TARGET_AUTHENTICATION_FAILED');
    expect(run.initiatorError?.detectedBy).toBe('initiator');
    expect(errorText(run.initiatorError)).not.toContain('some-other-target-secret');
    expect(errorText(run.initiatorError)).not.toContain(TARGET_SECRET);
    // RFC 7143 §12.1.3: no further Login Request after a failed target authentication.
    const last = run.initiatorActions.at(-1);
    expect(last?.type).toBe('failed');
  });

  it('lets a target that needs no authentication pick None from CHAP,None', () => {
    const run = login({ auth: { method: 'CHAP', credentials: { user: 'alice', secret: INITIATOR_SECRET } } });
    expect(run.initiatorResult?.authMethod).toBe('None');
  });

  it('refuses a login without authentication when the target requires CHAP', () => {
    const run = login({}, { policy: chapTarget() });
    expect(run.initiatorError?.code).toBe('ERR_LOGIN_AUTHENTICATION_FAILED');
    expect(run.targetError?.status).toBe(LoginStatus.AuthenticationFailure);
  });

  it('warns, but succeeds, with a short secret when allowShortSecrets is set on both sides', () => {
    const run = login(
      { auth: { method: 'CHAP', credentials: { user: 'bob', secret: 'short' }, allowShortSecrets: true } },
      { policy: chapTarget({ users: { bob: 'short' } }), allowShortSecrets: true },
    );
    expect(run.initiatorResult?.warnings.map((w) => w.code)).toEqual(['short-chap-secret']);
    expect(run.targetResult?.warnings.map((w) => w.code)).toEqual(['short-chap-secret']);
  });

  it('fails the target with 0x0300 when its configured secret is too short and short secrets are not allowed', () => {
    const run = login(
      { auth: { method: 'CHAP', credentials: { user: 'bob', secret: 'short' }, allowShortSecrets: true } },
      { policy: chapTarget({ users: { bob: 'short' } }) },
    );
    expect(run.targetError?.status).toBe(LoginStatus.TargetError);
    expect(run.initiatorError?.retryable).toBe(true);
    expect(run.initiatorError?.message).toMatch(/retryable/);
  });
});

describe('target refusals', () => {
  const cases: [string, Parameters<typeof memoryPolicy>[0], number, string][] = [
    ['unknown target', { targets: {} }, LoginStatus.NotFound, 'ERR_LOGIN_TARGET_NOT_FOUND'],
    [
      'removed target',
      { targets: { [TARGET]: { kind: 'removed' } } },
      LoginStatus.TargetRemoved,
      'ERR_LOGIN_TARGET_REMOVED',
    ],
    [
      'unavailable target',
      { targets: { [TARGET]: { kind: 'unavailable' } } },
      LoginStatus.ServiceUnavailable,
      'ERR_LOGIN_SERVICE_UNAVAILABLE',
    ],
    ['ACL', { allowed: () => false }, LoginStatus.AuthorizationFailure, 'ERR_LOGIN_AUTHORIZATION_FAILED'],
    ['no TSIH left', { tsih: undefined }, LoginStatus.OutOfResources, 'ERR_LOGIN_OUT_OF_RESOURCES'],
  ];
  for (const [name, policy, status, code] of cases) {
    it(`answers ${name} with 0x${status.toString(16).padStart(4, '0')}`, () => {
      const run = login({}, { policy: memoryPolicy(policy) });
      expect(run.targetError?.status).toBe(status);
      expect(run.initiatorError?.status).toBe(status);
      expect(run.initiatorError?.code).toBe(code);
      expect(run.initiatorError?.retryable).toBe(status >> 8 === 3);
      const last = run.responses.at(-1);
      expect(last && loginStatusCode(last.statusClass, last.statusDetail)).toBe(status);
    });
  }
});

describe('discovery sessions', () => {
  it('log in without a TargetName and without a portal group tag', () => {
    const run = login({ sessionType: 'Discovery', targetName: undefined });
    expect(run.initiatorError).toBeUndefined();
    expect(run.targetResult?.sessionType).toBe('Discovery');
    expect(run.targetResult?.targetName).toBeUndefined();
    expect(run.initiatorResult?.params.sessionType).toBe('Discovery');
    expect(run.initiatorResult?.targetPortalGroupTag).toBeUndefined();
  });

  it('are refused with 0x0209 when discovery is disabled', () => {
    const run = login(
      { sessionType: 'Discovery', targetName: undefined },
      { policy: memoryPolicy({ discovery: { allowed: false } }) },
    );
    expect(run.initiatorError?.status).toBe(LoginStatus.SessionTypeNotSupported);
  });
});

describe('iSER', () => {
  it('negotiates RDMAExtensions=Yes, the RDSL keys and no digests', () => {
    const run = login(
      {
        transport: 'iser',
        negotiation: {
          initiatorRecvDataSegmentLength: 65536,
          targetRecvDataSegmentLength: 16384,
          headerDigest: ['CRC32C', 'None'],
          maxOutstandingUnexpectedPdus: 16,
        },
      },
      {
        transport: 'iser',
        policy: memoryPolicy({
          targets: {
            [TARGET]: {
              kind: 'found',
              negotiation: { initiatorRecvDataSegmentLength: 262144, targetRecvDataSegmentLength: 8192 },
            },
          },
        }),
      },
    );
    expect(run.initiatorError).toBeUndefined();
    const params = run.initiatorResult?.params;
    expect(params).toEqual(run.targetResult?.params);
    expect(params?.rdmaExtensions).toBe(true);
    expect(params?.headerDigest).toBe('None');
    expect(params?.dataDigest).toBe('None');
    expect(params?.initiatorRecvDataSegmentLength).toBe(65536);
    expect(params?.targetRecvDataSegmentLength).toBe(8192);
    expect(params?.maxRecvDataSegmentLength).toEqual({ initiator: 65536, target: 8192 });
    expect(params?.maxOutstandingUnexpectedPdus.initiator).toBe(16);
    const offered = run.requests.flatMap((r) => keysOf(r.data));
    expect(offered).toContain('RDMAExtensions');
    expect(offered).not.toContain('MaxRecvDataSegmentLength');
  });

  it('runs discovery sessions over iSER with MaxRecvDataSegmentLength, not RDMAExtensions', () => {
    const run = login(
      {
        transport: 'iser',
        sessionType: 'Discovery',
        targetName: undefined,
        negotiation: { maxRecvDataSegmentLength: 32768 },
      },
      { transport: 'iser' },
    );
    expect(run.initiatorError).toBeUndefined();
    expect(run.initiatorResult?.params.rdmaExtensions).toBe(false);
    expect(run.initiatorResult?.params.maxRecvDataSegmentLength.initiator).toBe(32768);
    expect(run.requests.flatMap((r) => keysOf(r.data))).not.toContain('RDMAExtensions');
  });

  it('fails the initiator clearly when the portal answers RDMAExtensions=No', () => {
    const run = login({ transport: 'iser' }, { transport: 'tcp' });
    expect(run.initiatorError?.code).toBe('ERR_LOGIN_NO_ISER');
    expect(run.initiatorError?.message).toMatch(/RDMAExtensions=No: this portal does not speak iSER/);
  });

  it('refuses, with 0x0200, an iSCSI login on an iSER connection that never says RDMAExtensions=Yes', () => {
    const run = login({ transport: 'tcp' }, { transport: 'iser' });
    expect(run.targetError?.status).toBe(LoginStatus.InitiatorError);
    expect(run.targetError?.message).toMatch(/RDMAExtensions=Yes/);
    expect(run.initiatorError?.code).toBe('ERR_LOGIN_INITIATOR_ERROR');
  });
});

describe('text continuation', () => {
  it('carries long login texts across many PDUs in both directions', () => {
    const run = login(
      {
        initiatorAlias: 'a'.repeat(200),
        limits: { maxDataSegmentLength: 24, maxRoundTrips: 500 },
        auth: { method: 'CHAP', credentials: { user: 'alice', secret: INITIATOR_SECRET } },
      },
      {
        limits: { maxDataSegmentLength: 16, maxRoundTrips: 500 },
        policy: chapTarget({ targets: { [TARGET]: { kind: 'found', alias: 'b'.repeat(200) } } }),
      },
    );
    expect(run.initiatorError).toBeUndefined();
    expect(run.targetError).toBeUndefined();
    expect(run.initiatorResult?.params).toEqual(run.targetResult?.params);
    expect(run.initiatorResult?.params.targetAlias).toBe('b'.repeat(200));
    expect(run.targetResult?.params.initiatorAlias).toBe('a'.repeat(200));
    expect(run.requests.filter((r) => r.continue).length).toBeGreaterThan(5);
    expect(run.responses.filter((r) => r.continue).length).toBeGreaterThan(5);
    for (const pdu of [...run.requests, ...run.responses]) {
      expect(pdu.transit && pdu.continue).toBe(false);
      expect(pdu.data.reduce((n, c) => n + c.length, 0)).toBeLessThanOrEqual(24);
    }
  });
});

describe('redirection', () => {
  it('tells the initiator where the target moved', () => {
    const run = login(
      {},
      {
        policy: memoryPolicy({
          targets: { [TARGET]: { kind: 'redirect', address: '[fe80::1]:3261,2', permanent: true } },
        }),
      },
    );
    expect(run.redirect?.permanent).toBe(true);
    expect(run.redirect?.address).toEqual({ host: 'fe80::1', port: 3261, portalGroupTag: 2 });
    expect(run.initiatorError).toBeUndefined();
  });
});

describe('sessions', () => {
  it('refuses a non-zero TSIH that names no session with 0x020a', () => {
    const base = login().initiatorResult?.params;
    const run = login({ tsih: 0x55, session: base });
    expect(run.initiatorError?.status).toBe(LoginStatus.SessionDoesNotExist);
  });

  it('reports session reinstatement for a TSIH-0 login with a live ISID', () => {
    const params = login().targetResult?.params;
    if (!params) throw new Error('setup failed');
    const policy = memoryPolicy({
      sessions: [{ tsih: 9, sessionType: 'Normal', params, cids: [0], initiatorName: INITIATOR, isid: ISID }],
    });
    const run = login({}, { policy });
    expect(run.targetResult?.reinstate).toBe(9);
    expect(run.targetResult?.tsih).toBe(0x0101);
  });

  it('adds a connection to an existing session, and refuses one past MaxConnections with 0x0206', () => {
    const params = login(
      { negotiation: { maxConnections: 2 } },
      { policy: memoryPolicy({ targets: { [TARGET]: { kind: 'found', negotiation: { maxConnections: 2 } } } }) },
    ).targetResult?.params;
    if (!params) throw new Error('setup failed');
    expect(params.maxConnections).toBe(2);
    const session = { tsih: 9, sessionType: 'Normal' as const, params, initiatorName: INITIATOR, isid: ISID };
    const joined = login(
      { tsih: 9, cid: 1, session: params },
      { policy: memoryPolicy({ sessions: [{ ...session, cids: [0] }] }) },
    );
    expect(joined.initiatorError).toBeUndefined();
    expect(joined.targetResult?.leading).toBe(false);
    expect(joined.targetResult?.tsih).toBe(9);
    expect(joined.initiatorResult?.tsih).toBe(9);
    const full = login(
      { tsih: 9, cid: 2, session: params },
      { policy: memoryPolicy({ sessions: [{ ...session, cids: [0, 1] }] }) },
    );
    expect(full.initiatorError?.status).toBe(LoginStatus.TooManyConnections);
  });
});

describe('target answers to hand-made requests', () => {
  const names = [
    { key: 'InitiatorName', value: INITIATOR },
    { key: 'TargetName', value: TARGET },
  ];
  const replyOf = (actions: TargetLoginAction[]): Map<string, string> => {
    const send = actions.find((a) => a.type === 'send');
    return new Map(send?.type === 'send' ? decodeText(send.pdu.data).map((p) => [p.key, p.value]) : []);
  };
  const newTarget = (extra: Partial<ConstructorParameters<typeof TargetLogin>[0]> = {}): TargetLogin =>
    new TargetLogin({ transport: 'tcp', portalGroupTag: 1, policy: memoryPolicy(), initialStatSN: 1, ...extra });

  it('lets an initiator go from security straight to full feature phase when it has nothing to negotiate', () => {
    const target = newTarget();
    const actions = target.receive(
      loginRequest({ transit: true, nextStage: 3 }, [...names, { key: 'AuthMethod', value: 'None' }]),
    );
    expect(actions.map((a) => a.type)).toEqual(['send', 'succeeded']);
    const send = actions[0];
    expect(send?.type === 'send' && send.pdu.nextStage).toBe(3);
  });

  it('stops in the operational stage when its own preferences differ from the defaults', () => {
    const policy = memoryPolicy({ targets: { [TARGET]: { kind: 'found', negotiation: { maxBurstLength: 65536 } } } });
    const target = newTarget({ policy });
    const first = target.receive(
      loginRequest({ transit: true, nextStage: 3 }, [...names, { key: 'AuthMethod', value: 'None' }]),
    );
    const send = first[0];
    expect(send?.type === 'send' && send.pdu.nextStage).toBe(1);
    const second = target.receive(loginRequest({ currentStage: 1, transit: true, nextStage: 3 }));
    expect(replyOf(second).get('MaxBurstLength')).toBe('65536');
    expect(second.map((a) => a.type)).toEqual(['send']);
  });

  it('over iSER forces digests to None and answers the RDSL keys', () => {
    const target = newTarget({ transport: 'iser' });
    target.receive(loginRequest({ transit: true, nextStage: 1 }, [...names, { key: 'AuthMethod', value: 'None' }]));
    const actions = target.receive(
      loginRequest({ currentStage: 1, transit: true, nextStage: 3 }, [
        { key: 'HeaderDigest', value: 'CRC32C,None' },
        { key: 'RDMAExtensions', value: 'Yes' },
        { key: 'InitiatorRecvDataSegmentLength', value: '4096' },
        { key: 'TargetRecvDataSegmentLength', value: '1048576' },
      ]),
    );
    const reply = replyOf(actions);
    expect(reply.get('RDMAExtensions')).toBe('Yes');
    expect(reply.get('HeaderDigest')).toBe('Irrelevant');
    expect(reply.get('TargetRecvDataSegmentLength')).toBe('8192');
    expect(reply.has('MaxRecvDataSegmentLength')).toBe(false);
    const done = actions.find((a) => a.type === 'succeeded');
    const params = done?.type === 'succeeded' ? done.result.params : undefined;
    expect(params?.headerDigest).toBe('None');
    expect(params?.initiatorRecvDataSegmentLength).toBe(4096);
    expect(params?.targetRecvDataSegmentLength).toBe(8192);
  });

  it('answers RDMAExtensions=Yes with No on a TCP connection', () => {
    const target = newTarget();
    target.receive(loginRequest({ transit: true, nextStage: 1 }, [...names, { key: 'AuthMethod', value: 'None' }]));
    const actions = target.receive(
      loginRequest({ currentStage: 1, transit: true, nextStage: 3 }, [{ key: 'RDMAExtensions', value: 'Yes' }]),
    );
    expect(replyOf(actions).get('RDMAExtensions')).toBe('No');
    expect(actions.map((a) => a.type)).toEqual(['send', 'succeeded']);
  });
});
