/**
 * The target's login (RFC 7143 §6.3, §11.12-11.13, §12.1.3; RFC 7145 §6), sans-IO: `receive(pdu)` returns
 * actions (send a Login Response; the login succeeded, failed, or was redirected). A failure is always a `send`
 * of the failing response followed by `failed`; the caller then closes the connection.
 *
 * What it decides, and with which status (RFC 7143 §11.13.5):
 * - version outside the request's range: 0x0205; a PDU other than a Login Request: 0x020b;
 * - malformed text, illegal keys or flags, identity fields changing mid-login, CSG going back: 0x0200;
 * - no InitiatorName, or no TargetName in a normal session: 0x0207;
 * - unknown target 0x0203, removed 0x0204, unavailable 0x0301, moved: 0x0101/0x0102 with TargetAddress;
 * - discovery disabled or an unknown SessionType: 0x0209; initiator refused by the ACL: 0x0202;
 * - authentication failed (no acceptable AuthMethod, CHAP failure, authentication required but skipped): 0x0201;
 * - a non-zero TSIH naming no session: 0x020a; a session already at MaxConnections: 0x0206;
 * - our own limits (text size, round trips, no TSIH left): 0x0302; our own misconfiguration: 0x0300.
 *
 * iSER: on an iSER connection the target negotiates RDMAExtensions=Yes (offering it itself if the initiator does
 * not) and refuses, with 0x0200, a normal session that ends the operational stage without it, as tgt and SCST
 * refuse iSCSI logins on iSER portals. On TCP an initiator's RDMAExtensions=Yes is answered No. Digests are None
 * and the RDSL keys apply whenever RDMAExtensions=Yes (TextNegotiator).
 */
import { ISCSI_VERSION, RESERVED_TAG } from '../pdu/constants.js';
import type { Isid } from '../pdu/isid.js';
import { LoginStage, type LoginRequestPdu, type LoginResponsePdu } from '../pdu/login.js';
import type { Pdu } from '../pdu/pdu.js';
import { serialAdd } from '../pdu/serial.js';
import { TextAssembler } from '../text/assembler.js';
import { encodeText, type TextPair } from '../text/codec.js';
import { isConfigured, type NegotiationConfig } from '../text/config.js';
import { TextError } from '../text/errors.js';
import { KEY_TABLE, lookupKey } from '../text/keys.js';
import { TextNegotiator, type TransportKind } from '../text/negotiator.js';
import type { NegotiatedParams, SessionType } from '../text/params.js';
import { parseList } from '../text/values.js';
import {
  ALL_CHAP_ALGORITHMS,
  checkChapAlgorithms,
  DEFAULT_MIN_PEER_CHALLENGE_BYTES,
  type ChapAlgorithmId,
  type ChapCredentials,
  type ChapSecret,
} from './chap.js';
import { ChapTargetExchange } from './chap-target.js';
import { sameIsid } from './identity.js';
import {
  LoginError,
  LoginStatusPairs,
  SHORT_SECRET_WARNING,
  targetLoginError,
  type LoginStatusPair,
  type LoginWarning,
} from './errors.js';
import {
  dataLength,
  LOGIN_MAX_DATA_SEGMENT_LENGTH,
  OutgoingText,
  resolveLimits,
  splitSecurityKeys,
  type LoginLimits,
  type ResolvedLoginLimits,
} from './login-text.js';
import { cryptoRandom, randomU32, type RandomSource } from './random.js';

/** What the target knows about a TargetName. */
export type TargetLookup =
  | {
      /** The target exists here. */
      readonly kind: 'found';
      /** Its negotiation preferences (operational keys). */
      readonly negotiation?: NegotiationConfig;
      /** TargetAlias to declare. */
      readonly alias?: string;
    }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'removed' }
  | {
      /** Temporarily unable to serve (0x0301, retryable). */
      readonly kind: 'unavailable';
    }
  | {
      /** Moved: the initiator is redirected to `address` (TargetAddress syntax). */
      readonly kind: 'redirect';
      readonly address: string;
      readonly permanent: boolean;
    };

/** The authentication a login must pass. */
export interface TargetAuthPolicy {
  /** Methods accepted, e.g. `['CHAP']` to require CHAP or `['None']` for none; the initiator's order decides. */
  readonly methods: readonly ('CHAP' | 'None')[];
  /** CHAP algorithms accepted (default all: 8, 7, 6, 5). */
  readonly chapAlgorithms?: readonly number[];
  /** Refuse CHAP logins that do not authenticate the target too. */
  readonly requireMutual?: boolean;
}

