/**
 * Random configurations on both sides: the two machines must agree. Either both succeed with identical
 * NegotiatedParams (equal to what the text layer's negotiators compute alone), or both fail with the status the
 * configurations call for; a failure only the initiator can see (mutual CHAP, RDMAExtensions=No) fails the
 * initiator with its own code, and the target reports no error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALL_CHAP_ALGORITHMS, type ChapAlgorithmId } from '../../../protocol/login/chap.js';
import { InitiatorLogin, type InitiatorAuthConfig } from '../../../protocol/login/initiator-login.js';
import { TargetLogin } from '../../../protocol/login/target-login.js';
import { LoginStatus } from '../../../protocol/pdu/login.js';
import type { TransportKind } from '../../../protocol/text/negotiator.js';
import {
  arbInitiatorConfig,
  arbTargetConfig,
  arbTransport,
  simulatedParams,
  simulateLogin,
} from '../../support/arbitraries/text.js';
import { INITIATOR_SECRET, ISID, memoryPolicy, pump, seededRandom, TARGET_SECRET } from './harness.js';

type Method = 'CHAP' | 'None';

interface AuthScenario {
  readonly initiator: 'None' | 'CHAP' | 'mutual';
  readonly initiatorAlgorithms: readonly ChapAlgorithmId[];
  readonly targetMethods: readonly Method[];
  readonly targetAlgorithms: readonly ChapAlgorithmId[];
  readonly secretRight: boolean;
  readonly targetSecretRight: boolean;
  readonly targetHasCredentials: boolean;
  readonly requireMutual: boolean;
}

const arbAlgorithms = fc.shuffledSubarray([...ALL_CHAP_ALGORITHMS], { minLength: 1 }).map((list) => list);

const arbAuth: fc.Arbitrary<AuthScenario> = fc.record({
  initiator: fc.constantFrom('None' as const, 'CHAP' as const, 'mutual' as const),
  initiatorAlgorithms: arbAlgorithms,
  targetMethods: fc.shuffledSubarray<Method>(['CHAP', 'None']),
  targetAlgorithms: arbAlgorithms,
  // Mostly right, so the exchanges get exercised all the way.
  secretRight: fc.oneof(fc.constant(true), fc.boolean()),
  targetSecretRight: fc.oneof(fc.constant(true), fc.boolean()),
  targetHasCredentials: fc.oneof(fc.constant(true), fc.boolean()),
  requireMutual: fc.oneof(fc.constant(false), fc.boolean()),
});

type Expected =
  | { readonly kind: 'ok' }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'initiator'; readonly code: string };

/** What RFC 7143 §12.1.3 and our policies say the login must end with, from the scenario alone. */
function expectedOutcome(
  auth: AuthScenario,
  sessionType: 'Normal' | 'Discovery',
  initiatorTransport: TransportKind,
  targetTransport: TransportKind,
): Expected {
  const authFailure: Expected = { kind: 'status', status: LoginStatus.AuthenticationFailure };
  const chapOutcome = (mutual: boolean): Expected | undefined => {
    const common = auth.initiatorAlgorithms.find((a) => auth.targetAlgorithms.includes(a));
    if (common === undefined || !auth.secretRight) return authFailure;
    if (!mutual) return auth.requireMutual ? authFailure : undefined;
    if (!auth.targetHasCredentials) return authFailure;
    if (!auth.targetSecretRight) return { kind: 'initiator', code: 'ERR_LOGIN_TARGET_AUTHENTICATION_FAILED' };
    return undefined;
  };
  let failure: Expected | undefined;
  if (auth.initiator === 'None') {
    if (!auth.targetMethods.includes('None')) failure = authFailure;
  } else if (auth.initiator === 'CHAP') {
    // AuthMethod=CHAP,None: the target takes CHAP if it accepts it, else None.
    if (auth.targetMethods.includes('CHAP')) failure = chapOutcome(false);
    else if (!auth.targetMethods.includes('None')) failure = authFailure;
  } else {
    failure = auth.targetMethods.includes('CHAP') ? chapOutcome(true) : authFailure;
  }
  if (failure) return failure;
  if (sessionType === 'Normal' && initiatorTransport !== targetTransport) {
    return initiatorTransport === 'iser'
      ? { kind: 'initiator', code: 'ERR_LOGIN_NO_ISER' }
      : { kind: 'status', status: LoginStatus.InitiatorError };
  }
  return { kind: 'ok' };
}

