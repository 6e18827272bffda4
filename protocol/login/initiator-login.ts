/**
 * The initiator's login (RFC 7143 §6.3, §11.12-11.13, §12.1.3; RFC 7145 §6), sans-IO: `start()` and
 * `receive(pdu)` return actions (send a Login Request; login succeeded, failed, or was redirected).
 *
 * The exchange it drives:
 * - SecurityNegotiation: names and AuthMethod; AuthMethod=None goes with T=1 NSG=1, so a target that accepts it
 *   moves straight on; CHAP runs its three steps and sets T=1 with CHAP_R.
 * - LoginOperationalNegotiation: our offers (TextNegotiator) with T=1 NSG=3; we answer the target's offers until
 *   it answers T=1.
 * - Continuation: a text longer than one PDU goes out in pieces with the C bit, each acknowledged by an empty
 *   response; a response with the C bit is acknowledged by an empty request.
 *
 * Rules kept during login: the ITT, ISID, TSIH, CID and CmdSN stay the same in every request (the Login Request is
 * immediate, so CmdSN is the session's first); ExpStatSN echoes the last StatSN + 1; each response's StatSN is
 * the previous one + 1. Every response is checked (ITT, ISID, version, stage, flags, StatSN, status) and a
 * violation ends the login with ERR_LOGIN_PROTOCOL. The number of responses and the text size are bounded.
 */
import { ISCSI_VERSION } from '../pdu/constants.js';
import type { Isid } from '../pdu/isid.js';
import { LoginStage, type LoginRequestPdu, type LoginResponsePdu, type LoginStageValue } from '../pdu/login.js';
import type { Pdu } from '../pdu/pdu.js';
import { serialAdd, serialDiff } from '../pdu/serial.js';
import { TextAssembler } from '../text/assembler.js';
import { decodeText, type TextPair } from '../text/codec.js';
import { type NegotiationConfig } from '../text/config.js';
import { TextError } from '../text/errors.js';
import { TextNegotiator, type TransportKind } from '../text/negotiator.js';
import type { NegotiatedParams, SessionType } from '../text/params.js';
import { parseTargetAddress, type TargetAddress } from '../text/sendtargets.js';
import { parseList, SpecialAnswer } from '../text/values.js';
import {
  checkChapAlgorithms,
  checkChapSecret,
  chapSecretBytes,
  DEFAULT_CHAP_ALGORITHMS,
  DEFAULT_MIN_PEER_CHALLENGE_BYTES,
  MAX_CHAP_CHALLENGE_BYTES,
  type ChapCredentials,
} from './chap.js';
import { ChapInitiatorExchange } from './chap-initiator.js';
import { LoginError, loginErrorFromResponse, SHORT_SECRET_WARNING, type LoginWarning } from './errors.js';
import { isidInRange, sameIsid } from './identity.js';
import {
  dataLength,
  LOGIN_MAX_DATA_SEGMENT_LENGTH,
  OutgoingText,
  resolveLimits,
  splitSecurityKeys,
  type LoginLimits,
  type ResolvedLoginLimits,
} from './login-text.js';
import { cryptoRandom, type RandomSource } from './random.js';

/** How the initiator authenticates. */
export type InitiatorAuthConfig =
  | {
      /** No authentication. */
      readonly method: 'None';
    }
  | {
      /** CHAP (RFC 7143 §12.1.3). */
      readonly method: 'CHAP';
      /** Our CHAP name and secret. */
      readonly credentials: ChapCredentials;
      /** The target's CHAP name and secret: set to authenticate the target too (mutual CHAP). */
      readonly mutual?: ChapCredentials;
      /** CHAP_A codes to offer, in order of preference (default 8,6,5; see chap.ts on why not 7). */
      readonly algorithms?: readonly number[];
      /**
       * Offer `AuthMethod=CHAP,None` so a target that needs no authentication can skip it (default true for one-way
       * CHAP; always false for mutual CHAP, which must authenticate the target).
       */
      readonly offerNone?: boolean;
      /** Accept secrets under 96 bits (interop testing only); the result then carries a warning. */
      readonly allowShortSecrets?: boolean;
      /** Shortest challenge accepted from the target (default 16 bytes). */
      readonly minPeerChallengeBytes?: number;
    };

