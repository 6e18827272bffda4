/**
 * Test harness for the login machines: a deterministic random source, an in-memory target policy, and a pump that
 * drives an initiator against a target, every PDU going through the real encoder and decoder.
 */
import { createHash } from 'node:crypto';
import { decodePdu } from '../../../protocol/pdu/decode.js';
import { encodePdu } from '../../../protocol/pdu/encode.js';
import { BHS_LENGTH } from '../../../protocol/pdu/constants.js';
import type { Isid } from '../../../protocol/pdu/isid.js';
import type { LoginRequestPdu, LoginResponsePdu } from '../../../protocol/pdu/login.js';
import { encodeText, type TextPair } from '../../../protocol/text/codec.js';
import type { Pdu } from '../../../protocol/pdu/pdu.js';
import type { ChapCredentials, ChapSecret } from '../../../protocol/login/chap.js';
import type { LoginError } from '../../../protocol/login/errors.js';
import {
  InitiatorLogin,
  type InitiatorLoginAction,
  type InitiatorLoginConfig,
  type InitiatorLoginResult,
  type LoginRedirect,
} from '../../../protocol/login/initiator-login.js';
import type { RandomSource } from '../../../protocol/login/random.js';
import {
  TargetLogin,
  type ExistingSession,
  type TargetAuthPolicy,
  type TargetLoginAction,
  type TargetLoginConfig,
  type TargetLoginPolicy,
  type TargetLoginResult,
  type TargetLookup,
} from '../../../protocol/login/target-login.js';
import type { NegotiationConfig } from '../../../protocol/text/config.js';

export const INITIATOR = 'iqn.2024-01.org.example:host1';
export const TARGET = 'iqn.2024-01.org.example:disk1';
export const ISID: Isid = { type: 2, a: 0, b: 0x1234, c: 0x56, d: 0x789a };
/** 16-byte secrets: over the 96-bit minimum. */
export const INITIATOR_SECRET = 'initiator-secret-0001';
export const TARGET_SECRET = 'target-mutual-secret-02';

/** A deterministic random source: SHA-256 of a seed and a counter. */
export function seededRandom(seed: string): RandomSource {
  let counter = 0;
  return {
    bytes(n: number): Buffer {
      const out: Buffer[] = [];
      let have = 0;
      while (have < n) {
        const block = createHash('sha256').update(`${seed}:${counter++}`).digest();
        out.push(block);
        have += block.length;
      }
      return Buffer.concat(out).subarray(0, n);
    },
  };
}

/** Sends a PDU through the real codec, as a byte stream would carry it. */
export function overTheWire<P extends Pdu>(pdu: P): P {
  const chunks = encodePdu(pdu);
  const bytes = Buffer.concat(chunks);
  const header = bytes.subarray(0, BHS_LENGTH);
  const length = header.readUIntBE(5, 3);
  return decodePdu(header, length === 0 ? [] : [bytes.subarray(BHS_LENGTH, BHS_LENGTH + length)]) as P;
}

/** Options of {@link memoryPolicy}. */
export interface MemoryPolicyOptions {
  readonly targets?: Readonly<Record<string, TargetLookup>>;
  readonly discovery?: { readonly allowed: boolean; readonly negotiation?: NegotiationConfig };
  readonly allowed?: (initiatorName: string, targetName: string | undefined) => boolean;
  readonly auth?: TargetAuthPolicy;
  readonly users?: Readonly<Record<string, ChapSecret>>;
  readonly targetCredentials?: ChapCredentials;
  readonly sessions?: readonly (ExistingSession & { readonly initiatorName: string; readonly isid: Isid })[];
  readonly tsih?: number | undefined;
}

/** An in-memory policy: one target by default, no authentication, everyone allowed. */
export function memoryPolicy(options: MemoryPolicyOptions = {}): TargetLoginPolicy & { readonly calls: string[] } {
  const calls: string[] = [];
  const targets = options.targets ?? { [TARGET]: { kind: 'found' } };
  return {
    calls,
    lookupTarget(name) {
      calls.push(`lookupTarget ${name}`);
      return targets[name] ?? { kind: 'not-found' };
    },
    discovery() {
      return options.discovery ?? { allowed: true };
    },
    isInitiatorAllowed(initiatorName, targetName) {
      return options.allowed?.(initiatorName, targetName) ?? true;
    },
    authentication() {
      return options.auth ?? { methods: ['None'] };
    },
    chapSecret(user) {
      return options.users?.[user];
    },
    targetChapCredentials() {
      return options.targetCredentials;
    },
    findSession(query) {
      return options.sessions?.find((s) =>
        query.tsih !== 0
          ? s.tsih === query.tsih
          : s.initiatorName === query.initiatorName &&
            s.isid.type === query.isid.type &&
            s.isid.b === query.isid.b &&
            s.isid.c === query.isid.c &&
            s.isid.d === query.isid.d,
      );
    },
    allocateTsih() {
      return 'tsih' in options ? options.tsih : 0x0101;
    },
  };
}

