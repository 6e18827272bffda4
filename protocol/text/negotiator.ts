/**
 * Text negotiation (RFC 7143 §6, RFC 7145 §6), sans-IO: pairs in, pairs out. One negotiator lives for one login
 * (both stages) or for full-feature text exchanges on one connection, and serves either role.
 *
 * A login state machine uses it so:
 * 1. `offer(stage)` gives the keys we originate in that stage (declarations and our offers), once each;
 * 2. `receive(pairs, stage)` takes the peer's pairs of one complete text (see TextAssembler) and returns the
 *    answers to send back, plus the pairs it does not handle (security keys, SendTargets) for the caller;
 * 3. `settled` says every key we offered has been answered, so the T bit may be set;
 * 4. `params()` gives the {@link NegotiatedParams}.
 * A target should call `offer('operational')` after `receive` in the operational stage: it originates the keys
 * it wants that the initiator did not mention (e.g. RDMAExtensions=Yes on an iSER portal).
 */
import type { TextPair } from './codec.js';
import {
  formatPreference,
  isConfigured,
  isIscsiName,
  isLocalName,
  preferenceOf,
  validateConfig,
  type NegotiationConfig,
} from './config.js';
import { TextError } from './errors.js';
import { lookupKey, type KeyDefinition } from './keys.js';
import type { Digest, NegotiatedParams, NegotiationRole, PerSide, SessionType, TaskReporting } from './params.js';
import { answerOffer, checkAnswer } from './result-functions.js';
import { isSpecialAnswer, parseBoolean, parseList, parseNumberInRange, SpecialAnswer } from './values.js';

/** Where in the connection's life a text exchange happens. */
export type NegotiationStage = 'security' | 'operational' | 'full-feature';

/** How PDUs travel: iSCSI over TCP, or iSER. */
export type TransportKind = 'tcp' | 'iser';

/** Options of a {@link TextNegotiator}. */
export interface TextNegotiatorOptions {
  /** Our role. */
  readonly role: NegotiationRole;
  /** Our transport: over iSER we offer RDMAExtensions=Yes and the RDSL keys instead of MaxRecvDataSegmentLength. */
  readonly transport: TransportKind;
  /** Our limits and preferences. */
  readonly config?: NegotiationConfig;
  /**
   * The session's negotiated values, for a connection joining an existing session (a non-leading login) or for
   * text exchanges in full feature phase. Omitted for the leading connection's login.
   */
  readonly session?: NegotiatedParams;
  /** `login` (default) or `full-feature`. */
  readonly phase?: 'login' | 'full-feature';
  /**
   * Answer a boolean offer whose value alone decides the result (No under AND, Yes under OR). The RFC makes
   * that answer optional (RFC 7143 §6.2.2); sending it is allowed and what most targets do. Default true.
   */
  readonly answerDeterminedBooleans?: boolean;
}

/** What {@link TextNegotiator.receive} produces. */
export interface ReceiveResult {
  /** Pairs to send back: answers to the peer's offers. */
  readonly reply: readonly TextPair[];
  /** Pairs for the caller: security keys (RFC 7143 §12) in the security stage, SendTargets in full feature phase. */
  readonly delegated: readonly TextPair[];
}

/** Processing order inside one text: decisions other keys depend on come first. */
const PRIORITY: ReadonlyMap<string, number> = new Map([
  ['SessionType', 0],
  ['RDMAExtensions', 1],
  ['InitialR2T', 2],
  ['ImmediateData', 2],
  ['MaxBurstLength', 3],
]);