/** Everything an initiator needs for one connection's login. */
export interface InitiatorLoginConfig {
  /** InitiatorName. */
  readonly initiatorName: string;
  /** InitiatorAlias, declared on the leading connection. */
  readonly initiatorAlias?: string;
  /** TargetName (required for a normal session). */
  readonly targetName?: string;
  /** Normal (default) or Discovery. */
  readonly sessionType?: SessionType;
  /** The initiator part of the session ID. */
  readonly isid: Isid;
  /**
   * 0 (default) for a new session, including session reinstatement (same ISID, RFC 7143 §6.3.5); the session's
   * TSIH to add or replace a connection in it (then `session` is required).
   */
  readonly tsih?: number;
  /** Connection ID (default 0). */
  readonly cid?: number;
  /** The CmdSN the login carries: the session's first for a new session (default 0), its current one otherwise. */
  readonly cmdSN?: number;
  /** ExpStatSN of the first request (only meaningful when restarting a connection; default 0). */
  readonly expStatSN?: number;
  /** The Initiator Task Tag used throughout the login (default 0). */
  readonly initiatorTaskTag?: number;
  /** iSCSI over TCP, or iSER. */
  readonly transport: TransportKind;
  /** Authentication (default None). */
  readonly auth?: InitiatorAuthConfig;
  /** Operational offers; names and session type come from the fields above. */
  readonly negotiation?: NegotiationConfig;
  /** The session's values, for a connection joining an existing session (non-zero `tsih`). */
  readonly session?: NegotiatedParams;
  /** Bounds on the login. */
  readonly limits?: LoginLimits;
  /** Randomness for mutual CHAP (default crypto.randomBytes). */
  readonly random?: RandomSource;
}

/** What an initiator learns from a successful login. */
export interface InitiatorLoginResult {
  /** The negotiated values. */
  readonly params: NegotiatedParams;
  /** The session's TSIH. */
  readonly tsih: number;
  /** StatSN of the final response: the next response carries statSN + 1 (the session's ExpStatSN). */
  readonly statSN: number;
  /** ExpCmdSN of the final response. */
  readonly expCmdSN: number;
  /** MaxCmdSN of the final response. */
  readonly maxCmdSN: number;
  /** The CmdSN the login carried: the first command uses it. */
  readonly cmdSN: number;
  /** TargetPortalGroupTag the target declared (undefined if it did not). */
  readonly targetPortalGroupTag: number | undefined;
  /** The authentication method the target chose. */
  readonly authMethod: 'None' | 'CHAP';
  /** True when the target proved its identity (mutual CHAP). */
  readonly targetAuthenticated: boolean;
  /** Warnings (e.g. a short CHAP secret accepted for interop). */
  readonly warnings: readonly LoginWarning[];
}

/** A redirection (status class 1): log in at `address` instead. */
export interface LoginRedirect {
  /** Where the target now is. */
  readonly address: TargetAddress;
  /** The TargetAddress value as sent. */
  readonly addressText: string;
  /** 0x0102 (moved permanently) rather than 0x0101 (temporarily). */
  readonly permanent: boolean;
}

/** What the initiator's login asks its caller to do. */
export type InitiatorLoginAction =
  | { readonly type: 'send'; readonly pdu: LoginRequestPdu }
  | { readonly type: 'succeeded'; readonly result: InitiatorLoginResult }
  | { readonly type: 'failed'; readonly error: LoginError }
  | { readonly type: 'redirected'; readonly redirect: LoginRedirect };

/** Where the login stands. */
export type InitiatorLoginState = 'idle' | 'security' | 'operational' | 'succeeded' | 'failed' | 'redirected';

type AuthState = 'await-method' | 'chap' | 'done';

function protocol(message: string, key?: string): never {
  throw new LoginError('ERR_LOGIN_PROTOCOL', message, { detectedBy: 'initiator', ...(key ? { key } : {}) });
}

function badConfig(message: string): never {
  throw new LoginError('ERR_LOGIN_BAD_CONFIG', message, { detectedBy: 'initiator' });
}

function checkInteger(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) badConfig(`${name} must be an integer in 0..${max}`);
  return value;
}