/** Everything a pumped login produced. */
export interface LoginRun {
  readonly requests: LoginRequestPdu[];
  readonly responses: LoginResponsePdu[];
  readonly initiatorActions: InitiatorLoginAction[];
  readonly targetActions: TargetLoginAction[];
  readonly initiatorResult: InitiatorLoginResult | undefined;
  readonly targetResult: TargetLoginResult | undefined;
  readonly initiatorError: LoginError | undefined;
  readonly targetError: LoginError | undefined;
  readonly redirect: LoginRedirect | undefined;
}

/** Drives an initiator against a target until neither has anything to send (bounded). */
export function pump(initiator: InitiatorLogin, target: TargetLogin, maxSteps = 500): LoginRun {
  const run: LoginRun = {
    requests: [],
    responses: [],
    initiatorActions: [],
    targetActions: [],
    initiatorResult: undefined,
    targetResult: undefined,
    initiatorError: undefined,
    targetError: undefined,
    redirect: undefined,
  };
  const mutable = run as { -readonly [K in keyof LoginRun]: LoginRun[K] };
  let toTarget: LoginRequestPdu[] = [];
  const fromInitiator = (actions: InitiatorLoginAction[]): void => {
    for (const action of actions) {
      run.initiatorActions.push(action);
      if (action.type === 'send') toTarget.push(overTheWire(action.pdu));
      else if (action.type === 'succeeded') mutable.initiatorResult = action.result;
      else if (action.type === 'failed') mutable.initiatorError = action.error;
      else mutable.redirect = action.redirect;
    }
  };
  fromInitiator(initiator.start());
  for (let step = 0; step < maxSteps && toTarget.length > 0; step++) {
    const batch = toTarget;
    toTarget = [];
    for (const request of batch) {
      run.requests.push(request);
      if (target.state === 'succeeded' || target.state === 'failed' || target.state === 'redirected') break;
      for (const action of target.receive(request)) {
        run.targetActions.push(action);
        if (action.type === 'send') {
          const response = overTheWire(action.pdu);
          run.responses.push(response);
          if (initiator.state === 'security' || initiator.state === 'operational') {
            fromInitiator(initiator.receive(response));
          }
        } else if (action.type === 'succeeded') mutable.targetResult = action.result;
        else if (action.type === 'failed') mutable.targetError = action.error;
      }
    }
  }
  return run;
}

/** Builds both machines and pumps them. */
export function login(
  initiatorConfig: Partial<InitiatorLoginConfig> = {},
  targetConfig: Partial<TargetLoginConfig> = {},
): LoginRun {
  const initiator = new InitiatorLogin({
    initiatorName: INITIATOR,
    targetName: TARGET,
    isid: ISID,
    transport: 'tcp',
    random: seededRandom('initiator'),
    ...initiatorConfig,
  });
  const target = new TargetLogin({
    transport: initiatorConfig.transport ?? 'tcp',
    portalGroupTag: 1,
    policy: memoryPolicy(),
    random: seededRandom('target'),
    ...targetConfig,
  });
  return pump(initiator, target);
}

/** Every string form a secret could leak in: the value, and its hex and base64 encodings. */
export function secretForms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [secret, bytes.toString('hex'), bytes.toString('base64')];
}

/** Everything an error exposes, flattened to text (message, cause chain, own fields). */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    parts.push(current.message, String(current.stack), JSON.stringify(current));
    current = current.cause;
  }
  return parts.join('\n');
}

/** A Login Request from a hand-driven initiator: defaults for every field, then `overrides`, then `pairs`. */
export function loginRequest(overrides: Partial<LoginRequestPdu> = {}, pairs: TextPair[] = []): LoginRequestPdu {
  return {
    kind: 'login-request',
    transit: false,
    continue: false,
    currentStage: 0,
    nextStage: 0,
    versionMax: 0,
    versionMin: 0,
    isid: ISID,
    tsih: 0,
    itt: 1,
    cid: 0,
    cmdSN: 0,
    expStatSN: 0,
    data: pairs.length ? [encodeText(pairs)] : [],
    ...overrides,
  };
}