/** An existing session a login refers to. */
export interface ExistingSession {
  /** Its TSIH. */
  readonly tsih: number;
  /** Its session type. */
  readonly sessionType: SessionType;
  /** Its negotiated values (a joining connection negotiates against them). */
  readonly params: NegotiatedParams;
  /** CIDs of its connections now. */
  readonly cids: readonly number[];
}

/** The key a session is found by. */
export interface SessionQuery {
  /** InitiatorName. */
  readonly initiatorName: string;
  /** ISID. */
  readonly isid: Isid;
  /** TargetName (undefined for discovery). */
  readonly targetName: string | undefined;
  /** TSIH of the request: 0 asks for the session with this ISID (reinstatement); non-zero names the session. */
  readonly tsih: number;
}

/** The target's configuration, asked as the login needs it. All answers are synchronous. */
export interface TargetLoginPolicy {
  /** What a TargetName refers to. */
  lookupTarget(targetName: string): TargetLookup;
  /** Whether discovery sessions are allowed for this initiator, and with which preferences. */
  discovery(initiatorName: string): { readonly allowed: boolean; readonly negotiation?: NegotiationConfig };
  /** ACL: may `initiatorName` log in (targetName undefined for discovery)? */
  isInitiatorAllowed(initiatorName: string, targetName: string | undefined): boolean;
  /** The authentication this login must pass. */
  authentication(initiatorName: string, targetName: string | undefined): TargetAuthPolicy;
  /** The secret of CHAP user `user` for this login, or undefined when unknown. */
  chapSecret(user: string, initiatorName: string, targetName: string | undefined): ChapSecret | undefined;
  /** The target's own CHAP name and secret for mutual CHAP, or undefined. */
  targetChapCredentials(initiatorName: string, targetName: string | undefined): ChapCredentials | undefined;
  /** The session a login refers to (by TSIH when non-zero, else by initiator, ISID and target). */
  findSession(query: SessionQuery): ExistingSession | undefined;
  /** A fresh TSIH (1..65535) for a new session, or undefined when no more sessions fit. */
  allocateTsih(): number | undefined;
}

/** A target portal's login settings. */
export interface TargetLoginConfig {
  /** The connection's transport. */
  readonly transport: TransportKind;
  /** This portal group's tag, declared to normal sessions (TargetPortalGroupTag). */
  readonly portalGroupTag: number;
  /** Configuration lookups. */
  readonly policy: TargetLoginPolicy;
  /** The first StatSN of the connection (default: random). */
  readonly initialStatSN?: number;
  /** Commands the initiator may queue: MaxCmdSN = ExpCmdSN + window - 1 (default 32). */
  readonly commandWindow?: number;
  /** Bounds on the login. */
  readonly limits?: LoginLimits;
  /** Shortest challenge accepted from an initiator (mutual CHAP; default 16 bytes). */
  readonly minPeerChallengeBytes?: number;
  /** Accept CHAP secrets under 96 bits (interop testing only); the result then carries a warning. */
  readonly allowShortSecrets?: boolean;
  /** Randomness for CHAP and the first StatSN (default crypto.randomBytes). */
  readonly random?: RandomSource;
}

/** What the target learns from a successful login. */
export interface TargetLoginResult {
  /** The negotiated values. */
  readonly params: NegotiatedParams;
  /** The session's TSIH (new, or the joined session's). */
  readonly tsih: number;
  /** InitiatorName. */
  readonly initiatorName: string;
  /** TargetName (undefined for discovery). */
  readonly targetName: string | undefined;
  /** Normal or Discovery. */
  readonly sessionType: SessionType;
  /** ISID. */
  readonly isid: Isid;
  /** Connection ID. */
  readonly cid: number;
  /** TSIH of the session this login reinstates (same initiator, ISID and target, TSIH 0 in the request). */
  readonly reinstate: number | undefined;
  /** True when this connection starts a session; false when it joins (or replaces a connection of) one. */
  readonly leading: boolean;
  /** True when the joining connection's CID is already in use: the old connection is to be replaced. */
  readonly replacesConnection: boolean;
  /** StatSN of the final response: the next response carries statSN + 1. */
  readonly statSN: number;
  /** The initiator's CmdSN: the first command carries it (ExpCmdSN). */
  readonly expCmdSN: number;
  /** MaxCmdSN announced in the final response. */
  readonly maxCmdSN: number;
  /** The authentication method used. */
  readonly authMethod: 'None' | 'CHAP';
  /** The CHAP name the initiator authenticated as, with CHAP. */
  readonly chapUser: string | undefined;
  /** True when the target authenticated itself too (mutual CHAP). */
  readonly mutualChap: boolean;
  /** Warnings (e.g. a short CHAP secret accepted for interop). */
  readonly warnings: readonly LoginWarning[];
}