/** The keys an initiator offers in a normal session's leading login, in order. */
const NORMAL_SESSION_KEYS = [
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
];
/** Offered only when configured: older peers do not know them. */
const OPTIONAL_SESSION_KEYS = ['TaskReporting', 'iSCSIProtocolLevel'];
const ISER_CONNECTION_KEYS = ['InitiatorRecvDataSegmentLength', 'TargetRecvDataSegmentLength'];
const DIGEST_KEYS = ['HeaderDigest', 'DataDigest'];
/** iSER declarations, sent only when configured. */
const ISER_DECLARATIONS = [
  'MaxOutstandingUnexpectedPDUs',
  'MaxAHSLength',
  'TaggedBufferForSolicitedDataOnly',
  'iSERHelloRequired',
];
/** Keys a target may originate when its preference differs from the default. */
const TARGET_ORIGINATED_KEYS = [...NORMAL_SESSION_KEYS, ...OPTIONAL_SESSION_KEYS, ...ISER_CONNECTION_KEYS];

function fail(code: ConstructorParameters<typeof TextError>[0], key: string, message: string): never {
  throw new TextError(code, `${key}: ${message}`, { key });
}

/** Negotiates the keys of one login, or of full-feature text exchanges, for one side. */
export class TextNegotiator {
  readonly #role: NegotiationRole;
  readonly #peer: NegotiationRole;
  readonly #iser: boolean;
  readonly #config: NegotiationConfig;
  readonly #session: NegotiatedParams | undefined;
  readonly #fullFeature: boolean;
  readonly #answerDetermined: boolean;

  /** Results of negotiated keys and of single-sender declarations. */
  readonly #agreed = new Map<string, string>();
  /** Declarations of keys both sides declare for themselves, by side. */
  readonly #declared: Record<NegotiationRole, Map<string, string>> = { initiator: new Map(), target: new Map() };
  /** Keys we offered that await an answer, with the value we offered. */
  readonly #awaiting = new Map<string, string>();
  /** Boolean offers of ours whose value decided the result: an answer may or may not come. */
  readonly #optionalAnswers = new Map<string, string>();
  /** Keys we sent (offers and declarations). */
  readonly #sent = new Set<string>();
  /** Keys the peer sent as offers or declarations. */
  readonly #peerSent = new Set<string>();

