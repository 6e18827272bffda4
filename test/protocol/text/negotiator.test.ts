import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TextPair } from '../../../protocol/text/codec.js';
import type { NegotiationConfig } from '../../../protocol/text/config.js';
import { TextError } from '../../../protocol/text/errors.js';
import { KEY_TABLE } from '../../../protocol/text/keys.js';
import {
  TextNegotiator,
  type NegotiationStage,
  type TextNegotiatorOptions,
} from '../../../protocol/text/negotiator.js';
import { dataSegmentLimits } from '../../../protocol/text/params.js';
import { arbKeyOffers, arbTextValue, simulatedParams, simulateLogin } from '../../support/arbitraries/text.js';

const INAME = 'iqn.2024-01.com.example:initiator';
const TNAME = 'iqn.2024-01.com.example:target';

const initiator = (config: NegotiationConfig = {}, options: Partial<TextNegotiatorOptions> = {}): TextNegotiator =>
  new TextNegotiator({
    role: 'initiator',
    transport: 'tcp',
    config: { initiatorName: INAME, targetName: TNAME, ...config },
    ...options,
  });
const target = (config: NegotiationConfig = {}, options: Partial<TextNegotiatorOptions> = {}): TextNegotiator =>
  new TextNegotiator({ role: 'target', transport: 'tcp', config, ...options });

/** `'A=1 B=2'` as pairs. */
const pairs = (text: string): TextPair[] =>
  text
    .split(' ')
    .filter((p) => p !== '')
    .map((p) => {
      const at = p.indexOf('=');
      return { key: p.slice(0, at), value: p.slice(at + 1) };
    });
const asObject = (list: readonly TextPair[]): Record<string, string> =>
  Object.fromEntries(list.map((p) => [p.key, p.value]));

/** The TextError `fn` throws (fails the test if it throws anything else or nothing). */
function errorOf(fn: () => unknown): TextError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TextError);
    return err as TextError;
  }
  throw new Error('expected a TextError');
}

/** A target that has seen the initiator's identity in the security stage. */
function loggedInTarget(
  config: NegotiationConfig = {},
  options: Partial<TextNegotiatorOptions> = {},
  sessionType = 'Normal',
): TextNegotiator {
  const t = target(config, options);
  t.receive(pairs(`InitiatorName=${INAME} TargetName=${TNAME} SessionType=${sessionType}`), 'security');
  return t;
}

describe('what an initiator offers', () => {
  it('over TCP: identity first, then the usual operational set with MaxRecvDataSegmentLength', () => {
    const ini = initiator({ initiatorAlias: 'host-a', maxRecvDataSegmentLength: 65536 });
    expect(asObject(ini.offer('security'))).toEqual({
      InitiatorName: INAME,
      InitiatorAlias: 'host-a',
      TargetName: TNAME,
      SessionType: 'Normal',
    });
    const operational = asObject(ini.offer('operational'));
    expect(Object.keys(operational)).toEqual([
      'HeaderDigest',
      'DataDigest',
      'MaxConnections',
      'InitialR2T',
      'ImmediateData',
      'MaxBurstLength',
      'FirstBurstLength',
      'DefaultTime2Wait',
      'DefaultTime2Retain',
      'MaxOutstandingR2T',
      'DataPDUInOrder',
      'DataSequenceInOrder',
      'ErrorRecoveryLevel',
      'MaxRecvDataSegmentLength',
    ]);
    expect(operational.MaxRecvDataSegmentLength).toBe('65536');
    expect(ini.offer('operational')).toEqual([]);
  });

  it('over iSER: RDMAExtensions=Yes and the RDSL keys, no MaxRecvDataSegmentLength, no digests', () => {
    const ini = initiator(
      { initiatorRecvDataSegmentLength: 262144, headerDigest: ['CRC32C', 'None'], maxOutstandingUnexpectedPdus: 16 },
      { transport: 'iser' },
    );
    ini.offer('security');
    const offer = ini.offer('operational');
    expect(offer[0]).toEqual({ key: 'RDMAExtensions', value: 'Yes' });
    const keys = offer.map((p) => p.key);
    expect(keys).toContain('InitiatorRecvDataSegmentLength');
    expect(keys).toContain('TargetRecvDataSegmentLength');
    expect(keys).toContain('MaxOutstandingUnexpectedPDUs');
    expect(keys).not.toContain('MaxRecvDataSegmentLength');
    expect(keys).not.toContain('HeaderDigest');
    expect(keys).not.toContain('DataDigest');
    expect(asObject(offer).InitiatorRecvDataSegmentLength).toBe('262144');
  });

  it('in a discovery session: only what discovery needs', () => {
    const ini = initiator({ sessionType: 'Discovery' });
    expect(asObject(ini.offer('security'))).toEqual({ InitiatorName: INAME, SessionType: 'Discovery' });
    expect(ini.offer('operational').map((p) => p.key)).toEqual([
      'HeaderDigest',
      'DataDigest',
      'MaxRecvDataSegmentLength',
    ]);
  });

  it('tracks its offers until they are answered', () => {
    const ini = initiator();
    ini.offer('operational');
    expect(ini.settled).toBe(false);
    // ImmediateData=Yes (AND) and InitialR2T=Yes (OR): Yes under OR decides, so only ImmediateData awaits.
    expect(ini.awaitingAnswers).toContain('ImmediateData');
    expect(ini.awaitingAnswers).not.toContain('InitialR2T');
    expect(errorOf(() => ini.params()).code).toBe('ERR_TEXT_NOT_SETTLED');
  });
});