/** What the target's login asks its caller to do. */
export type TargetLoginAction =
  | { readonly type: 'send'; readonly pdu: LoginResponsePdu }
  | { readonly type: 'succeeded'; readonly result: TargetLoginResult }
  | { readonly type: 'failed'; readonly error: LoginError }
  | { readonly type: 'redirected'; readonly address: string; readonly permanent: boolean };

/** Where the login stands. */
export type TargetLoginState = 'waiting' | 'security' | 'operational' | 'succeeded' | 'failed' | 'redirected';

function refuse(status: LoginStatusPair, reason: string, key?: string): never {
  throw targetLoginError(status, reason, key === undefined ? {} : { key });
}

/** What the first complete text told us about the login. */
interface Admission {
  readonly initiatorName: string;
  readonly targetName: string | undefined;
  readonly sessionType: SessionType;
  readonly existing: ExistingSession | undefined;
  readonly auth: TargetAuthPolicy;
  readonly reinstate: number | undefined;
  readonly replacesConnection: boolean;
  /** The target node's (or discovery's) negotiation preferences. */
  readonly negotiation: NegotiationConfig;
}

/** Operational keys the two sides negotiate (not declare). */
const NEGOTIABLE_KEYS = [...KEY_TABLE.values()]
  .filter((def) => def.use !== 'security' && def.result !== 'declarative' && def.result !== 'exchange')
  .map((def) => def.name);

/** The target's login state machine for one connection. */
export class TargetLogin {
  readonly #config: TargetLoginConfig;
  readonly #limits: ResolvedLoginLimits;
  readonly #random: RandomSource;
  readonly #window: number;
  readonly #assembler: TextAssembler;
  readonly #outgoing: OutgoingText;
  readonly #warnings: LoginWarning[] = [];

  #state: TargetLoginState = 'waiting';
  #stage: 0 | 1 = 0;
  /** StatSN of the next response. */
  #statSN: number;
  #requests = 0;
  /** The first request: its ISID, TSIH, CID and CmdSN must not change. */
  #first: LoginRequestPdu | undefined;
  /** ITT of the request being answered (each response echoes its request's). */
  #itt = RESERVED_TAG;
  #admission: Admission | undefined;
  #negotiator: TextNegotiator | undefined;
  #auth: 'pending' | 'chap' | 'done' = 'pending';
  #authMethod: 'None' | 'CHAP' = 'None';
  #chap: ChapTargetExchange | undefined;
  #chapUser: string | undefined;
  #mutualChap = false;
  /** Set when the final response is queued: its TSIH and the params to report once it is out. */
  #final: { readonly tsih: number; readonly params: NegotiatedParams } | undefined;