  constructor(options: TextNegotiatorOptions) {
    this.#role = options.role;
    this.#peer = options.role === 'initiator' ? 'target' : 'initiator';
    this.#iser = options.transport === 'iser';
    this.#config = options.config ?? {};
    this.#session = options.session;
    this.#fullFeature = options.phase === 'full-feature';
    this.#answerDetermined = options.answerDeterminedBooleans ?? true;
    validateConfig(this.#config);
    if (this.#fullFeature && this.#session === undefined) {
      throw new TextError('ERR_TEXT_BAD_CONFIG', 'full-feature negotiation needs the session parameters');
    }
    if (this.#role === 'initiator' && !this.#fullFeature) {
      if (this.#config.initiatorName === undefined)
        throw new TextError('ERR_TEXT_BAD_CONFIG', 'an initiator needs initiatorName');
      if (this.sessionType === 'Normal' && this.#config.targetName === undefined) {
        throw new TextError('ERR_TEXT_BAD_CONFIG', 'a normal session needs targetName');
      }
    }
  }

  /** True in the login of a session's first connection. */
  get #leading(): boolean {
    return this.#session === undefined;
  }

  /** The session type: declared by the initiator (Normal unless it says Discovery). */
  get sessionType(): SessionType {
    if (this.#session !== undefined) return this.#session.sessionType;
    if (this.#role === 'initiator') return this.#config.sessionType ?? 'Normal';
    return this.#agreed.get('SessionType') === 'Discovery' ? 'Discovery' : 'Normal';
  }

  /** Whether RDMAExtensions=Yes has been negotiated (so far). */
  get rdmaExtensions(): boolean {
    if (this.#session !== undefined) return this.#session.rdmaExtensions;
    return this.sessionType === 'Normal' && this.#agreed.get('RDMAExtensions') === 'Yes';
  }

  /** Keys we offered that the peer has not answered yet. */
  get awaitingAnswers(): readonly string[] {
    return [...this.#awaiting.keys()];
  }

  /** True when every key we offered has been answered (the T bit may be set as far as text goes). */
  get settled(): boolean {
    return this.#awaiting.size === 0;
  }

  // ---------------------------------------------------------------------------------------------- offering

  /**
   * The pairs we originate in `stage` that we have not sent yet: identity declarations in the first call, and
   * in the operational stage our operational offers and declarations. Offers are recorded as awaiting answers.
   */
  offer(stage: NegotiationStage): TextPair[] {
    const pairs: TextPair[] = [];
    const add = (key: string, value: string | undefined): void => {
      const def = lookupKey(key);
      if (value === undefined || def === undefined || this.#sent.has(key)) return;
      // A key the peer already originated is answered, not offered; each side declares its own values.
      if (def.result !== 'declarative' && (this.#peerSent.has(key) || this.#agreed.has(key))) return;
      pairs.push({ key, value });
      this.#sent.add(key);
      if (def.result === 'declarative') {
        this.#recordDeclaration(def, this.#role, value);
      } else {
        this.#recordOffer(def, value);
      }
    };
    if (stage === 'full-feature') return pairs;
    const config = this.#config;
    if (this.#role === 'initiator') {
      add('InitiatorName', config.initiatorName);
      if (this.#leading) add('InitiatorAlias', config.initiatorAlias);
      if (this.sessionType === 'Normal') add('TargetName', config.targetName);
      if (this.#leading) add('SessionType', this.sessionType);
    } else {
      if (config.targetPortalGroupTag !== undefined) add('TargetPortalGroupTag', String(config.targetPortalGroupTag));
      if (this.#leading) add('TargetAlias', config.targetAlias);
    }
    if (stage !== 'operational') return pairs;

    for (const key of this.#operationalOfferKeys()) {
      const preference = preferenceOf(config, key, this.#iser);
      if (preference !== undefined) add(key, formatPreference(preference));
    }
    const rdma = this.#rdmaExpected();
    if (!rdma) {
      add('MaxRecvDataSegmentLength', String(config.maxRecvDataSegmentLength ?? 8192));
    }
    if (this.#leading && rdma) {
      for (const key of ISER_DECLARATIONS) {
        const preference = isConfigured(config, key) ? preferenceOf(config, key, true) : undefined;
        if (preference !== undefined && lookupKey(key)?.senders !== this.#peer) add(key, formatPreference(preference));
      }
    }
    if (this.#leading && config.nodeArchitecture !== undefined)
      add('X#NodeArchitecture', config.nodeArchitecture.join(','));
    return pairs;
  }

  /** RDMAExtensions as negotiated, or while still open, whether we are heading for it (we run over iSER). */
  #rdmaExpected(): boolean {
    if (this.#session !== undefined || this.sessionType === 'Discovery') return this.rdmaExtensions;
    const open =
      this.#awaiting.has('RDMAExtensions') ||
      !(this.#sent.has('RDMAExtensions') || this.#peerSent.has('RDMAExtensions'));
    return open ? this.#iser : this.rdmaExtensions;
  }

  /** The negotiable keys we offer in the operational stage, in order. */
  #operationalOfferKeys(): string[] {
    const discovery = this.sessionType === 'Discovery';
    const keys: string[] = [];
    if (this.#role === 'initiator') {
      if (discovery) {
        if (!this.#iser) keys.push(...DIGEST_KEYS);
      } else if (this.#leading) {
        if (this.#iser) keys.push('RDMAExtensions', ...ISER_CONNECTION_KEYS);
        keys.push(...NORMAL_SESSION_KEYS.filter((k) => !(this.#iser && DIGEST_KEYS.includes(k))));
        keys.push(...OPTIONAL_SESSION_KEYS.filter((k) => isConfigured(this.#config, k)));
      } else {
        keys.push(...(this.rdmaExtensions ? ISER_CONNECTION_KEYS : DIGEST_KEYS));
      }
      return keys;
    }
    // A target originates only what differs from the default and the initiator left unsaid.
    if (this.#iser && this.#leading && !discovery) keys.push('RDMAExtensions');
    for (const key of TARGET_ORIGINATED_KEYS) {
      const def = lookupKey(key);
      if (def === undefined || !this.#isRelevant(def) || (!this.#leading && def.use === 'leading-only')) continue;
      if (this.rdmaExtensions && DIGEST_KEYS.includes(key)) continue;
      const preference = preferenceOf(this.#config, key, this.#iser);
      if (preference !== undefined && formatPreference(preference) !== def.defaultValue) keys.push(key);
    }
    return keys;
  }

  #recordOffer(def: KeyDefinition, value: string): void {
    if (def.result === 'and' || def.result === 'or') {
      const ours = parseBoolean(value);
      // Our No under AND (or Yes under OR) decides the result; the peer may stay silent (RFC 7143 §6.2.2).
      if (ours !== undefined && (def.result === 'and' ? !ours : ours)) {
        this.#agreed.set(def.name, value);
        this.#optionalAnswers.set(def.name, value);
        return;
      }
    }
    this.#awaiting.set(def.name, value);
  }

  #recordDeclaration(def: KeyDefinition, by: NegotiationRole, value: string): void {
    if (def.senders === 'both') this.#declared[by].set(def.name, value);
    else this.#agreed.set(def.name, value);
  }

  // --------------------------------------------------------------------------------------------- receiving

  /**
   * Takes the pairs of one complete text from the peer (answers to our offers, its own offers and
   * declarations) and returns our answers. Throws {@link TextError} for what the RFC calls a protocol error; a
   * target answers the login with the error's `loginStatus`, an initiator drops the connection.
   */
  receive(pairs: readonly TextPair[], stage: NegotiationStage): ReceiveResult {
    if ((stage === 'full-feature') !== this.#fullFeature) {
      throw new TextError('ERR_TEXT_BAD_CONFIG', `stage ${stage} does not match this negotiator's phase`);
    }
    const reply: TextPair[] = [];
    const delegated: TextPair[] = [];
    const ordered = pairs
      .map((pair, index) => ({ pair, index }))
      .sort((a, b) => (PRIORITY.get(a.pair.key) ?? 9) - (PRIORITY.get(b.pair.key) ?? 9) || a.index - b.index);
    for (const { pair } of ordered) {
      const answer = this.#receivePair(pair, stage, delegated);
      if (answer !== undefined) reply.push({ key: pair.key, value: answer });
    }
    return { reply, delegated };
  }

  /** Handles one pair; returns our answer, if one is to be sent. */
  #receivePair(pair: TextPair, stage: NegotiationStage, delegated: TextPair[]): string | undefined {
    const { key, value } = pair;
    const def = lookupKey(key);
    // RFC 7143 §6.2: unknown keys, X- and unregistered X# keys alike, are answered NotUnderstood.
    if (def === undefined) {
      if (isSpecialAnswer(value)) fail('ERR_TEXT_RESERVED_VALUE', key, 'a reserved constant is not a value');
      return SpecialAnswer.NotUnderstood;
    }
    const offered = this.#awaiting.get(key);
    if (offered !== undefined) {
      this.#awaiting.delete(key);
      const result = checkAnswer(def, offered, value);
      if (result !== undefined) this.#agreed.set(key, result);
      return undefined;
    }
    const decided = this.#optionalAnswers.get(key);
    if (decided !== undefined) {
      this.#optionalAnswers.delete(key);
      if (value !== decided && !isSpecialAnswer(value))
        fail('ERR_TEXT_BAD_ANSWER', key, `answer ${value} contradicts ${decided}`);
      return undefined;
    }
    if (isSpecialAnswer(value)) {
      // A peer that does not know (or does not need) one of our declarations may still answer it.
      if (this.#sent.has(key) && def.result === 'declarative') return undefined;
      fail('ERR_TEXT_RESERVED_VALUE', key, `${value} answers no offer of ours`);
    }
    return this.#receiveOffer(def, value, stage, delegated, pair);
  }

  /** The peer originates `def`: an offer to answer or a declaration to record. */
  #receiveOffer(
    def: KeyDefinition,
    value: string,
    stage: NegotiationStage,
    delegated: TextPair[],
    pair: TextPair,
  ): string | undefined {
    const key = def.name;
    if (def.senders === this.#role) {
      // Some targets echo our declarations (TargetName, SessionType): harmless when the value is ours.
      if (def.result === 'declarative' && this.#sent.has(key) && this.#agreed.get(key) === value) return undefined;
      fail('ERR_TEXT_WRONG_SENDER', key, `may not be sent by the ${this.#peer}`);
    }
    if (def.obsoleteAnswer !== undefined) return def.obsoleteAnswer;

    if (def.use === 'security') {
      if (stage === 'security') {
        delegated.push(pair);
        return undefined;
      }
      if (stage === 'full-feature') return SpecialAnswer.Reject;
      fail('ERR_TEXT_WRONG_PHASE', key, 'security keys belong to the SecurityNegotiation stage');
    }
    if (def.use === 'full-feature-only') {
      if (stage !== 'full-feature') fail('ERR_TEXT_WRONG_PHASE', key, 'may only be sent in full feature phase');
      delegated.push(pair);
      return undefined;
    }
    if (stage === 'full-feature') {
      // Only ALL keys may be exchanged after login; the others are refused.
      if (def.use !== 'all') return SpecialAnswer.Reject;
    } else {
      if (stage === 'security' && def.result !== 'declarative') {
        fail('ERR_TEXT_WRONG_PHASE', key, 'operational keys belong to the LoginOperationalNegotiation stage');
      }
      if (
        (this.#peerSent.has(key) || (def.result !== 'declarative' && this.#sent.has(key))) &&
        def.repeatable !== true
      ) {
        fail('ERR_TEXT_RENEGOTIATION', key, 'negotiated or declared twice in one login (RFC 7143 §6.3)');
      }
    }
    this.#peerSent.add(key);

    if (def.use === 'leading-only' && !this.#leading && !this.#fullFeature) {
      if (def.result !== 'declarative') return SpecialAnswer.Irrelevant;
      // Repeating the session's value (SessionType=Normal) is fine; changing a session-wide value is not.
      if (key === 'SessionType' && value === this.sessionType) return undefined;
      fail('ERR_TEXT_WRONG_PHASE', key, 'a leading-only key cannot change on a non-leading connection');
    }
    if (!this.#isRelevant(def)) return def.result === 'declarative' ? undefined : SpecialAnswer.Irrelevant;

    if (def.result === 'declarative') {
      this.#checkDeclaration(def, value);
      this.#recordDeclaration(def, this.#peer, value);
      return undefined;
    }
    const preference =
      key === 'FirstBurstLength' ? this.#firstBurstPreference() : preferenceOf(this.#config, key, this.#iser);
    if (preference === undefined) return SpecialAnswer.Reject;
    const { answer, result, determinedByOffer } = answerOffer(def, value, preference);
    if (result !== undefined) this.#agreed.set(key, result);
    return determinedByOffer && !this.#answerDetermined ? undefined : answer;
  }

  /** FirstBurstLength may not exceed MaxBurstLength (RFC 7143 §13.14): answer at most the burst agreed so far. */
  #firstBurstPreference(): { kind: 'number'; value: number } {
    const first = preferenceOf(this.#config, 'FirstBurstLength', this.#iser);
    const ours = first?.kind === 'number' ? first.value : 65536;
    const maxBurst = this.#agreed.get('MaxBurstLength');
    return { kind: 'number', value: maxBurst === undefined ? ours : Math.min(ours, Number(maxBurst)) };
  }

  /** Whether a key applies to this session (RFC 7143 §13, RFC 7145 §6 "Irrelevant when"). */
  #isRelevant(def: KeyDefinition): boolean {
    for (const condition of def.irrelevantWhen) {
      if (condition === 'discovery' && this.sessionType === 'Discovery') return false;
      if (condition === 'rdma-extensions' && this.rdmaExtensions) return false;
      if (condition === 'no-rdma-extensions' && !this.rdmaExtensions) return false;
    }
    return true;
  }

  /** Throws ERR_TEXT_BAD_DECLARATION unless a declared value is well formed for its key. */
  #checkDeclaration(def: KeyDefinition, value: string): void {
    let ok: boolean;
    switch (def.type) {
      case 'numerical': {
        const range = def.range ?? { min: 0, max: 0 };
        const n = parseNumberInRange(value, range.orZero ? 0 : range.min, range.max);
        ok = n !== undefined && (n >= range.min || n === 0);
        break;
      }
      case 'boolean':
        ok = parseBoolean(value) !== undefined;
        break;
      case 'enum':
        ok = (def.values ?? []).includes(value);
        break;
      case 'iscsi-name':
        ok = isIscsiName(value);
        break;
      case 'local-name':
        ok = isLocalName(value);
        break;
      case 'list':
        ok = parseList(value) !== undefined;
        break;
      default:
        ok = value.length > 0;
    }
    if (!ok)
      fail(
        'ERR_TEXT_BAD_DECLARATION',
        def.name,
        `malformed or out-of-range value ${JSON.stringify(value.slice(0, 80))}`,
      );
  }

  // ----------------------------------------------------------------------------------------------- results

  /**
   * The negotiated values with defaults applied. Throws ERR_TEXT_NOT_SETTLED while offers await answers,
   * ERR_TEXT_MISSING_PARAMETER when a login lacks InitiatorName (or TargetName in a normal session), and
   * ERR_TEXT_INCOHERENT when FirstBurstLength was negotiated above MaxBurstLength.
   */
  params(): NegotiatedParams {
    if (!this.settled) {
      throw new TextError('ERR_TEXT_NOT_SETTLED', `still awaiting answers for ${this.awaitingAnswers.join(', ')}`);
    }
    const base = this.#session;
    const agreed = this.#agreed;
    // Session-wide values come from the leading connection, except ALL keys re-declared in full feature phase.
    const raw = (key: string): string | undefined => agreed.get(key);
    const fallback = <T>(key: string, fromBase: T | undefined, parse: (text: string) => T): T => {
      const text = raw(key);
      if (text !== undefined) return parse(text);
      const def = lookupKey(key);
      if (base !== undefined && (def?.scope === 'session' || this.#fullFeature) && fromBase !== undefined)
        return fromBase;
      return parse(def?.defaultValue ?? '');
    };
    const num = (key: string, fromBase?: number): number => fallback(key, fromBase, Number);
    const bool = (key: string, fromBase?: boolean): boolean => fallback(key, fromBase, (t) => t === 'Yes');
    const text = (key: string, fromBase?: string): string | undefined => raw(key) ?? fromBase;
    const declared = (key: string, side: NegotiationRole, fromBase: number): number => {
      const value = this.#declared[side].get(key);
      return value === undefined ? fromBase : Number(value);
    };

    const sessionType = this.sessionType;
    const rdma = this.rdmaExtensions;
    const initiatorName = text('InitiatorName', base?.initiatorName);
    const targetName = text('TargetName', base?.targetName);
    if (!this.#fullFeature) {
      if (initiatorName === undefined)
        throw new TextError('ERR_TEXT_MISSING_PARAMETER', 'InitiatorName was not declared');
      if (sessionType === 'Normal' && targetName === undefined) {
        throw new TextError('ERR_TEXT_MISSING_PARAMETER', 'TargetName was not declared in a normal session');
      }
    }

    const maxBurstLength = num('MaxBurstLength', base?.maxBurstLength);
    let firstBurstLength = num('FirstBurstLength', base?.firstBurstLength);
    if (firstBurstLength > maxBurstLength) {
      if (raw('FirstBurstLength') !== undefined) {
        throw new TextError(
          'ERR_TEXT_INCOHERENT',
          `FirstBurstLength ${firstBurstLength} exceeds MaxBurstLength ${maxBurstLength} (RFC 7143 §13.14)`,
          { key: 'FirstBurstLength' },
        );
      }
      // The default (65536) yields to a MaxBurstLength negotiated below it.
      firstBurstLength = maxBurstLength;
    }

    const initiatorRdsl = rdma ? num('InitiatorRecvDataSegmentLength', base?.initiatorRecvDataSegmentLength) : 8192;
    const targetRdsl = rdma ? num('TargetRecvDataSegmentLength', base?.targetRecvDataSegmentLength) : 8192;
    const baseMrdsl = this.#fullFeature ? base?.maxRecvDataSegmentLength : undefined;
    const maxRecvDataSegmentLength: PerSide<number> = rdma
      ? { initiator: initiatorRdsl, target: targetRdsl }
      : {
          initiator: declared('MaxRecvDataSegmentLength', 'initiator', baseMrdsl?.initiator ?? 8192),
          target: declared('MaxRecvDataSegmentLength', 'target', baseMrdsl?.target ?? 8192),
        };
    const unexpected = base?.maxOutstandingUnexpectedPdus ?? { initiator: 0, target: 0 };
    const architecture = (side: NegotiationRole): readonly string[] | undefined => {
      const value = this.#declared[side].get('X#NodeArchitecture');
      return value === undefined ? base?.nodeArchitecture[side] : value.split(',');
    };
    const tag = text('TargetPortalGroupTag');

    return {
      sessionType,
      initiatorName,
      initiatorAlias: text('InitiatorAlias', base?.initiatorAlias),
      targetName,
      targetAlias: text('TargetAlias', base?.targetAlias),
      targetAddress: text('TargetAddress', base?.targetAddress),
      targetPortalGroupTag: tag === undefined ? base?.targetPortalGroupTag : Number(tag),
      headerDigest: rdma ? 'None' : fallback('HeaderDigest', base?.headerDigest, (t) => t as Digest),
      dataDigest: rdma ? 'None' : fallback('DataDigest', base?.dataDigest, (t) => t as Digest),
      maxConnections: num('MaxConnections', base?.maxConnections),
      initialR2T: bool('InitialR2T', base?.initialR2T),
      immediateData: bool('ImmediateData', base?.immediateData),
      maxRecvDataSegmentLength,
      maxBurstLength,
      firstBurstLength,
      defaultTime2Wait: num('DefaultTime2Wait', base?.defaultTime2Wait),
      defaultTime2Retain: num('DefaultTime2Retain', base?.defaultTime2Retain),
      maxOutstandingR2T: num('MaxOutstandingR2T', base?.maxOutstandingR2T),
      dataPduInOrder: bool('DataPDUInOrder', base?.dataPduInOrder),
      dataSequenceInOrder: bool('DataSequenceInOrder', base?.dataSequenceInOrder),
      errorRecoveryLevel: num('ErrorRecoveryLevel', base?.errorRecoveryLevel),
      taskReporting: fallback('TaskReporting', base?.taskReporting, (t) => t as TaskReporting),
      iscsiProtocolLevel: num('iSCSIProtocolLevel', base?.iscsiProtocolLevel),
      rdmaExtensions: rdma,
      initiatorRecvDataSegmentLength: initiatorRdsl,
      targetRecvDataSegmentLength: targetRdsl,
      maxOutstandingUnexpectedPdus: rdma
        ? {
            initiator: declared('MaxOutstandingUnexpectedPDUs', 'initiator', unexpected.initiator),
            target: declared('MaxOutstandingUnexpectedPDUs', 'target', unexpected.target),
          }
        : { initiator: 0, target: 0 },
      maxAhsLength: rdma ? num('MaxAHSLength', base?.maxAhsLength) : 256,
      taggedBufferForSolicitedDataOnly: rdma
        ? bool('TaggedBufferForSolicitedDataOnly', base?.taggedBufferForSolicitedDataOnly)
        : false,
      iserHelloRequired: rdma ? bool('iSERHelloRequired', base?.iserHelloRequired) : false,
      nodeArchitecture: { initiator: architecture('initiator'), target: architecture('target') },
    };
  }
}