describe('how a target answers (RFC 7143 §6.2)', () => {
  it('answers unknown and extension keys with NotUnderstood', () => {
    const t = loggedInTarget();
    const { reply } = t.receive(pairs('X-com.example.Foo=1 X#Unregistered=2 NoSuchKey=3'), 'operational');
    expect(reply).toEqual(
      pairs('X-com.example.Foo=NotUnderstood X#Unregistered=NotUnderstood NoSuchKey=NotUnderstood'),
    );
  });

  it('records X#NodeArchitecture without answering it', () => {
    const t = loggedInTarget();
    expect(t.receive(pairs('X#NodeArchitecture=ExampleOS/v1,Example_Initiator/1.0'), 'operational').reply).toEqual([]);
    t.offer('operational');
    expect(t.params().nodeArchitecture.initiator).toEqual(['ExampleOS/v1', 'Example_Initiator/1.0']);
  });

  it('answers the obsolete marker keys with Reject (RFC 7143 §13.25)', () => {
    const t = loggedInTarget();
    const { reply } = t.receive(pairs('IFMarker=Yes OFMarker=No IFMarkInt=1~65535 OFMarkInt=2048'), 'operational');
    expect(reply.map((p) => p.value)).toEqual(['Reject', 'Reject', 'Reject', 'Reject']);
  });

  it('answers values out of range or malformed with Reject, and keeps the default', () => {
    const t = loggedInTarget();
    const { reply } = t.receive(
      pairs(
        'MaxBurstLength=100 MaxConnections=0 ErrorRecoveryLevel=7 DataPDUInOrder=Maybe HeaderDigest=MD5 DefaultTime2Wait=0x',
      ),
      'operational',
    );
    expect(reply.every((p) => p.value === 'Reject')).toBe(true);
    const params = t.params();
    expect(params.maxBurstLength).toBe(262144);
    expect(params.maxConnections).toBe(1);
    expect(params.errorRecoveryLevel).toBe(0);
    expect(params.headerDigest).toBe('None');
  });

  it('answers a determined boolean offer with the result, or stays silent when asked to', () => {
    expect(loggedInTarget().receive(pairs('ImmediateData=No InitialR2T=Yes'), 'operational').reply).toEqual(
      pairs('ImmediateData=No InitialR2T=Yes'),
    );
    const quiet = loggedInTarget({}, { answerDeterminedBooleans: false });
    expect(quiet.receive(pairs('ImmediateData=No InitialR2T=Yes DataPDUInOrder=No'), 'operational').reply).toEqual(
      pairs('DataPDUInOrder=Yes'),
    );
    expect(quiet.params()).toMatchObject({ immediateData: false, initialR2T: true, dataPduInOrder: true });
  });

  it('keeps FirstBurstLength within the MaxBurstLength it just agreed to (RFC 7143 §13.14)', () => {
    const t = loggedInTarget();
    const { reply } = t.receive(pairs('FirstBurstLength=65536 MaxBurstLength=4096'), 'operational');
    expect(asObject(reply)).toEqual({ MaxBurstLength: '4096', FirstBurstLength: '4096' });
  });

  it('answers keys irrelevant to a discovery session with Irrelevant', () => {
    const t = loggedInTarget({}, {}, 'Discovery');
    const { reply } = t.receive(
      pairs('MaxBurstLength=4096 ImmediateData=No RDMAExtensions=Yes HeaderDigest=None'),
      'operational',
    );
    expect(asObject(reply)).toEqual({
      MaxBurstLength: 'Irrelevant',
      ImmediateData: 'Irrelevant',
      RDMAExtensions: 'Irrelevant',
      HeaderDigest: 'None',
    });
    expect(t.params()).toMatchObject({
      sessionType: 'Discovery',
      maxBurstLength: 262144,
      immediateData: true,
      rdmaExtensions: false,
    });
  });

  it('originates what it wants that the initiator left unsaid', () => {
    const t = loggedInTarget(
      { defaultTime2Wait: 10, maxRecvDataSegmentLength: 4096, targetPortalGroupTag: 3 },
      {},
      'Discovery',
    );
    expect(asObject(t.offer('security'))).toEqual({ TargetPortalGroupTag: '3' });
    t.receive(pairs('HeaderDigest=None'), 'operational');
    expect(asObject(t.offer('operational'))).toEqual({ DefaultTime2Wait: '10', MaxRecvDataSegmentLength: '4096' });
    expect(t.settled).toBe(false);
    t.receive(pairs('DefaultTime2Wait=10'), 'operational');
    expect(t.params()).toMatchObject({ defaultTime2Wait: 10, targetPortalGroupTag: 3 });
  });
});

