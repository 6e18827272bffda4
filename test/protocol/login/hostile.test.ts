/**
 * Hostile peers: responses (and requests) with wrong fields, garbage status, stages going backwards, endless
 * continuation, random text. The machines must end with a typed failure, never throw anything else, never
 * answer forever, and keep their own fields right while doing so.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LoginError } from '../../../protocol/login/errors.js';
import {
  InitiatorLogin,
  type InitiatorLoginAction,
  type InitiatorLoginConfig,
} from '../../../protocol/login/initiator-login.js';
import { TargetLogin, type TargetLoginAction, type TargetLoginConfig } from '../../../protocol/login/target-login.js';
import type { Isid } from '../../../protocol/pdu/isid.js';
import {
  LoginStatus,
  loginStatusCode,
  type LoginRequestPdu,
  type LoginResponsePdu,
  type LoginStageValue,
} from '../../../protocol/pdu/login.js';
import type { Pdu } from '../../../protocol/pdu/pdu.js';
import { encodeText, type TextPair } from '../../../protocol/text/codec.js';
import {
  INITIATOR,
  INITIATOR_SECRET,
  ISID,
  loginRequest as request,
  memoryPolicy,
  overTheWire,
  seededRandom,
  TARGET,
} from './harness.js';

const MAX_ROUND_TRIPS = 32;

function newInitiator(extra: Partial<InitiatorLoginConfig> = {}): InitiatorLogin {
  return new InitiatorLogin({
    initiatorName: INITIATOR,
    targetName: TARGET,
    isid: ISID,
    transport: 'tcp',
    initiatorTaskTag: 0x10,
    cmdSN: 5,
    random: seededRandom('hostile-initiator'),
    ...extra,
  });
}

function newTarget(extra: Partial<TargetLoginConfig> = {}): TargetLogin {
  return new TargetLogin({
    transport: 'tcp',
    portalGroupTag: 1,
    policy: memoryPolicy(),
    initialStatSN: 100,
    random: seededRandom('hostile-target'),
    ...extra,
  });
}

/** A response to `request` that a well-behaved target could send, with overrides. */
function response(
  request: LoginRequestPdu,
  statSN: number,
  overrides: Partial<LoginResponsePdu> = {},
  pairs: TextPair[] = [],
): LoginResponsePdu {
  return {
    kind: 'login-response',
    transit: request.transit,
    continue: false,
    currentStage: request.currentStage,
    nextStage: request.transit ? request.nextStage : 0,
    versionMax: 0,
    versionActive: 0,
    isid: request.isid,
    tsih: request.transit && request.nextStage === 3 ? 1 : 0,
    itt: request.itt,
    statSN,
    expCmdSN: request.cmdSN,
    maxCmdSN: request.cmdSN + 10,
    statusClass: 0,
    statusDetail: 0,
    data: pairs.length ? [encodeText(pairs)] : [],
    ...overrides,
  };
}

const sent = (actions: readonly InitiatorLoginAction[]): LoginRequestPdu => {
  const action = actions.find((a) => a.type === 'send');
  if (action?.type !== 'send') throw new Error('no request sent');
  return action.pdu;
};

const failure = (actions: readonly (InitiatorLoginAction | TargetLoginAction)[]): LoginError | undefined => {
  const action = actions.find((a) => a.type === 'failed');
  return action?.type === 'failed' ? action.error : undefined;
};