  /** Checks the config; throws LoginError ERR_LOGIN_BAD_CONFIG when it is unusable. */
  constructor(config: TargetLoginConfig) {
    const bad = (message: string): never => {
      throw new LoginError('ERR_LOGIN_BAD_CONFIG', message, { detectedBy: 'target' });
    };
    this.#config = config;
    this.#limits = resolveLimits(config.limits, 'target');
    this.#random = config.random ?? cryptoRandom;
    this.#window = config.commandWindow ?? 32;
    if (!Number.isInteger(this.#window) || this.#window < 0 || this.#window > 0x7fffffff) {
      bad('commandWindow must be an integer in 0..2^31-1');
    }
    const tag = config.portalGroupTag;
    if (!Number.isInteger(tag) || tag < 0 || tag > 0xffff) bad('portalGroupTag must be in 0..65535');
    // Random, but below 2^31: libiscsi 1.19 may start its StatSN at 0 and only moves it forward in serial
    // arithmetic (lib/pdu.c), so a first StatSN 2^31 or more past 0 is never taken, its ExpStatSN stays at 1 and
    // the connection is cut for unacknowledged statuses. tgt draws random() (31 bits) too.
    const first = config.initialStatSN ?? randomU32(this.#random, 'target') >>> 1;
    if (!Number.isInteger(first) || first < 0 || first > 0xffffffff) bad('initialStatSN must be a 32-bit number');
    this.#statSN = first;
    const challenge = config.minPeerChallengeBytes ?? DEFAULT_MIN_PEER_CHALLENGE_BYTES;
    if (!Number.isInteger(challenge) || challenge < 1 || challenge > 1024) {
      bad('minPeerChallengeBytes must be in 1..1024');
    }
    this.#assembler = new TextAssembler({ maxBytes: this.#limits.maxTextBytes });
    this.#outgoing = new OutgoingText(this.#limits.maxDataSegmentLength);
  }

  /** Where the login stands. */
  get state(): TargetLoginState {
    return this.#state;
  }

  /** Takes one PDU from the initiator. */
  receive(pdu: Pdu): TargetLoginAction[] {
    if (this.#state === 'succeeded' || this.#state === 'failed' || this.#state === 'redirected') {
      throw new LoginError('ERR_LOGIN_STATE', `receive() after the login ${this.#state}`, { detectedBy: 'target' });
    }
    try {
      return this.#receive(pdu);
    } catch (err) {
      let error: LoginError;
      if (err instanceof TextError) {
        error = targetLoginError(err.loginStatus, err.message, {
          cause: err,
          ...(err.key === undefined ? {} : { key: err.key }),
        });
      } else if (err instanceof LoginError) {
        // A status-less LoginError comes from our own side (e.g. a broken random source): a target error.
        error =
          err.statusClass === undefined
            ? targetLoginError(LoginStatusPairs.TargetError, err.message, { cause: err })
            : err;
      } else throw err;
      this.#state = 'failed';
      const status = { statusClass: error.statusClass ?? 3, statusDetail: error.statusDetail ?? 0 };
      return [
        { type: 'send', pdu: this.#response([], false, false, 0, status) },
        { type: 'failed', error },
      ];
    }
  }

  #receive(pdu: Pdu): TargetLoginAction[] {
    this.#requests += 1;
    if ('itt' in pdu) this.#itt = pdu.itt;
    if (this.#requests > this.#limits.maxRoundTrips) {
      refuse(LoginStatusPairs.OutOfResources, `the login did not finish within ${this.#limits.maxRoundTrips} requests`);
    }
    if (pdu.kind !== 'login-request') {
      refuse(LoginStatusPairs.InvalidDuringLogin, `a ${pdu.kind} PDU arrived during login`);
    }
    this.#checkRequest(pdu);

    if (this.#outgoing.pending) {
      // The initiator acknowledges a piece of our continued text with an empty request.
      if (dataLength(pdu.data) > 0 || pdu.continue) {
        refuse(LoginStatusPairs.InitiatorError, 'the initiator sent text while our continued response was incomplete');
      }
      return this.#nextPiece();
    }
    const pairs = this.#assembler.push(pdu.data, pdu.continue);
    if (pairs === undefined) {
      // More of the initiator's text follows: acknowledge with an empty response.
      return this.#sendText([], false, 0);
    }
    if (this.#admission === undefined) {
      const redirect = this.#admit(pdu, pairs);
      if (redirect !== undefined) return redirect;
    }
    return this.#stage === LoginStage.SecurityNegotiation ? this.#security(pdu, pairs) : this.#operational(pdu, pairs);
  }

  /** Version, flags, stage, and the identity fields that must stay the same through the login. */
  #checkRequest(pdu: LoginRequestPdu): void {
    const first = this.#first;
    if (first === undefined) {
      this.#first = pdu;
      if (pdu.versionMin > ISCSI_VERSION || pdu.versionMax < ISCSI_VERSION) {
        refuse(
          LoginStatusPairs.UnsupportedVersion,
          `versions ${pdu.versionMin}..${pdu.versionMax} exclude ${ISCSI_VERSION}`,
        );
      }
      const stage = pdu.currentStage;
      if (stage !== LoginStage.SecurityNegotiation && stage !== LoginStage.LoginOperationalNegotiation) {
        refuse(LoginStatusPairs.InitiatorError, `a login cannot start in stage ${stage}`);
      }
      this.#stage = stage;
      this.#state = stage === LoginStage.SecurityNegotiation ? 'security' : 'operational';
    } else {
      const changed = !sameIsid(pdu.isid, first.isid)
        ? 'ISID'
        : pdu.tsih !== first.tsih
          ? 'TSIH'
          : pdu.cid !== first.cid
            ? 'CID'
            : pdu.cmdSN !== first.cmdSN
              ? 'CmdSN'
              : undefined;
      if (changed !== undefined) refuse(LoginStatusPairs.InitiatorError, `${changed} changed during the login`);
      if (pdu.currentStage !== this.#stage) {
        refuse(
          LoginStatusPairs.InitiatorError,
          `the request is in stage ${pdu.currentStage} while the login is in stage ${this.#stage}`,
        );
      }
    }
    if (pdu.transit && pdu.continue) refuse(LoginStatusPairs.InitiatorError, 'the request sets both T and C');
    if (pdu.transit && (pdu.nextStage === 2 || pdu.nextStage <= pdu.currentStage)) {
      refuse(LoginStatusPairs.InitiatorError, `cannot move from stage ${pdu.currentStage} to ${pdu.nextStage}`);
    }
    if (dataLength(pdu.data) > LOGIN_MAX_DATA_SEGMENT_LENGTH) {
      refuse(
        LoginStatusPairs.InitiatorError,
        `a login request carried more than ${LOGIN_MAX_DATA_SEGMENT_LENGTH} bytes of text`,
      );
    }
  }

  // -------------------------------------------------------------------------------------------- admission

  /** The first complete text: who logs in to what, and may they. Returns the actions of a redirect. */
  #admit(pdu: LoginRequestPdu, pairs: readonly TextPair[]): TargetLoginAction[] | undefined {
    const value = (key: string): string | undefined => pairs.find((p) => p.key === key)?.value;
    const { policy } = this.#config;
    const initiatorName = value('InitiatorName');
    if (initiatorName === undefined) {
      refuse(LoginStatusPairs.MissingParameter, 'InitiatorName is missing', 'InitiatorName');
    }
    const declared = value('SessionType');
    if (declared !== undefined && declared !== 'Normal' && declared !== 'Discovery') {
      refuse(
        LoginStatusPairs.SessionTypeNotSupported,
        `SessionType=${declared.slice(0, 40)} is not supported`,
        'SessionType',
      );
    }
    const tsih = pdu.tsih;
    let existing: ExistingSession | undefined;
    let sessionType: SessionType = declared ?? 'Normal';
    if (tsih !== 0) {
      existing = policy.findSession({ initiatorName, isid: pdu.isid, targetName: value('TargetName'), tsih });
      if (existing?.tsih !== tsih) refuse(LoginStatusPairs.SessionDoesNotExist, `no session has TSIH ${tsih}`);
      if (declared !== undefined && declared !== existing.sessionType) {
        refuse(LoginStatusPairs.SessionTypeNotSupported, `session ${tsih} is a ${existing.sessionType} session`);
      }
      sessionType = existing.sessionType;
    }

    let targetName: string | undefined;
    let negotiation: NegotiationConfig;
    let alias: string | undefined;
    if (sessionType === 'Normal') {
      targetName = value('TargetName');
      if (targetName === undefined) {
        refuse(LoginStatusPairs.MissingParameter, 'TargetName is missing in a normal session', 'TargetName');
      }
      const target = policy.lookupTarget(targetName);
      if (target.kind === 'not-found')
        refuse(LoginStatusPairs.NotFound, `target ${targetName} does not exist`, 'TargetName');
      if (target.kind === 'removed')
        refuse(LoginStatusPairs.TargetRemoved, `target ${targetName} was removed`, 'TargetName');
      if (target.kind === 'unavailable') {
        refuse(LoginStatusPairs.ServiceUnavailable, `target ${targetName} is unavailable`, 'TargetName');
      }
      if (target.kind === 'redirect') return this.#redirect(target.address, target.permanent);
      negotiation = target.negotiation ?? {};
      alias = target.alias;
    } else {
      const discovery = policy.discovery(initiatorName);
      if (!discovery.allowed) refuse(LoginStatusPairs.SessionTypeNotSupported, 'discovery sessions are not allowed');
      negotiation = discovery.negotiation ?? {};
    }
    if (!policy.isInitiatorAllowed(initiatorName, targetName)) {
      const to = targetName === undefined ? 'to discover targets' : `to log in to ${targetName}`;
      refuse(LoginStatusPairs.AuthorizationFailure, `initiator ${initiatorName} is not allowed ${to}`);
    }

    let reinstate: number | undefined;
    let replacesConnection = false;
    if (existing !== undefined) {
      replacesConnection = existing.cids.includes(pdu.cid);
      if (!replacesConnection && existing.cids.length >= existing.params.maxConnections) {
        refuse(
          LoginStatusPairs.TooManyConnections,
          `session ${tsih} already has ${existing.cids.length} of ${existing.params.maxConnections} connections`,
        );
      }
    } else {
      reinstate = policy.findSession({ initiatorName, isid: pdu.isid, targetName, tsih: 0 })?.tsih;
    }
    this.#admission = {
      initiatorName,
      targetName,
      sessionType,
      existing,
      auth: policy.authentication(initiatorName, targetName),
      reinstate,
      replacesConnection,
      negotiation,
    };