/** The initiator's login state machine for one connection. */
export class InitiatorLogin {
  readonly #config: InitiatorLoginConfig;
  readonly #limits: ResolvedLoginLimits;
  readonly #negotiator: TextNegotiator;
  readonly #assembler: TextAssembler;
  readonly #outgoing: OutgoingText;
  readonly #tsih: number;
  readonly #cid: number;
  readonly #cmdSN: number;
  readonly #itt: number;
  readonly #authOffer: readonly ('CHAP' | 'None')[];
  readonly #chap: ChapInitiatorExchange | undefined;
  readonly #warnings: LoginWarning[] = [];

  #state: InitiatorLoginState = 'idle';
  #stage: 0 | 1 = 0;
  #expStatSN: number;
  #lastStatSN: number | undefined;
  #responses = 0;
  /** T and NSG of the last piece of our current text. */
  #requestedTransit = false;
  #requestedNextStage: 0 | 1 | 3 = 0;
  /** T and NSG of our last text, repeated in the empty requests that fetch the target's continued text. */
  #intent: { transit: boolean; nextStage: 0 | 1 | 3 } = { transit: false, nextStage: 0 };
  #auth: AuthState = 'await-method';
  #authMethod: 'None' | 'CHAP' = 'None';

  /** Checks the config; throws LoginError ERR_LOGIN_BAD_CONFIG when it is unusable. */
  constructor(config: InitiatorLoginConfig) {
    this.#config = config;
    this.#limits = resolveLimits(config.limits, 'initiator');
    this.#tsih = checkInteger('tsih', config.tsih ?? 0, 0xffff);
    this.#cid = checkInteger('cid', config.cid ?? 0, 0xffff);
    this.#cmdSN = checkInteger('cmdSN', config.cmdSN ?? 0, 0xffffffff);
    this.#expStatSN = checkInteger('expStatSN', config.expStatSN ?? 0, 0xffffffff);
    // 0xffffffff is the reserved tag (RFC 7143 §11.2.1.8).
    this.#itt = checkInteger('initiatorTaskTag', config.initiatorTaskTag ?? 0, 0xfffffffe);
    if (!isidInRange(config.isid)) badConfig('isid fields are out of range (T 2 bits, A 6, B 16, C 8, D 16)');
    if (this.#tsih !== 0 && config.session === undefined) {
      badConfig(`a connection joining session TSIH ${this.#tsih} needs the session parameters (session)`);
    }
    const negotiation: NegotiationConfig = {
      ...config.negotiation,
      initiatorName: config.initiatorName,
      initiatorAlias: config.initiatorAlias ?? config.negotiation?.initiatorAlias,
      targetName: config.targetName,
      sessionType: config.sessionType ?? 'Normal',
    };
    try {
      this.#negotiator = new TextNegotiator({
        role: 'initiator',
        transport: config.transport,
        config: negotiation,
        ...(config.session ? { session: config.session } : {}),
      });
    } catch (err) {
      if (err instanceof TextError) badConfig(err.message);
      throw err;
    }
    this.#assembler = new TextAssembler({ maxBytes: this.#limits.maxTextBytes });
    this.#outgoing = new OutgoingText(this.#limits.maxDataSegmentLength);

    const auth = config.auth ?? { method: 'None' };
    if (auth.method === 'None') {
      this.#authOffer = ['None'];
      this.#chap = undefined;
    } else {
      const { credentials, mutual } = auth;
      const user = (name: string, what: string): void => {
        if (name.length === 0 || name.includes('\0') || Buffer.byteLength(name, 'utf8') > 255) {
          badConfig(`${what} must be 1..255 bytes of UTF-8 without NUL`);
        }
      };
      user(credentials.user, 'the CHAP name');
      const allowShortSecrets = auth.allowShortSecrets ?? false;
      let short = checkChapSecret(credentials.secret, {
        allowShortSecrets,
        what: 'the initiator’s CHAP secret',
        role: 'initiator',
      }).short;
      if (mutual !== undefined) {
        user(mutual.user, 'the target’s CHAP name');
        short =
          checkChapSecret(mutual.secret, { allowShortSecrets, what: 'the target’s CHAP secret', role: 'initiator' })
            .short || short;
        // RFC 7143 §9.2.1: a secret that authenticates the initiator must not authenticate a target.
        if (chapSecretBytes(mutual.secret).equals(chapSecretBytes(credentials.secret))) {
          badConfig('mutual CHAP needs two different secrets (RFC 7143 §9.2.1)');
        }
      }
      if (short) {
        this.#warnings.push(SHORT_SECRET_WARNING);
      }
      const minPeerChallengeBytes = auth.minPeerChallengeBytes ?? DEFAULT_MIN_PEER_CHALLENGE_BYTES;
      checkInteger('minPeerChallengeBytes', minPeerChallengeBytes, MAX_CHAP_CHALLENGE_BYTES);
      this.#chap = new ChapInitiatorExchange({
        credentials,
        mutual,
        algorithms: checkChapAlgorithms(auth.algorithms ?? DEFAULT_CHAP_ALGORITHMS, 'initiator'),
        minPeerChallengeBytes,
        random: config.random ?? cryptoRandom,
      });
      this.#authOffer = mutual === undefined && (auth.offerNone ?? true) ? ['CHAP', 'None'] : ['CHAP'];
    }
  }

  /** Where the login stands. */
  get state(): InitiatorLoginState {
    return this.#state;
  }

  /** Sends the first Login Request. */
  start(): InitiatorLoginAction[] {
    if (this.#state !== 'idle') this.#misuse('start() called twice');
    this.#state = 'security';
    return this.#guard(() => {
      const pairs = [...this.#negotiator.offer('security'), { key: 'AuthMethod', value: this.#authOffer.join(',') }];
      // With None the security stage has nothing left to do: ask to move on at once.
      const transit = this.#authOffer.length === 1 && this.#authOffer[0] === 'None';
      return this.#sendText(pairs, transit, LoginStage.LoginOperationalNegotiation);
    });
  }

  /** Takes one PDU from the target. Anything but a well-formed Login Response ends the login. */
  receive(pdu: Pdu): InitiatorLoginAction[] {
    if (this.#state === 'idle') this.#misuse('receive() before start()');
    if (this.#state !== 'security' && this.#state !== 'operational')
      this.#misuse(`receive() after the login ${this.#state}`);
    return this.#guard(() => this.#receive(pdu));
  }

  #misuse(message: string): never {
    throw new LoginError('ERR_LOGIN_STATE', message, { detectedBy: 'initiator' });
  }

  /** Runs one event; a LoginError (or a TextError from the negotiator) becomes a `failed` action. */
  #guard(run: () => InitiatorLoginAction[]): InitiatorLoginAction[] {
    try {
      return run();
    } catch (err) {
      let error: LoginError;
      if (err instanceof LoginError) error = err;
      else if (err instanceof TextError) {
        error = new LoginError('ERR_LOGIN_NEGOTIATION', `the target's keys broke negotiation: ${err.message}`, {
          detectedBy: 'initiator',
          cause: err,
          ...(err.key === undefined ? {} : { key: err.key }),
        });
      } else throw err;
      this.#state = 'failed';
      return [{ type: 'failed', error }];
    }
  }

  #receive(pdu: Pdu): InitiatorLoginAction[] {
    this.#responses += 1;
    if (this.#responses > this.#limits.maxRoundTrips) {
      throw new LoginError(
        'ERR_LOGIN_TOO_MANY_ROUND_TRIPS',
        `the login did not finish within ${this.#limits.maxRoundTrips} responses`,
        {
          detectedBy: 'initiator',
        },
      );
    }
    if (pdu.kind !== 'login-response') protocol(`received a ${pdu.kind} PDU during login`);
    if (pdu.itt !== this.#itt)
      protocol(`the response carries ITT 0x${pdu.itt.toString(16)}, not the login's 0x${this.#itt.toString(16)}`);

    switch (pdu.statusClass) {
      case 0:
        break;
      case 1:
        return this.#redirect(pdu);
      case 2:
      case 3:
        throw loginErrorFromResponse(pdu, this.#context());
      default:
        protocol(`status class ${pdu.statusClass} is not defined (RFC 7143 §11.13.5)`);
    }
    this.#checkResponse(pdu);

    if (this.#outgoing.pending) {
      // The target acknowledges a piece of our continued text: it must say nothing and stay put.
      if (dataLength(pdu.data) > 0 || pdu.transit || pdu.continue) {
        protocol('the target answered a continued request with text or flags instead of an empty response');
      }
      return [this.#nextPiece()];
    }
    const pairs = this.#assembler.push(pdu.data, pdu.continue);
    if (pairs === undefined) {
      // More of the target's text follows: ask for it with an empty request that keeps our T/NSG, since the
      // target may set T on its last piece only if the request it answers does (RFC 7143 §11.13.3).
      this.#outgoing.load([], this.#intent.transit, this.#intent.nextStage);
      return [this.#nextPiece()];
    }
    return this.#stage === LoginStage.SecurityNegotiation ? this.#security(pdu, pairs) : this.#operational(pdu, pairs);
  }

  /** A short description of this login for messages. */
  #context(): string {
    const what =
      this.#negotiator.sessionType === 'Discovery' ? 'discovery session' : `target ${this.#config.targetName ?? ''}`;
    return `login to ${what}`;
  }

  /** The checks every success-class response must pass. */
  #checkResponse(pdu: LoginResponsePdu): void {
    if (!sameIsid(pdu.isid, this.#config.isid)) protocol('the response carries another ISID');
    if (pdu.versionActive !== ISCSI_VERSION) {
      protocol(
        `the target chose iSCSI version ${pdu.versionActive}, outside the offered ${ISCSI_VERSION}..${ISCSI_VERSION}`,
      );
    }
    if (pdu.transit && pdu.continue) protocol('the response sets both T and C');
    if (pdu.currentStage !== this.#stage) {
      protocol(`the response is in stage ${pdu.currentStage} while the login is in stage ${this.#stage}`);
    }
    if (pdu.transit) {
      if (!this.#requestedTransit || this.#outgoing.pending) protocol('the target set T without our asking to move on');
      const next = pdu.nextStage;
      if (next === 2 || next <= this.#stage || next > this.#requestedNextStage) {
        protocol(`the target moved to stage ${next} from ${this.#stage}; we asked for ${this.#requestedNextStage}`);
      }
    }
    if (dataLength(pdu.data) > LOGIN_MAX_DATA_SEGMENT_LENGTH) {
      protocol(`a login response carried more than ${LOGIN_MAX_DATA_SEGMENT_LENGTH} bytes of text`);
    }
    if (this.#lastStatSN !== undefined && pdu.statSN !== serialAdd(this.#lastStatSN, 1)) {
      protocol(`StatSN ${pdu.statSN} does not follow ${this.#lastStatSN} (RFC 7143 §11.13.4)`);
    }
    this.#lastStatSN = pdu.statSN;
    this.#expStatSN = serialAdd(pdu.statSN, 1);
  }

  #redirect(pdu: LoginResponsePdu): InitiatorLoginAction[] {
    if (pdu.statusDetail !== 1 && pdu.statusDetail !== 2) {
      protocol(`redirection detail ${pdu.statusDetail} is not defined (RFC 7143 §11.13.5)`);
    }
    if (pdu.continue) protocol('a redirection response cannot be continued');
    const pairs = decodeText(pdu.data, { allowDuplicateKeys: true });
    const addressText = pairs.find((p) => p.key === 'TargetAddress')?.value;
    if (addressText === undefined) protocol('the target redirected without a TargetAddress');
    const address = parseTargetAddress(addressText);
    this.#state = 'redirected';
    return [{ type: 'redirected', redirect: { address, addressText, permanent: pdu.statusDetail === 2 } }];
  }

  // ------------------------------------------------------------------------------------------- security

  #security(pdu: LoginResponsePdu, pairs: readonly TextPair[]): InitiatorLoginAction[] {
    const { security, other } = splitSecurityKeys(pairs);
    const reply: TextPair[] = [...this.#negotiator.receive(other, 'security').reply];
    const chap = this.#chap;
    const chapStep = chap === undefined ? 'none' : chap.awaitingTargetResponse ? 'target-response' : 'challenge';

    const authMethod = security.get('AuthMethod');
    const methodKeys = [...security.keys()].filter((key) => key !== 'AuthMethod');
    if (authMethod !== undefined) {
      if (this.#auth !== 'await-method') protocol('the target answered AuthMethod twice', 'AuthMethod');
      if (methodKeys.length > 0) protocol(`the target sent ${methodKeys.join(', ')} before the method was agreed`);
      reply.push(...this.#acceptAuthMethod(authMethod));
    } else if (this.#auth === 'await-method') {
      // A target may leave an offer of None unanswered only by accepting it.
      if (pdu.transit && this.#authOffer.includes('None')) this.#auth = 'done';
      else protocol('the target did not answer AuthMethod', 'AuthMethod');
    }
    for (const key of methodKeys) {
      if (!key.startsWith('CHAP_') || this.#authMethod !== 'CHAP') protocol(`unexpected security key ${key}`, key);
    }
    if (chap !== undefined && this.#authMethod === 'CHAP' && authMethod === undefined) {
      if (chapStep === 'challenge' && !chap.done) {
        reply.push(...chap.respond(security));
        if (!chap.awaitingTargetResponse) this.#auth = 'done';
      } else if (chapStep === 'target-response' && (security.has('CHAP_N') || security.has('CHAP_R'))) {
        chap.verifyTarget(security);
        this.#auth = 'done';
      } else if (security.size > 0) {
        protocol(`unexpected CHAP keys (${[...security.keys()].join(', ')})`);
      }
    }

    if (pdu.transit) {
      if (this.#auth !== 'done') {
        if (chap?.awaitingTargetResponse) {
          throw new LoginError(
            'ERR_LOGIN_TARGET_AUTHENTICATION_FAILED',
            'mutual CHAP: the target ended the security stage without authenticating itself',
            { detectedBy: 'initiator' },
          );
        }
        protocol('the target ended the security stage before authentication finished');
      }
      this.#checkFinalReply(reply);
      return this.#enterStage(pdu);
    }
    const transit = this.#auth === 'done' || (chap?.awaitingTargetResponse ?? false);
    return this.#sendText(reply, transit, LoginStage.LoginOperationalNegotiation);
  }

  /** The target's AuthMethod answer: None, or CHAP (then we send CHAP_A). */
  #acceptAuthMethod(value: string): TextPair[] {
    if (value === SpecialAnswer.Reject || value === SpecialAnswer.NotUnderstood || value === SpecialAnswer.Irrelevant) {
      throw new LoginError(
        'ERR_LOGIN_AUTHENTICATION_FAILED',
        `the target accepts none of AuthMethod=${this.#authOffer.join(',')} (it answered ${value})`,
        {
          detectedBy: 'initiator',
          key: 'AuthMethod',
        },
      );
    }
    const chosen = parseList(value);
    const method = chosen?.length === 1 ? chosen[0] : undefined;
    if (method !== 'None' && method !== 'CHAP')
      protocol(`the target chose AuthMethod=${value.slice(0, 40)}, which was not offered`, 'AuthMethod');
    if (!this.#authOffer.includes(method))
      protocol(`the target chose AuthMethod=${method}, which was not offered`, 'AuthMethod');
    this.#authMethod = method;
    if (method === 'None' || this.#chap === undefined) {
      this.#auth = 'done';
      return [];
    }
    this.#auth = 'chap';
    return this.#chap.offer();
  }

  // ---------------------------------------------------------------------------------------- operational

  #operational(pdu: LoginResponsePdu, pairs: readonly TextPair[]): InitiatorLoginAction[] {
    const { reply } = this.#negotiator.receive(pairs, 'operational');
    this.#checkIser(pairs, false);
    if (pdu.transit) {
      this.#checkFinalReply(reply);
      return this.#enterStage(pdu);
    }
    const offers = this.#negotiator.offer('operational');
    return this.#sendText([...reply, ...offers], true, LoginStage.FullFeaturePhase);
  }

  /** Over iSER a normal session's leading connection must end with RDMAExtensions=Yes (RFC 7145 §6.3). */
  #checkIser(pairs: readonly TextPair[], final: boolean): void {
    if (this.#config.transport !== 'iser' || this.#negotiator.sessionType !== 'Normal' || this.#tsih !== 0) return;
    const answer = pairs.find((p) => p.key === 'RDMAExtensions')?.value;
    const refused = answer !== undefined && !this.#negotiator.rdmaExtensions;
    if (refused || (final && !this.#negotiator.rdmaExtensions)) {
      const said =
        answer === undefined ? 'never agreed to RDMAExtensions=Yes' : `answered RDMAExtensions=${answer.slice(0, 20)}`;
      throw new LoginError('ERR_LOGIN_NO_ISER', `target ${said}: this portal does not speak iSER`, {
        detectedBy: 'initiator',
        key: 'RDMAExtensions',
      });
    }
  }

  /** A response with T=1 may not ask anything of us (RFC 7143 §11.13.1); NotUnderstood answers are dropped. */
  #checkFinalReply(reply: readonly TextPair[]): void {
    const pending = reply.filter((p) => p.value !== SpecialAnswer.NotUnderstood);
    if (pending.length > 0) {
      protocol(`the target set T while offering ${pending.map((p) => p.key).join(', ')}`);
    }
  }

  /** The target agreed to move on (T=1): to the operational stage, or into full feature phase. */
  #enterStage(pdu: LoginResponsePdu): InitiatorLoginAction[] {
    if (pdu.nextStage === LoginStage.FullFeaturePhase) return this.#succeed(pdu);
    this.#stage = LoginStage.LoginOperationalNegotiation;
    this.#state = 'operational';
    return this.#sendText(this.#negotiator.offer('operational'), true, LoginStage.FullFeaturePhase);
  }

  #succeed(pdu: LoginResponsePdu): InitiatorLoginAction[] {
    if (!this.#negotiator.settled) {
      protocol(`the target ended the login leaving ${this.#negotiator.awaitingAnswers.join(', ')} unanswered`);
    }
    this.#checkIser([], true);
    const params = this.#negotiator.params();
    if (this.#tsih === 0 ? pdu.tsih === 0 : pdu.tsih !== this.#tsih) {
      protocol(
        this.#tsih === 0
          ? 'the final response carries TSIH 0'
          : `the final response carries TSIH ${pdu.tsih}, not ${this.#tsih}`,
      );
    }
    // MaxCmdSN may sit one below ExpCmdSN (an empty window) but not further (RFC 7143 §4.2.2.1).
    if (serialDiff(pdu.maxCmdSN, pdu.expCmdSN) < -1)
      protocol(`MaxCmdSN ${pdu.maxCmdSN} is below ExpCmdSN ${pdu.expCmdSN} - 1`);
    this.#state = 'succeeded';
    return [
      {
        type: 'succeeded',
        result: {
          params,
          tsih: pdu.tsih,
          statSN: pdu.statSN,
          expCmdSN: pdu.expCmdSN,
          maxCmdSN: pdu.maxCmdSN,
          cmdSN: this.#cmdSN,
          targetPortalGroupTag: params.targetPortalGroupTag,
          authMethod: this.#authMethod,
          targetAuthenticated: this.#config.auth?.method === 'CHAP' && this.#config.auth.mutual !== undefined,
          warnings: [...this.#warnings],
        },
      },
    ];
  }

  // -------------------------------------------------------------------------------------------- sending

  #sendText(pairs: readonly TextPair[], transit: boolean, nextStage: 0 | 1 | 3): InitiatorLoginAction[] {
    this.#intent = { transit, nextStage };
    this.#outgoing.load(pairs, transit, nextStage);
    return [this.#nextPiece()];
  }

  #nextPiece(): InitiatorLoginAction {
    const piece = this.#outgoing.take();
    this.#requestedTransit = piece.transit;
    this.#requestedNextStage = piece.transit ? piece.nextStage : 0;
    return { type: 'send', pdu: this.#request(piece.data, piece.continues, piece.transit, piece.nextStage) };
  }

  #request(data: readonly Buffer[], continues: boolean, transit: boolean, nextStage: LoginStageValue): LoginRequestPdu {
    return {
      kind: 'login-request',
      transit,
      continue: continues,
      currentStage: this.#stage,
      nextStage,
      versionMax: ISCSI_VERSION,
      versionMin: ISCSI_VERSION,
      isid: this.#config.isid,
      tsih: this.#tsih,
      itt: this.#itt,
      cid: this.#cid,
      cmdSN: this.#cmdSN,
      expStatSN: this.#expStatSN,
      data,
    };
  }
}