function initiatorAuth(auth: AuthScenario): InitiatorAuthConfig {
  if (auth.initiator === 'None') return { method: 'None' };
  return {
    method: 'CHAP',
    credentials: { user: 'alice', secret: auth.secretRight ? INITIATOR_SECRET : 'a-wrong-initiator-secret' },
    ...(auth.initiator === 'mutual' ? { mutual: { user: 'disk', secret: TARGET_SECRET } } : {}),
    algorithms: auth.initiatorAlgorithms,
  };
}

describe('initiator against target, random configurations', () => {
  it('both succeed with identical parameters, or both fail with the expected status', () => {
    fc.assert(
      fc.property(
        arbInitiatorConfig,
        arbTargetConfig,
        arbTransport,
        arbTransport,
        arbAuth,
        fc.integer({ min: 0, max: 0xffffffff }),
        (iniConfig, tgtConfig, iniTransport, tgtTransport, auth, cmdSN) => {
          const { initiatorName, targetName, sessionType, initiatorAlias, ...iniNegotiation } = iniConfig;
          if (initiatorName === undefined || targetName === undefined) throw new Error('arbitrary lacks names');
          const { targetAlias, targetPortalGroupTag, ...targetNode } = tgtConfig;
          const session = sessionType ?? 'Normal';
          const tag = targetPortalGroupTag ?? 1;
          const policy = memoryPolicy({
            targets: {
              [targetName]: { kind: 'found', negotiation: targetNode, ...(targetAlias ? { alias: targetAlias } : {}) },
            },
            discovery: { allowed: true, negotiation: targetNode },
            auth: {
              methods: auth.targetMethods,
              chapAlgorithms: auth.targetAlgorithms,
              requireMutual: auth.requireMutual,
            },
            users: { alice: INITIATOR_SECRET },
            ...(auth.targetHasCredentials
              ? {
                  targetCredentials: {
                    user: 'disk',
                    secret: auth.targetSecretRight ? TARGET_SECRET : 'a-wrong-target-secret',
                  },
                }
              : {}),
          });
          const initiator = new InitiatorLogin({
            initiatorName,
            targetName,
            sessionType: session,
            ...(initiatorAlias === undefined ? {} : { initiatorAlias }),
            isid: ISID,
            cmdSN,
            transport: iniTransport,
            auth: initiatorAuth(auth),
            negotiation: iniNegotiation,
            random: seededRandom(`i${cmdSN}`),
          });
          const target = new TargetLogin({
            transport: tgtTransport,
            portalGroupTag: tag,
            policy,
            random: seededRandom(`t${cmdSN}`),
          });
          const run = pump(initiator, target);
          const expected = expectedOutcome(auth, session, iniTransport, tgtTransport);

          if (expected.kind === 'ok') {
            expect(run.initiatorError).toBeUndefined();
            expect(run.targetError).toBeUndefined();
            expect(run.initiatorResult?.params).toEqual(run.targetResult?.params);
            expect(run.initiatorResult?.tsih).toBe(run.targetResult?.tsih);
            expect(run.initiatorResult?.statSN).toBe(run.targetResult?.statSN);
            expect(run.initiatorResult?.expCmdSN).toBe(cmdSN);
            // The same result the text layer's negotiators reach on their own.
            const alone = simulatedParams(
              simulateLogin(
                { transport: iniTransport, config: { ...iniConfig, sessionType: session } },
                {
                  transport: tgtTransport,
                  config: {
                    ...targetNode,
                    // A target node's alias and the portal group tag are declared in normal sessions only.
                    ...(session === 'Normal' ? { targetAlias, targetPortalGroupTag: tag } : {}),
                  },
                },
              ),
            );
            expect(run.initiatorResult?.params).toEqual(alone.initiator);
          } else {
            expect(run.initiatorResult).toBeUndefined();
            if (expected.kind === 'status') {
              expect(run.targetResult).toBeUndefined();
              expect(run.targetError?.status).toBe(expected.status);
              expect(run.initiatorError?.status).toBe(expected.status);
            } else {
              // Only the initiator can see it; the target may have sent its final response already, and the
              // initiator's closing the connection ends that session.
              expect(run.initiatorError?.code).toBe(expected.code);
              expect(run.initiatorError?.detectedBy).toBe('initiator');
              expect(run.targetError).toBeUndefined();
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