describe('initiator against a misbehaving target', () => {
  /** Starts a login with None and returns the initiator and its first request. */
  const started = (): { initiator: InitiatorLogin; first: LoginRequestPdu } => {
    const initiator = newInitiator();
    return { initiator, first: sent(initiator.start()) };
  };

  const cases: [string, (first: LoginRequestPdu) => Pdu][] = [
    ['a response with another ITT', (first) => response(first, 1, { itt: first.itt + 1 })],
    ['a response with another ISID', (first) => response(first, 1, { isid: { ...ISID, d: ISID.d ^ 1 } })],
    ['status class 4', (first) => response(first, 1, { statusClass: 4 })],
    ['status class 0xff detail 0xff', (first) => response(first, 1, { statusClass: 0xff, statusDetail: 0xff })],
    ['a version outside the offered range', (first) => response(first, 1, { versionActive: 1 })],
    ['both T and C', (first) => response(first, 1, { continue: true })],
    ['a response in the operational stage to a security request', (first) => response(first, 1, { currentStage: 1 })],
    ['a jump to full feature phase past the requested stage', (first) => response(first, 1, { nextStage: 3 })],
    ['the reserved stage 2', (first) => response(first, 1, { nextStage: 2 })],
    ['a redirect without TargetAddress', (first) => response(first, 1, { statusClass: 1, statusDetail: 1 })],
    ['redirect detail 7', (first) => response(first, 1, { statusClass: 1, statusDetail: 7 })],
    [
      'a NOP-In instead of a login response',
      () => ({
        kind: 'nop-in',
        lun: 0n,
        itt: 0xffffffff,
        ttt: 1,
        statSN: 0,
        expCmdSN: 0,
        maxCmdSN: 0,
        data: [],
      }),
    ],
    ['an AuthMethod that was not offered', (first) => response(first, 1, {}, [{ key: 'AuthMethod', value: 'SRP' }])],
    ['no AuthMethod answer and no transit', (first) => response(first, 1, { transit: false })],
  ];
  for (const [name, make] of cases) {
    it(`fails with ERR_LOGIN_PROTOCOL on ${name}`, () => {
      const { initiator, first } = started();
      const error = failure(initiator.receive(make(first)));
      expect(error).toBeInstanceOf(LoginError);
      expect(error?.code).toBe('ERR_LOGIN_PROTOCOL');
      expect(initiator.state).toBe('failed');
      expect(() => initiator.receive(response(first, 2))).toThrow(LoginError);
    });
  }

  it('fails with ERR_LOGIN_NEGOTIATION, naming the cause, on malformed text', () => {
    const { initiator, first } = started();
    const error = failure(initiator.receive(response(first, 1, { data: [Buffer.from('AuthMethod')] })));
    expect(error?.code).toBe('ERR_LOGIN_NEGOTIATION');
    expect(error?.message).toMatch(/NUL/);
  });

  it('maps every class 2 and 3 status to its own code, and says when it may retry', () => {
    for (const status of Object.values(LoginStatus).filter((s) => s >= 0x0200)) {
      const { initiator, first } = started();
      const error = failure(
        initiator.receive(response(first, 1, { statusClass: status >> 8, statusDetail: status & 0xff })),
      );
      expect(error?.status).toBe(status);
      expect(error?.code).not.toBe('ERR_LOGIN_UNKNOWN_STATUS');
      expect(error?.retryable).toBe(status >= 0x0300);
      expect(error?.message).toMatch(status >= 0x0300 ? /retryable/ : /not retryable/);
    }
    const { initiator, first } = started();
    expect(failure(initiator.receive(response(first, 1, { statusClass: 2, statusDetail: 0x77 })))?.code).toBe(
      'ERR_LOGIN_UNKNOWN_STATUS',
    );
  });

  it('fails when StatSN does not count up, and when the stage goes backwards', () => {
    const { initiator, first } = started();
    const toOperational = initiator.receive(response(first, 1, {}, [{ key: 'AuthMethod', value: 'None' }]));
    const operational = sent(toOperational);
    expect(operational.currentStage).toBe(1);
    expect(operational.expStatSN).toBe(2);
    const skipped = failure(initiator.receive(response(operational, 3, { transit: false })));
    expect(skipped?.message).toMatch(/StatSN 3 does not follow 1/);

    const again = started();
    const op = sent(again.initiator.receive(response(again.first, 1, {}, [{ key: 'AuthMethod', value: 'None' }])));
    const back = failure(again.initiator.receive(response(op, 2, { currentStage: 0, transit: false })));
    expect(back?.code).toBe('ERR_LOGIN_PROTOCOL');
  });

  it('fails on a final response with TSIH 0 or with unanswered offers', () => {
    const { initiator, first } = started();
    const op = sent(initiator.receive(response(first, 1, {}, [{ key: 'AuthMethod', value: 'None' }])));
    expect(failure(initiator.receive(response(op, 2, { tsih: 0 })))?.message).toMatch(/unanswered|TSIH 0/);
  });

  it('stops an endless stream of continued responses', () => {
    const { initiator, first } = started();
    let req = first;
    let actions: InitiatorLoginAction[] = [];
    for (let i = 0; i < 100 && initiator.state === 'security'; i++) {
      actions = initiator.receive(
        response(req, i + 1, { transit: false, continue: true }, [{ key: 'X-pad', value: 'x'.repeat(200) }]),
      );
      const next = actions.find((a) => a.type === 'send');
      if (next?.type === 'send') {
        expect(next.pdu.data).toEqual([]);
        req = next.pdu;
      }
    }
    expect(initiator.state).toBe('failed');
    expect(failure(actions)?.code).toMatch(/ERR_LOGIN_(TOO_MANY_ROUND_TRIPS|NEGOTIATION)/);
  });

  it('stops a target that never moves on', () => {
    const { initiator, first } = started();
    let req = sent(initiator.receive(response(first, 1, {}, [{ key: 'AuthMethod', value: 'None' }])));
    let last: InitiatorLoginAction[] = [];
    let n = 2;
    for (; n < 100 && initiator.state === 'operational'; n++) {
      last = initiator.receive(response(req, n, { transit: false }));
      const next = last.find((a) => a.type === 'send');
      if (next?.type === 'send') req = next.pdu;
    }
    expect(failure(last)?.code).toBe('ERR_LOGIN_TOO_MANY_ROUND_TRIPS');
    expect(n).toBeLessThanOrEqual(MAX_ROUND_TRIPS + 2);
  });

  it('fails typed, in bounded steps, on any sequence of random responses', () => {
    fc.assert(
      fc.property(
        fc.array(arbResponse(0x10, ISID), { minLength: 1, maxLength: 40 }),
        arbAuthConfig,
        (responses, auth) => {
          const initiator = newInitiator(auth);
          checkInitiatorActions(initiator.start());
          let count = 0;
          for (const r of responses) {
            if (initiator.state !== 'security' && initiator.state !== 'operational') break;
            count += 1;
            checkInitiatorActions(initiator.receive(r));
          }
          expect(count).toBeLessThanOrEqual(MAX_ROUND_TRIPS + 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fails typed, in bounded steps, when a real target’s responses are mutated', () => {
    fc.assert(
      fc.property(fc.array(arbMutation, { minLength: 1, maxLength: 12 }), arbAuthConfig, (mutations, auth) => {
        const initiator = newInitiator(auth);
        const target = newTarget({
          policy: memoryPolicy({ auth: { methods: ['CHAP', 'None'] }, users: { alice: INITIATOR_SECRET } }),
        });
        let queue = [...checkInitiatorActions(initiator.start())];
        let steps = 0;
        while (queue.length > 0 && target.state !== 'succeeded' && target.state !== 'failed') {
          const req = queue.shift();
          if (!req) break;
          for (const action of target.receive(overTheWire(req))) {
            if (action.type !== 'send' || (initiator.state !== 'security' && initiator.state !== 'operational'))
              continue;
            const mutate = mutations[steps % mutations.length];
            steps += 1;
            const mutated = mutate ? mutate(action.pdu) : action.pdu;
            queue = [...queue, ...checkInitiatorActions(initiator.receive(mutated))];
          }
          expect(steps).toBeLessThanOrEqual(MAX_ROUND_TRIPS + 1);
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** Checks the initiator's invariants on one batch of actions and returns the requests to deliver. */
function checkInitiatorActions(actions: readonly InitiatorLoginAction[]): LoginRequestPdu[] {
  const out: LoginRequestPdu[] = [];
  for (const action of actions) {
    if (action.type === 'failed') expect(action.error).toBeInstanceOf(LoginError);
    if (action.type === 'send') {
      expect(action.pdu.itt).toBe(0x10);
      expect(action.pdu.cmdSN).toBe(5);
      expect(action.pdu.isid).toEqual(ISID);
      expect(action.pdu.transit && action.pdu.continue).toBe(false);
      out.push(action.pdu);
    }
  }
  return out;
}

const arbAuthConfig: fc.Arbitrary<Partial<InitiatorLoginConfig>> = fc.constantFrom(
  {},
  { auth: { method: 'CHAP' as const, credentials: { user: 'alice', secret: INITIATOR_SECRET } } },
  {
    auth: {
      method: 'CHAP' as const,
      credentials: { user: 'alice', secret: INITIATOR_SECRET },
      mutual: { user: 'disk', secret: 'target-secret-for-hostile' },
    },
  },
  { transport: 'iser' as const },
);

const arbIsid: fc.Arbitrary<Isid> = fc.record({
  type: fc.integer({ min: 0, max: 3 }),
  a: fc.integer({ min: 0, max: 0x3f }),
  b: fc.integer({ min: 0, max: 0xffff }),
  c: fc.integer({ min: 0, max: 0xff }),
  d: fc.integer({ min: 0, max: 0xffff }),
});
const arbStage = fc.constantFrom<LoginStageValue>(0, 1, 2, 3);
const arbU32 = fc.integer({ min: 0, max: 0xffffffff });

const KEYS = [
  'AuthMethod',
  'CHAP_A',
  'CHAP_I',
  'CHAP_C',
  'CHAP_N',
  'CHAP_R',
  'InitiatorName',
  'TargetName',
  'SessionType',
  'TargetPortalGroupTag',
  'TargetAlias',
  'TargetAddress',
  'HeaderDigest',
  'MaxBurstLength',
  'FirstBurstLength',
  'MaxRecvDataSegmentLength',
  'RDMAExtensions',
  'ErrorRecoveryLevel',
  'SRP_U',
  'X-vendor',
];
const VALUES = [
  'None',
  'CHAP',
  'CHAP,None',
  '5',
  '7',
  '8,5',
  'Reject',
  'Irrelevant',
  'NotUnderstood',
  'Yes',
  'No',
  '1',
  '0',
  '262144',
  '65536',
  'CRC32C',
  'Normal',
  'Discovery',
  'alice',
  INITIATOR,
  TARGET,
  '0x' + '5a'.repeat(16),
  '0b' + Buffer.alloc(20, 1).toString('base64'),
  '10.0.0.1:3260,1',
  '',
];

/** Text as a hostile peer might send it: plausible pairs, raw bytes, or nothing. */
const arbText: fc.Arbitrary<Buffer[]> = fc.oneof(
  fc
    .uniqueArray(fc.record({ key: fc.constantFrom(...KEYS), value: fc.constantFrom(...VALUES) }), {
      selector: (p) => p.key,
      maxLength: 6,
    })
    .map((pairs) => (pairs.length === 0 ? [] : [encodeText(pairs)])),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => [Buffer.from(bytes)]),
  fc.constant<Buffer[]>([]),
);

function arbResponse(itt: number, isid: Isid): fc.Arbitrary<LoginResponsePdu> {
  return fc.record({
    kind: fc.constant('login-response' as const),
    transit: fc.boolean(),
    continue: fc.boolean(),
    currentStage: arbStage,
    nextStage: arbStage,
    versionMax: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
    versionActive: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
    isid: fc.oneof(fc.constant(isid), arbIsid),
    tsih: fc.integer({ min: 0, max: 0xffff }),
    itt: fc.oneof(fc.constant(itt), arbU32),
    statSN: arbU32,
    expCmdSN: arbU32,
    maxCmdSN: arbU32,
    statusClass: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 255 })),
    statusDetail: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
    data: arbText,
  });
}

type Mutation = (<P extends LoginRequestPdu | LoginResponsePdu>(pdu: P) => P) | undefined;

/** A change to one field of a real PDU, or none (so the exchange gets somewhere before it breaks). */
const arbMutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 4 },
  fc.constant<Mutation>((p) => ({ ...p, transit: !p.transit })),
  fc.constant<Mutation>((p) => ({ ...p, continue: !p.continue })),
  arbStage.map<Mutation>((stage) => (p) => ({ ...p, currentStage: stage })),
  arbStage.map<Mutation>((stage) => (p) => ({ ...p, nextStage: stage })),
  arbU32.map<Mutation>((itt) => (p) => ({ ...p, itt })),
  arbIsid.map<Mutation>((isid) => (p) => ({ ...p, isid })),
  fc.integer({ min: 0, max: 0xffff }).map<Mutation>((tsih) => (p) => ({ ...p, tsih })),
  fc
    .integer({ min: 1, max: 5 })
    .map<Mutation>(
      (n) => (p) => ('statSN' in p ? { ...p, statSN: (p.statSN + n) >>> 0 } : { ...p, cmdSN: (p.cmdSN + n) >>> 0 }),
    ),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map<Mutation>(
    ([c, d]) =>
      (p) =>
        'statusClass' in p ? { ...p, statusClass: c, statusDetail: d } : { ...p, versionMin: c, versionMax: d },
  ),
  arbText.map<Mutation>((data) => (p) => ({ ...p, data })),
);

describe('target against a misbehaving initiator', () => {
  const hello: TextPair[] = [
    { key: 'InitiatorName', value: INITIATOR },
    { key: 'TargetName', value: TARGET },
    { key: 'AuthMethod', value: 'None' },
  ];
  const statusOf = (actions: readonly TargetLoginAction[]): number | undefined => {
    const send = actions.find((a) => a.type === 'send');
    return send?.type === 'send' ? loginStatusCode(send.pdu.statusClass, send.pdu.statusDetail) : undefined;
  };

  it('answers a missing InitiatorName with 0x0207', () => {
    const actions = newTarget().receive(request({}, [{ key: 'TargetName', value: TARGET }]));
    expect(statusOf(actions)).toBe(LoginStatus.MissingParameter);
    expect(failure(actions)?.code).toBe('ERR_LOGIN_MISSING_PARAMETER');
  });

  it('answers a missing TargetName in a normal session with 0x0207', () => {
    expect(statusOf(newTarget().receive(request({}, [{ key: 'InitiatorName', value: INITIATOR }])))).toBe(
      LoginStatus.MissingParameter,
    );
  });

  it('answers an unsupported version with 0x0205', () => {
    expect(statusOf(newTarget().receive(request({ versionMin: 1, versionMax: 2 }, hello)))).toBe(
      LoginStatus.UnsupportedVersion,
    );
  });

  it('answers an unknown session type with 0x0209', () => {
    expect(statusOf(newTarget().receive(request({}, [...hello, { key: 'SessionType', value: 'Bogus' }])))).toBe(
      LoginStatus.SessionTypeNotSupported,
    );
  });

  it('answers a non-login PDU with 0x020b', () => {
    const nop: Pdu = {
      kind: 'nop-out',
      immediate: true,
      lun: 0n,
      itt: 7,
      ttt: 0xffffffff,
      cmdSN: 0,
      expStatSN: 0,
      data: [],
    };
    const actions = newTarget().receive(nop);
    expect(statusOf(actions)).toBe(LoginStatus.InvalidDuringLogin);
    const send = actions.find((a) => a.type === 'send');
    expect(send?.type === 'send' && send.pdu.itt).toBe(7);
  });

  it('answers malformed text, T with C, and a stage going backwards with 0x0200', () => {
    expect(statusOf(newTarget().receive(request({ data: [Buffer.from('InitiatorName')] })))).toBe(
      LoginStatus.InitiatorError,
    );
    expect(statusOf(newTarget().receive(request({ transit: true, continue: true, nextStage: 1 }, hello)))).toBe(
      LoginStatus.InitiatorError,
    );
    const target = newTarget();
    target.receive(request({ transit: true, nextStage: 1 }, hello));
    expect(target.state).toBe('operational');
    expect(statusOf(target.receive(request({ currentStage: 0 })))).toBe(LoginStatus.InitiatorError);
  });

  it('answers an ISID or CmdSN that changes mid-login with 0x0200', () => {
    const a = newTarget();
    a.receive(request({}, hello));
    expect(statusOf(a.receive(request({ isid: { ...ISID, a: 5 } })))).toBe(LoginStatus.InitiatorError);
    const b = newTarget();
    b.receive(request({}, hello));
    expect(statusOf(b.receive(request({ cmdSN: 9 })))).toBe(LoginStatus.InitiatorError);
  });

  it('echoes each request’s ITT, even when the initiator changes it (libiscsi does)', () => {
    const target = newTarget();
    const first = target.receive(request({ itt: 3 }, hello));
    const second = target.receive(request({ itt: 4 }));
    expect(first[0]?.type === 'send' && first[0].pdu.itt).toBe(3);
    expect(second[0]?.type === 'send' && second[0].pdu.itt).toBe(4);
  });

  it('lets an initiator skip the security stage only when no authentication is required', () => {
    const open = newTarget();
    const actions = open.receive(
      request({ currentStage: 1, transit: true, nextStage: 3 }, [
        { key: 'InitiatorName', value: INITIATOR },
        { key: 'TargetName', value: TARGET },
      ]),
    );
    expect(actions.map((a) => a.type)).toEqual(['send', 'succeeded']);

    const guarded = newTarget({ policy: memoryPolicy({ auth: { methods: ['CHAP'] } }) });
    expect(
      statusOf(
        guarded.receive(
          request({ currentStage: 1, transit: true, nextStage: 3 }, [
            { key: 'InitiatorName', value: INITIATOR },
            { key: 'TargetName', value: TARGET },
          ]),
        ),
      ),
    ).toBe(LoginStatus.AuthenticationFailure);
  });

  it('answers CHAP keys without AuthMethod=CHAP with 0x0200', () => {
    expect(statusOf(newTarget().receive(request({}, [...hello, { key: 'CHAP_A', value: '5' }])))).toBe(
      LoginStatus.InitiatorError,
    );
  });

  it('ends an endless login with 0x0302', () => {
    const target = newTarget();
    let actions = target.receive(request({}, hello));
    let n = 1;
    for (; n < 100 && target.state === 'security'; n++) actions = target.receive(request());
    expect(statusOf(actions)).toBe(LoginStatus.OutOfResources);
    expect(n).toBe(MAX_ROUND_TRIPS + 1);
  });

  it('answers every random request with a response, and ends in bounded steps', () => {
    fc.assert(
      fc.property(fc.array(arbRequest, { minLength: 1, maxLength: 40 }), (requests) => {
        const target = newTarget({
          policy: memoryPolicy({ auth: { methods: ['CHAP', 'None'] }, users: { alice: INITIATOR_SECRET } }),
        });
        let count = 0;
        for (const r of requests) {
          if (target.state === 'succeeded' || target.state === 'failed' || target.state === 'redirected') break;
          count += 1;
          checkTargetActions(target.receive(r));
        }
        expect(count).toBeLessThanOrEqual(MAX_ROUND_TRIPS + 1);
      }),
      { numRuns: 300 },
    );
  });

  it('answers a real initiator’s mutated requests with a response, and ends in bounded steps', () => {
    fc.assert(
      fc.property(fc.array(arbMutation, { minLength: 1, maxLength: 12 }), arbAuthConfig, (mutations, auth) => {
        const initiator = newInitiator(auth);
        const target = newTarget({
          transport: auth.transport ?? 'tcp',
          policy: memoryPolicy({ auth: { methods: ['CHAP', 'None'] }, users: { alice: INITIATOR_SECRET } }),
        });
        let queue = checkInitiatorActions(initiator.start());
        let steps = 0;
        while (queue.length > 0) {
          const req = queue.shift();
          if (!req || target.state === 'succeeded' || target.state === 'failed' || target.state === 'redirected') break;
          const mutate = mutations[steps % mutations.length];
          steps += 1;
          for (const action of checkTargetActions(target.receive(mutate ? mutate(req) : req))) {
            if (initiator.state === 'security' || initiator.state === 'operational') {
              queue = [...queue, ...checkInitiatorActions(initiator.receive(action))];
            }
          }
          expect(steps).toBeLessThanOrEqual(MAX_ROUND_TRIPS + 1);
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** Checks the target's invariants on one batch; returns the responses it sent. */
function checkTargetActions(actions: readonly TargetLoginAction[]): LoginResponsePdu[] {
  const sends: LoginResponsePdu[] = [];
  for (const action of actions) if (action.type === 'send') sends.push(action.pdu);
  expect(sends.length).toBe(1);
  const failed = actions.find((a) => a.type === 'failed');
  if (failed?.type === 'failed') {
    expect(failed.error).toBeInstanceOf(LoginError);
    expect([2, 3]).toContain(failed.error.statusClass);
    expect(sends[0]?.statusClass).toBe(failed.error.statusClass);
    expect(sends[0]?.statusDetail).toBe(failed.error.statusDetail);
  }
  for (const pdu of sends) expect(pdu.transit && pdu.continue).toBe(false);
  return sends.map((p) => overTheWire(p));
}

const arbRequest: fc.Arbitrary<LoginRequestPdu> = fc.record({
  kind: fc.constant('login-request' as const),
  transit: fc.boolean(),
  continue: fc.boolean(),
  currentStage: arbStage,
  nextStage: arbStage,
  versionMax: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
  versionMin: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
  isid: fc.oneof(fc.constant(ISID), arbIsid),
  tsih: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })),
  itt: arbU32,
  cid: fc.integer({ min: 0, max: 0xffff }),
  cmdSN: fc.oneof(fc.constant(0), arbU32),
  expStatSN: arbU32,
  data: arbText,
});