    const config: NegotiationConfig = {
      ...negotiation,
      targetAlias: alias ?? negotiation.targetAlias,
      // RFC 7143 §13.9: declared to a normal session's leading connection.
      targetPortalGroupTag:
        sessionType === 'Normal' && existing === undefined ? this.#config.portalGroupTag : undefined,
    };
    try {
      this.#negotiator = new TextNegotiator({
        role: 'target',
        transport: this.#config.transport,
        config,
        ...(existing === undefined ? {} : { session: existing.params }),
      });
    } catch (err) {
      if (err instanceof TextError) {
        refuse(LoginStatusPairs.TargetError, `the target's negotiation settings are invalid: ${err.message}`);
      }
      throw err;
    }
    return undefined;
  }

  #redirect(address: string, permanent: boolean): TargetLoginAction[] {
    let data: Buffer;
    try {
      data = encodeText([{ key: 'TargetAddress', value: address }]);
    } catch (err) {
      if (err instanceof TextError) {
        refuse(LoginStatusPairs.TargetError, `the redirect address is not a valid value: ${err.message}`);
      }
      throw err;
    }
    this.#state = 'redirected';
    const status = { statusClass: 1, statusDetail: permanent ? 2 : 1 };
    return [
      { type: 'send', pdu: this.#response([data], false, false, 0, status) },
      { type: 'redirected', address, permanent },
    ];
  }

  // ---------------------------------------------------------------------------------------------- security

  #security(pdu: LoginRequestPdu, pairs: readonly TextPair[]): TargetLoginAction[] {
    const negotiator = this.#requireNegotiator();
    const admission = this.#requireAdmission();
    const { security, other } = splitSecurityKeys(pairs);
    // Our declarations (TargetPortalGroupTag, TargetAlias) go out once, in the first response with text.
    const out: TextPair[] = [...negotiator.offer('security'), ...negotiator.receive(other, 'security').reply];

    const authMethod = security.get('AuthMethod');
    if (authMethod !== undefined) {
      if (this.#auth !== 'pending') refuse(LoginStatusPairs.InitiatorError, 'AuthMethod offered twice', 'AuthMethod');
      out.push({ key: 'AuthMethod', value: this.#chooseAuthMethod(authMethod, admission) });
    }
    for (const key of security.keys()) {
      if (key !== 'AuthMethod' && (this.#chap === undefined || !key.startsWith('CHAP_'))) {
        refuse(LoginStatusPairs.InitiatorError, `${key} without AuthMethod=CHAP`, key);
      }
    }
    const chap = this.#chap;
    if (chap !== undefined) {
      const algorithms = security.get('CHAP_A');
      if (algorithms !== undefined) out.push(...chap.challenge(algorithms));
      if (security.has('CHAP_N') || security.has('CHAP_R')) {
        const outcome = chap.verify(security);
        out.push(...outcome.reply);
        this.#auth = 'done';
        this.#chapUser = outcome.user;
        this.#mutualChap = outcome.mutual;
        if (outcome.shortSecret) this.#warnings.push(SHORT_SECRET_WARNING);
      } else if (security.has('CHAP_I') || security.has('CHAP_C')) {
        refuse(LoginStatusPairs.AuthenticationFailure, 'CHAP_I/CHAP_C without CHAP_N/CHAP_R');
      }
    }
    if (this.#auth === 'pending' && pdu.transit && authMethod === undefined) {
      // No AuthMethod offered at all: only a target that accepts None lets the initiator through.
      if (!admission.auth.methods.includes('None')) {
        refuse(LoginStatusPairs.AuthenticationFailure, 'authentication is required');
      }
      this.#auth = 'done';
    }

    if (pdu.transit && this.#auth === 'done') {
      // Over iSER a normal session must negotiate RDMAExtensions: stop in the operational stage, not past it.
      const skipOperational = pdu.nextStage === LoginStage.FullFeaturePhase && !this.#mustNegotiateOperational();
      if (skipOperational) return this.#finish(out);
      return this.#sendText(out, true, LoginStage.LoginOperationalNegotiation);
    }
    return this.#sendText(out, false, 0);
  }

  #chooseAuthMethod(offered: string, admission: Admission): 'CHAP' | 'None' {
    const methods = parseList(offered);
    if (methods === undefined) refuse(LoginStatusPairs.InitiatorError, 'AuthMethod is not a list', 'AuthMethod');
    const accepted = admission.auth.methods;
    const chosen = methods.find((m): m is 'CHAP' | 'None' => (m === 'CHAP' || m === 'None') && accepted.includes(m));
    if (chosen === undefined) {
      refuse(
        LoginStatusPairs.AuthenticationFailure,
        `none of AuthMethod=${offered.slice(0, 80)} is accepted (${accepted.join(',') || 'nothing'})`,
        'AuthMethod',
      );
    }
    this.#authMethod = chosen;
    if (chosen === 'None') {
      this.#auth = 'done';
      return chosen;
    }
    let algorithms: ChapAlgorithmId[];
    try {
      algorithms = checkChapAlgorithms(admission.auth.chapAlgorithms ?? ALL_CHAP_ALGORITHMS, 'target');
    } catch (err) {
      if (err instanceof LoginError) refuse(LoginStatusPairs.TargetError, err.message);
      throw err;
    }
    const { policy } = this.#config;
    const { initiatorName, targetName } = admission;
    this.#chap = new ChapTargetExchange({
      algorithms,
      minPeerChallengeBytes: this.#config.minPeerChallengeBytes ?? DEFAULT_MIN_PEER_CHALLENGE_BYTES,
      requireMutual: admission.auth.requireMutual ?? false,
      allowShortSecrets: this.#config.allowShortSecrets ?? false,
      secretOf: (user) => policy.chapSecret(user, initiatorName, targetName),
      targetCredentials: () => policy.targetChapCredentials(initiatorName, targetName),
      random: this.#random,
    });
    this.#auth = 'chap';
    return chosen;
  }

  /** True on an iSER connection's normal leading login: RDMAExtensions=Yes must be agreed (RFC 7145 §6.3). */
  #needsIser(): boolean {
    const admission = this.#requireAdmission();
    return this.#config.transport === 'iser' && admission.sessionType === 'Normal' && admission.existing === undefined;
  }

  /**
   * True when the initiator may not skip the operational stage: over iSER (RDMAExtensions), or when the target's
   * own preferences differ from the defaults it would otherwise accept silently. The target then answers a
   * request for NSG=3 with NSG=1, as RFC 7143 lets it choose a stage no later than the one asked for.
   */
  #mustNegotiateOperational(): boolean {
    const config = this.#requireAdmission().negotiation;
    return this.#needsIser() || NEGOTIABLE_KEYS.some((key) => isConfigured(config, key));
  }

  // ------------------------------------------------------------------------------------------- operational

  #operational(pdu: LoginRequestPdu, pairs: readonly TextPair[]): TargetLoginAction[] {
    const negotiator = this.#requireNegotiator();
    if (this.#auth !== 'done') {
      // The initiator skipped the security stage: fine only if no authentication is required.
      if (!this.#requireAdmission().auth.methods.includes('None')) {
        refuse(LoginStatusPairs.AuthenticationFailure, 'authentication is required');
      }
      this.#auth = 'done';
    }
    const { reply } = negotiator.receive(pairs, 'operational');
    const offers = negotiator.offer('operational');
    // Our offers need answers, so they keep the login in this stage; declarations do not.
    const asks = offers.some((p) => lookupKey(p.key)?.result !== 'declarative');
    const out = [...reply, ...offers];
    if (pdu.transit && negotiator.settled && !asks) return this.#finish(out);
    return this.#sendText(out, false, 0);
  }

  /** Ends the login (T=1 NSG=3): final checks, the TSIH, and the final response. */
  #finish(out: readonly TextPair[]): TargetLoginAction[] {
    const negotiator = this.#requireNegotiator();
    const admission = this.#requireAdmission();
    if (this.#needsIser() && !negotiator.rdmaExtensions) {
      refuse(
        LoginStatusPairs.InitiatorError,
        'a normal session on an iSER connection needs RDMAExtensions=Yes',
        'RDMAExtensions',
      );
    }
    const params = negotiator.params();
    let tsih: number;
    if (admission.existing !== undefined) {
      tsih = admission.existing.tsih;
    } else {
      const allocated = this.#config.policy.allocateTsih();
      if (allocated === undefined) refuse(LoginStatusPairs.OutOfResources, 'no TSIH is free for a new session');
      if (!Number.isInteger(allocated) || allocated < 1 || allocated > 0xffff) {
        refuse(LoginStatusPairs.TargetError, `allocateTsih() returned ${allocated}, not 1..65535`);
      }
      tsih = allocated;
    }
    this.#final = { tsih, params };
    return this.#sendText(out, true, LoginStage.FullFeaturePhase);
  }

  // ------------------------------------------------------------------------------------------------ sending

  #sendText(pairs: readonly TextPair[], transit: boolean, nextStage: 0 | 1 | 3): TargetLoginAction[] {
    this.#outgoing.load(pairs, transit, nextStage);
    return this.#nextPiece();
  }

  /** Sends the next piece of our text; the last piece may move the stage on or end the login. */
  #nextPiece(): TargetLoginAction[] {
    const piece = this.#outgoing.take();
    const final = piece.transit && piece.nextStage === LoginStage.FullFeaturePhase ? this.#final : undefined;
    const success = { statusClass: 0, statusDetail: 0 };
    const pdu = this.#response(piece.data, piece.continues, piece.transit, piece.nextStage, success, final?.tsih);
    const actions: TargetLoginAction[] = [{ type: 'send', pdu }];
    if (piece.transit) {
      if (final !== undefined) actions.push(this.#success(final.tsih, final.params, pdu));
      else {
        this.#stage = LoginStage.LoginOperationalNegotiation;
        this.#state = 'operational';
      }
    }
    return actions;
  }

  #success(tsih: number, params: NegotiatedParams, last: LoginResponsePdu): TargetLoginAction {
    const admission = this.#requireAdmission();
    this.#state = 'succeeded';
    return {
      type: 'succeeded',
      result: {
        params,
        tsih,
        initiatorName: admission.initiatorName,
        targetName: admission.targetName,
        sessionType: admission.sessionType,
        isid: last.isid,
        cid: this.#first?.cid ?? 0,
        reinstate: admission.reinstate,
        leading: admission.existing === undefined,
        replacesConnection: admission.replacesConnection,
        statSN: last.statSN,
        expCmdSN: last.expCmdSN,
        maxCmdSN: last.maxCmdSN,
        authMethod: this.#authMethod,
        chapUser: this.#chapUser,
        mutualChap: this.#mutualChap,
        warnings: [...this.#warnings],
      },
    };
  }

  #response(
    data: readonly Buffer[],
    continues: boolean,
    transit: boolean,
    nextStage: 0 | 1 | 3,
    status: LoginStatusPair,
    tsih?: number,
  ): LoginResponsePdu {
    const first = this.#first;
    const statSN = this.#statSN;
    this.#statSN = serialAdd(statSN, 1);
    const cmdSN = first?.cmdSN ?? 0;
    return {
      kind: 'login-response',
      transit,
      continue: continues,
      currentStage: this.#stage,
      nextStage,
      versionMax: ISCSI_VERSION,
      versionActive: ISCSI_VERSION,
      isid: first?.isid ?? { type: 0, a: 0, b: 0, c: 0, d: 0 },
      tsih: tsih ?? first?.tsih ?? 0,
      itt: this.#itt,
      statSN,
      expCmdSN: cmdSN,
      // MaxCmdSN = ExpCmdSN + window - 1: a window of 0 is the empty window (MaxCmdSN = ExpCmdSN - 1).
      maxCmdSN: (cmdSN + this.#window - 1) >>> 0,
      statusClass: status.statusClass,
      statusDetail: status.statusDetail,
      data,
    };
  }

  #requireNegotiator(): TextNegotiator {
    if (this.#negotiator === undefined) throw new Error('unreachable: no negotiator before admission');
    return this.#negotiator;
  }

  #requireAdmission(): Admission {
    if (this.#admission === undefined) throw new Error('unreachable: no admission yet');
    return this.#admission;
  }
}