describe('protocol errors (RFC 7143 §6.2, §6.3)', () => {
  it('refuses a reserved constant offered as a value', () => {
    const error = errorOf(() => loggedInTarget().receive(pairs('MaxBurstLength=Reject'), 'operational'));
    expect(error.code).toBe('ERR_TEXT_RESERVED_VALUE');
    expect(error.loginStatus).toEqual({ statusClass: 2, statusDetail: 0 });
    expect(error.key).toBe('MaxBurstLength');
  });

  it('refuses a key from the side that may not send it', () => {
    expect(errorOf(() => loggedInTarget().receive(pairs('TargetAlias=x'), 'operational')).code).toBe(
      'ERR_TEXT_WRONG_SENDER',
    );
    expect(errorOf(() => loggedInTarget().receive(pairs('TargetPortalGroupTag=1'), 'operational')).code).toBe(
      'ERR_TEXT_WRONG_SENDER',
    );
    expect(errorOf(() => initiator().receive(pairs('InitiatorName=iqn.x'), 'security')).code).toBe(
      'ERR_TEXT_WRONG_SENDER',
    );
    expect(errorOf(() => initiator().receive(pairs('SessionType=Normal'), 'security')).code).toBe(
      'ERR_TEXT_WRONG_SENDER',
    );
  });

  it("tolerates a target echoing the initiator's declarations, but not changing them", () => {
    const echoed = initiator();
    echoed.offer('security');
    expect(echoed.receive(pairs(`TargetName=${TNAME} SessionType=Normal`), 'security').reply).toEqual([]);
    const changed = initiator();
    changed.offer('security');
    expect(errorOf(() => changed.receive(pairs('TargetName=iqn.other'), 'security')).code).toBe(
      'ERR_TEXT_WRONG_SENDER',
    );
    expect(errorOf(() => initiator().receive(pairs(`TargetName=${TNAME}`), 'security')).code).toBe(
      'ERR_TEXT_WRONG_SENDER',
    );
  });

  it('refuses keys in the wrong stage, and hands security keys to the caller', () => {
    expect(errorOf(() => target().receive(pairs('MaxBurstLength=4096'), 'security')).code).toBe('ERR_TEXT_WRONG_PHASE');
    expect(errorOf(() => loggedInTarget().receive(pairs('CHAP_A=5'), 'operational')).code).toBe('ERR_TEXT_WRONG_PHASE');
    expect(errorOf(() => loggedInTarget().receive(pairs('SendTargets=All'), 'operational')).code).toBe(
      'ERR_TEXT_WRONG_PHASE',
    );
    const result = target().receive(pairs(`InitiatorName=${INAME} AuthMethod=CHAP,None CHAP_A=7,5`), 'security');
    expect(result.delegated).toEqual(pairs('AuthMethod=CHAP,None CHAP_A=7,5'));
    expect(result.reply).toEqual([]);
  });

  it('refuses a key negotiated or declared twice in one login, except TargetAddress', () => {
    const t = loggedInTarget();
    t.receive(pairs('MaxBurstLength=4096'), 'operational');
    expect(errorOf(() => t.receive(pairs('MaxBurstLength=8192'), 'operational')).code).toBe('ERR_TEXT_RENEGOTIATION');
    const again = target();
    again.receive(pairs(`InitiatorName=${INAME}`), 'security');
    expect(errorOf(() => again.receive(pairs(`InitiatorName=${INAME}`), 'security')).code).toBe(
      'ERR_TEXT_RENEGOTIATION',
    );
    const ini = initiator();
    ini.receive(pairs('TargetAddress=10.0.0.1:3260,1'), 'security');
    expect(() => ini.receive(pairs('TargetAddress=10.0.0.2:3260,1'), 'security')).not.toThrow();
    // A key the initiator offered, once answered, may not be offered back by the target.
    const offered = initiator();
    offered.offer('operational');
    offered.receive(pairs('MaxBurstLength=4096'), 'operational');
    expect(errorOf(() => offered.receive(pairs('MaxBurstLength=1024'), 'operational')).code).toBe(
      'ERR_TEXT_RENEGOTIATION',
    );
  });

  it('refuses malformed declarations', () => {
    expect(errorOf(() => target().receive(pairs('SessionType=Weird'), 'security')).code).toBe(
      'ERR_TEXT_BAD_DECLARATION',
    );
    expect(errorOf(() => loggedInTarget().receive(pairs('MaxRecvDataSegmentLength=511'), 'operational')).code).toBe(
      'ERR_TEXT_BAD_DECLARATION',
    );
    expect(errorOf(() => target().receive(pairs(`InitiatorName=${'a'.repeat(224)}`), 'security')).code).toBe(
      'ERR_TEXT_BAD_DECLARATION',
    );
  });

  it('checks the answers to its own offers', () => {
    const answer = (text: string): TextError => {
      const ini = initiator({ headerDigest: ['CRC32C'] });
      ini.offer('operational');
      return errorOf(() => ini.receive(pairs(text), 'operational'));
    };
    expect(answer('HeaderDigest=None').code).toBe('ERR_TEXT_BAD_ANSWER');
    expect(answer('MaxBurstLength=262145').code).toBe('ERR_TEXT_BAD_ANSWER');
    expect(answer('DefaultTime2Wait=1').code).toBe('ERR_TEXT_BAD_ANSWER');
    // InitialR2T=Yes decided the OR; an answer of No contradicts it.
    expect(answer('InitialR2T=No').code).toBe('ERR_TEXT_BAD_ANSWER');
  });

  it('keeps the default when an offer is answered Reject, Irrelevant or NotUnderstood', () => {
    const ini = initiator({ maxBurstLength: 65536, firstBurstLength: 4096, errorRecoveryLevel: 2, maxConnections: 4 });
    const offer = ini.offer('operational');
    const answers = offer
      .filter((p) => ini.awaitingAnswers.includes(p.key))
      .map((p, i) => ({ key: p.key, value: ['Reject', 'Irrelevant', 'NotUnderstood'][i % 3] ?? 'Reject' }));
    ini.receive(answers, 'operational');
    expect(ini.settled).toBe(true);
    expect(ini.params()).toMatchObject({
      maxBurstLength: 262144,
      firstBurstLength: 65536,
      errorRecoveryLevel: 0,
      maxConnections: 1,
    });
  });

  it('reports FirstBurstLength above MaxBurstLength as incoherent', () => {
    const ini = initiator();
    ini.offer('operational');
    const answers = ini.awaitingAnswers.map((key) => ({ key, value: 'Reject' }));
    ini.receive(
      [
        ...answers.filter((p) => p.key !== 'MaxBurstLength' && p.key !== 'FirstBurstLength'),
        ...pairs('MaxBurstLength=4096 FirstBurstLength=8192'),
      ],
      'operational',
    );
    const error = errorOf(() => ini.params());
    expect(error.code).toBe('ERR_TEXT_INCOHERENT');
  });

  it('reports a login without InitiatorName or TargetName as missing a parameter (0x0207)', () => {
    const t = target();
    const error = errorOf(() => t.params());
    expect(error.code).toBe('ERR_TEXT_MISSING_PARAMETER');
    expect(error.loginStatus).toEqual({ statusClass: 2, statusDetail: 7 });
    const noTarget = target();
    noTarget.receive(pairs(`InitiatorName=${INAME}`), 'security');
    expect(errorOf(() => noTarget.params()).code).toBe('ERR_TEXT_MISSING_PARAMETER');
    const discovery = target();
    discovery.receive(pairs(`InitiatorName=${INAME} SessionType=Discovery`), 'security');
    expect(discovery.params().targetName).toBeUndefined();
  });

  it('refuses an invalid config of its own', () => {
    expect(errorOf(() => initiator({ maxBurstLength: 4096, firstBurstLength: 8192 })).code).toBe('ERR_TEXT_BAD_CONFIG');
    expect(errorOf(() => new TextNegotiator({ role: 'initiator', transport: 'tcp' })).code).toBe('ERR_TEXT_BAD_CONFIG');
    expect(errorOf(() => initiator({ maxConnections: 0 })).code).toBe('ERR_TEXT_BAD_CONFIG');
    expect(errorOf(() => target({ headerDigest: [] })).code).toBe('ERR_TEXT_BAD_CONFIG');
  });

  it('throws only TextError, whatever the peer sends', () => {
    const names = [...KEY_TABLE.keys(), 'X-vendor.key', 'Unknown'];
    const arbPair = fc.record({
      key: fc.constantFrom(...names),
      value: fc.oneof(
        arbTextValue,
        fc.constantFrom('Yes', 'No', 'None', 'Reject', '0', '512', '0x10', 'CRC32C,None', 'Discovery'),
      ),
    });
    const stages: NegotiationStage[] = ['security', 'operational'];
    fc.assert(
      fc.property(
        fc.array(fc.array(arbPair, { maxLength: 8 }), { maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        (texts, asTarget, iser) => {
          const n = asTarget
            ? target({}, { transport: iser ? 'iser' : 'tcp' })
            : initiator({}, { transport: iser ? 'iser' : 'tcp' });
          texts.forEach((text, i) => {
            const stage = stages[Math.min(i, 1)] ?? 'operational';
            try {
              n.offer(stage);
              n.receive(text, stage);
              n.params();
            } catch (err) {
              expect(err).toBeInstanceOf(TextError);
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('iSER keys (RFC 7145 §6)', () => {
  const iserLogin = (
    iTransport: 'tcp' | 'iser',
    tTransport: 'tcp' | 'iser',
    iConfig: NegotiationConfig = {},
    tConfig: NegotiationConfig = {},
  ) =>
    simulatedParams(
      simulateLogin(
        { transport: iTransport, config: { initiatorName: INAME, targetName: TNAME, ...iConfig } },
        { transport: tTransport, config: tConfig },
      ),
    );

  it('uses RDMAExtensions=Yes only when both sides say Yes', () => {
    expect(iserLogin('iser', 'iser').initiator.rdmaExtensions).toBe(true);
    expect(iserLogin('iser', 'tcp').initiator.rdmaExtensions).toBe(false);
    expect(iserLogin('tcp', 'iser').initiator.rdmaExtensions).toBe(false);
    expect(iserLogin('tcp', 'tcp').initiator.rdmaExtensions).toBe(false);
  });

  it('an iSER target offers RDMAExtensions=Yes itself when the initiator leaves it unsaid', () => {
    const t = loggedInTarget({}, { transport: 'iser' });
    t.receive(pairs('MaxBurstLength=65536'), 'operational');
    expect(t.offer('operational')[0]).toEqual({ key: 'RDMAExtensions', value: 'Yes' });
    t.receive(pairs('RDMAExtensions=No'), 'operational');
    expect(t.params().rdmaExtensions).toBe(false);
  });

  it('forces digests to None and answers digest offers with Irrelevant', () => {
    const { initiator: params } = iserLogin(
      'iser',
      'iser',
      { headerDigest: ['CRC32C'] },
      { headerDigest: ['CRC32C'], dataDigest: ['CRC32C'] },
    );
    expect([params.headerDigest, params.dataDigest]).toEqual(['None', 'None']);
    const t = loggedInTarget({ headerDigest: ['CRC32C', 'None'] }, { transport: 'iser' });
    const { reply } = t.receive(pairs('RDMAExtensions=Yes HeaderDigest=CRC32C,None'), 'operational');
    expect(asObject(reply)).toEqual({ RDMAExtensions: 'Yes', HeaderDigest: 'Irrelevant' });
    expect(t.params().headerDigest).toBe('None');
  });

  it('replaces MaxRecvDataSegmentLength with the RDSL keys, even when it is declared', () => {
    const t = loggedInTarget(
      { initiatorRecvDataSegmentLength: 65536, targetRecvDataSegmentLength: 16384 },
      { transport: 'iser' },
    );
    const { reply } = t.receive(
      pairs(
        'RDMAExtensions=Yes MaxRecvDataSegmentLength=1024 InitiatorRecvDataSegmentLength=262144 TargetRecvDataSegmentLength=8192',
      ),
      'operational',
    );
    expect(asObject(reply)).toEqual({
      RDMAExtensions: 'Yes',
      InitiatorRecvDataSegmentLength: '65536',
      TargetRecvDataSegmentLength: '8192',
    });
    expect(t.offer('operational').map((p) => p.key)).not.toContain('MaxRecvDataSegmentLength');
    const params = t.params();
    expect(params.maxRecvDataSegmentLength).toEqual({ initiator: 65536, target: 8192 });
    expect(dataSegmentLimits(params, 'target')).toEqual({
      maxSendDataSegmentLength: 65536,
      maxRecvDataSegmentLength: 8192,
    });
    expect(dataSegmentLimits(params, 'initiator')).toEqual({
      maxSendDataSegmentLength: 8192,
      maxRecvDataSegmentLength: 65536,
    });
  });

  it('answers the RDSL keys with Irrelevant when RDMAExtensions=No', () => {
    const t = loggedInTarget();
    const { reply } = t.receive(pairs('RDMAExtensions=Yes InitiatorRecvDataSegmentLength=262144'), 'operational');
    expect(asObject(reply)).toEqual({ RDMAExtensions: 'No', InitiatorRecvDataSegmentLength: 'Irrelevant' });
    expect(t.params().initiatorRecvDataSegmentLength).toBe(8192);
  });

  it('records the iSER declarations of each side', () => {
    const { initiator: params } = iserLogin(
      'iser',
      'iser',
      {
        maxOutstandingUnexpectedPdus: 4,
        maxAhsLength: 64,
        iserHelloRequired: true,
        taggedBufferForSolicitedDataOnly: true,
      },
      { maxOutstandingUnexpectedPdus: 0 },
    );
    expect(params).toMatchObject({
      maxOutstandingUnexpectedPdus: { initiator: 4, target: 0 },
      maxAhsLength: 64,
      iserHelloRequired: true,
      taggedBufferForSolicitedDataOnly: true,
    });
  });

  it('ignores a NotUnderstood answer to one of its declarations', () => {
    const ini = initiator({ maxOutstandingUnexpectedPdus: 4 }, { transport: 'iser' });
    const offer = ini.offer('operational');
    expect(offer.map((p) => p.key)).toContain('MaxOutstandingUnexpectedPDUs');
    const answers = ini.awaitingAnswers.map((key) => ({ key, value: key === 'RDMAExtensions' ? 'Yes' : 'Reject' }));
    expect(() =>
      ini.receive([...answers, ...pairs('MaxOutstandingUnexpectedPDUs=NotUnderstood')], 'operational'),
    ).not.toThrow();
    expect(ini.params().rdmaExtensions).toBe(true);
  });
});

describe('connections after the first, and full feature phase', () => {
  const leading = simulatedParams(
    simulateLogin(
      {
        transport: 'tcp',
        config: { initiatorName: INAME, targetName: TNAME, maxBurstLength: 65536, headerDigest: ['CRC32C', 'None'] },
      },
      { transport: 'tcp', config: { headerDigest: ['CRC32C', 'None'], maxRecvDataSegmentLength: 32768 } },
    ),
  ).target;

  it('a non-leading login negotiates connection keys and answers leading-only keys with Irrelevant', () => {
    const t = target({}, { session: leading });
    t.receive(pairs(`InitiatorName=${INAME} TargetName=${TNAME} SessionType=Normal`), 'security');
    const { reply } = t.receive(
      pairs('HeaderDigest=None MaxBurstLength=4096 MaxRecvDataSegmentLength=16384'),
      'operational',
    );
    expect(asObject(reply)).toEqual({ HeaderDigest: 'None', MaxBurstLength: 'Irrelevant' });
    const params = t.params();
    expect(params.maxBurstLength).toBe(65536);
    expect(params.headerDigest).toBe('None');
    expect(params.maxRecvDataSegmentLength.initiator).toBe(16384);
    expect(
      errorOf(() => target({}, { session: leading }).receive(pairs('SessionType=Discovery'), 'security')).code,
    ).toBe('ERR_TEXT_WRONG_PHASE');
  });

  it('a non-leading initiator offers only the connection keys', () => {
    const ini = initiator({ headerDigest: ['CRC32C'] }, { session: leading });
    expect(ini.offer('security').map((p) => p.key)).toEqual(['InitiatorName', 'TargetName']);
    expect(ini.offer('operational').map((p) => p.key)).toEqual([
      'HeaderDigest',
      'DataDigest',
      'MaxRecvDataSegmentLength',
    ]);
  });

  it('full feature phase: re-declarations apply, login-only keys get Reject, SendTargets goes to the caller', () => {
    const t = target({}, { session: leading, phase: 'full-feature' });
    const { reply, delegated } = t.receive(
      pairs('MaxRecvDataSegmentLength=131072 InitialR2T=No SendTargets=All X-foo=1 CHAP_A=5 InitiatorAlias=renamed'),
      'full-feature',
    );
    expect(asObject(reply)).toEqual({ InitialR2T: 'Reject', 'X-foo': 'NotUnderstood', CHAP_A: 'Reject' });
    expect(delegated).toEqual(pairs('SendTargets=All'));
    const params = t.params();
    expect(params.maxRecvDataSegmentLength).toEqual({ initiator: 131072, target: 32768 });
    expect(params.initialR2T).toBe(leading.initialR2T);
    expect(params.initiatorAlias).toBe('renamed');
    expect(params.headerDigest).toBe(leading.headerDigest);
    // ALL keys may be exchanged again in a later text exchange.
    expect(() => t.receive(pairs('MaxRecvDataSegmentLength=8192'), 'full-feature')).not.toThrow();
    expect(t.params().maxRecvDataSegmentLength.initiator).toBe(8192);
  });

  it('refuses a stage that does not match its phase', () => {
    expect(errorOf(() => target({}, { session: leading, phase: 'full-feature' }).receive([], 'operational')).code).toBe(
      'ERR_TEXT_BAD_CONFIG',
    );
    expect(errorOf(() => target({}, { phase: 'full-feature' })).code).toBe('ERR_TEXT_BAD_CONFIG');
  });
});

describe('well-formed offers from an RFC-abiding peer', () => {
  it('are answered with a value the selection rules admit, never with a protocol error', () => {
    fc.assert(
      fc.property(arbKeyOffers, fc.boolean(), (offers, discovery) => {
        const t = loggedInTarget({}, {}, discovery ? 'Discovery' : 'Normal');
        // Only what an initiator may send in login: no identity repeats, no target-only keys, no SendTargets.
        const legal = offers.filter((p) => {
          const def = KEY_TABLE.get(p.key);
          return (
            def !== undefined &&
            def.senders !== 'target' &&
            def.use !== 'full-feature-only' &&
            !['InitiatorName', 'TargetName', 'SessionType'].includes(p.key)
          );
        });
        const { reply } = t.receive(legal, 'operational');
        for (const { key, value } of reply) {
          const offered = legal.find((p) => p.key === key)?.value ?? '';
          const def = KEY_TABLE.get(key);
          if (def?.result === 'list') expect([...offered.split(','), 'Reject', 'Irrelevant']).toContain(value);
          if (def?.result === 'min') expect(value === 'Irrelevant' || Number(value) <= Number(offered)).toBe(true);
          if (def?.result === 'max') expect(value === 'Irrelevant' || Number(value) >= Number(offered)).toBe(true);
          if (def?.result === 'and' || def?.result === 'or') expect(['Yes', 'No', 'Irrelevant']).toContain(value);
        }
      }),
      { numRuns: 300 },
    );
  });
});
