/**
 * fast-check arbitraries for the text layer (`protocol/text`): key names, values, pairs, and legal negotiation
 * configs for either side; plus `simulateLogin`, which runs an initiator and a target negotiator against each
 * other through the real codec, splitter and assembler. The conformance suite reuses these.
 */
import fc from 'fast-check';
import { TextAssembler } from '../../../protocol/text/assembler.js';
import type { TextPair } from '../../../protocol/text/codec.js';
import type { NegotiationConfig } from '../../../protocol/text/config.js';
import { KEY_TABLE, type KeyDefinition } from '../../../protocol/text/keys.js';
import { TextNegotiator, type NegotiationStage, type TransportKind } from '../../../protocol/text/negotiator.js';
import type { Digest, NegotiatedParams, SessionType, TaskReporting } from '../../../protocol/text/params.js';
import { splitText } from '../../../protocol/text/split.js';

const LABEL_CHARS = Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-+@_');

/** A key name RFC 7143 §6.1 accepts: a standard-label, or an `X-` / `X#` extension key; at most 63 bytes. */
export const arbKeyName: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(fc.constantFrom(...LABEL_CHARS.slice(0, 52)), fc.array(fc.constantFrom(...LABEL_CHARS), { maxLength: 62 }))
    .map(([first, rest]) => first + rest.join('')),
  fc.array(fc.constantFrom(...LABEL_CHARS), { minLength: 1, maxLength: 61 }).map((rest) => `X-${rest.join('')}`),
  fc.array(fc.constantFrom(...LABEL_CHARS), { minLength: 1, maxLength: 61 }).map((rest) => `X#${rest.join('')}`),
);

/** A value: any UTF-8 text without NUL, at most 255 bytes (the default bound of RFC 7143 §6.1). */
export const arbTextValue: fc.Arbitrary<string> = fc
  .string({ unit: 'binary', maxLength: 100 })
  .map((s) => s.replaceAll('\0', ''))
  .filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s && Buffer.byteLength(s, 'utf8') <= 255);

/** A list of pairs with distinct keys, as one text carries. */
export const arbTextPairs: fc.Arbitrary<TextPair[]> = fc
  .uniqueArray(fc.record({ key: arbKeyName, value: arbTextValue }), { selector: (p) => p.key, maxLength: 12 })
  .map((pairs) => pairs.map((p) => ({ key: p.key, value: p.value })));

/** A well-formed value for `def`'s type and range (what an RFC-abiding peer may offer or declare). */
export function arbValueFor(def: KeyDefinition): fc.Arbitrary<string> {
  switch (def.type) {
    case 'boolean':
      return fc.constantFrom('Yes', 'No');
    case 'numerical': {
      const { min, max } = def.range ?? { min: 0, max: 0 };
      return fc.oneof(
        fc.integer({ min, max }).map(String),
        fc.integer({ min, max }).map((n) => `0x${n.toString(16)}`),
      );
    }
    case 'list':
    case 'enum':
      return def.values === undefined
        ? fc.stringMatching(/^[A-Za-z0-9]{1,10}$/)
        : fc
            .uniqueArray(fc.constantFrom(...def.values), {
              minLength: 1,
              maxLength: def.type === 'enum' ? 1 : def.values.length,
            })
            .map((values) => values.join(','));
    default:
      return fc.stringMatching(/^[a-z0-9.:-]{1,40}$/);
  }
}

/** One key offer or declaration of an operational key (RFC 7143 §13, RFC 7145 §6) with a well-formed value. */
export const arbKeyOffer: fc.Arbitrary<TextPair> = fc
  .constantFrom(...[...KEY_TABLE.values()].filter((def) => def.use !== 'security' && def.obsoleteAnswer === undefined))
  .chain((def) => arbValueFor(def).map((value) => ({ key: def.name, value })));

/** A text of distinct operational key offers. */
export const arbKeyOffers: fc.Arbitrary<TextPair[]> = fc.uniqueArray(arbKeyOffer, {
  selector: (p) => p.key,
  maxLength: 20,
});

/** An iSCSI name in iqn form. */
export const arbIscsiName: fc.Arbitrary<string> = fc
  .tuple(
    fc.integer({ min: 1990, max: 2030 }),
    fc.stringMatching(/^[a-z0-9]{1,12}$/),
    fc.stringMatching(/^[a-z0-9.:-]{1,30}$/),
  )
  .map(([year, domain, id]) => `iqn.${year}-01.com.${domain}:${id}`);

const arbDigests: fc.Arbitrary<Digest[]> = fc.oneof(
  fc.constant<Digest[]>(['None']),
  fc.constant<Digest[]>(['CRC32C']),
  fc.constant<Digest[]>(['CRC32C', 'None']),
  fc.constant<Digest[]>(['None', 'CRC32C']),
);
const arbTaskReporting: fc.Arbitrary<TaskReporting[]> = fc
  .uniqueArray(fc.constantFrom<TaskReporting>('RFC3720', 'ResponseFence', 'FastAbort'), { minLength: 1, maxLength: 3 })
  .map((values) => [...values]);
const arbSegment = fc.integer({ min: 512, max: 0xff_ffff });
/** Mostly small sizes, so burst coherence is exercised, sometimes the whole range. */
const arbBurst = fc.oneof(fc.integer({ min: 512, max: 300_000 }), arbSegment);

/** The operational preferences either side may hold (all legal, FirstBurstLength ≤ MaxBurstLength). */
export const arbOperationalConfig: fc.Arbitrary<NegotiationConfig> = fc
  .record(
    {
      headerDigest: arbDigests,
      dataDigest: arbDigests,
      maxConnections: fc.integer({ min: 1, max: 65535 }),
      initialR2T: fc.boolean(),
      immediateData: fc.boolean(),
      maxRecvDataSegmentLength: arbSegment,
      maxBurstLength: arbBurst,
      firstBurstLength: arbBurst,
      defaultTime2Wait: fc.integer({ min: 0, max: 3600 }),
      defaultTime2Retain: fc.integer({ min: 0, max: 3600 }),
      maxOutstandingR2T: fc.integer({ min: 1, max: 65535 }),
      dataPduInOrder: fc.boolean(),
      dataSequenceInOrder: fc.boolean(),
      errorRecoveryLevel: fc.integer({ min: 0, max: 2 }),
      taskReporting: arbTaskReporting,
      iscsiProtocolLevel: fc.integer({ min: 0, max: 31 }),
      initiatorRecvDataSegmentLength: arbSegment,
      targetRecvDataSegmentLength: arbSegment,
      maxOutstandingUnexpectedPdus: fc.oneof(fc.constant(0), fc.integer({ min: 2, max: 0xffff_ffff })),
    },
    { requiredKeys: [] },
  )
  .map((config) => {
    // Keep the pair coherent the way a real config is: FirstBurstLength never above MaxBurstLength.
    const { maxBurstLength, firstBurstLength } = config;
    if (maxBurstLength !== undefined && firstBurstLength !== undefined && firstBurstLength > maxBurstLength) {
      return { ...config, firstBurstLength: maxBurstLength };
    }
    if (maxBurstLength === undefined && firstBurstLength !== undefined && firstBurstLength > 262144) {
      return { ...config, firstBurstLength: 262144 };
    }
    return config;
  });

/** A legal initiator config: names, session type, optional iSER declarations, and operational preferences. */
export const arbInitiatorConfig: fc.Arbitrary<NegotiationConfig> = fc
  .tuple(
    arbOperationalConfig,
    fc.record(
      {
        initiatorName: arbIscsiName,
        targetName: arbIscsiName,
        initiatorAlias: fc.stringMatching(/^[a-zA-Z0-9 ._-]{1,20}$/),
        sessionType: fc.constantFrom<SessionType>('Normal', 'Discovery'),
        maxAhsLength: fc.integer({ min: 0, max: 4096 }),
        taggedBufferForSolicitedDataOnly: fc.boolean(),
        iserHelloRequired: fc.boolean(),
      },
      { requiredKeys: ['initiatorName', 'targetName'] },
    ),
  )
  .map(([operational, identity]) => ({ ...operational, ...identity }));

/** A legal target config: alias, portal group tag, and operational preferences. */
export const arbTargetConfig: fc.Arbitrary<NegotiationConfig> = fc
  .tuple(
    arbOperationalConfig,
    fc.record(
      {
        targetAlias: fc.stringMatching(/^[a-zA-Z0-9 ._-]{1,20}$/),
        targetPortalGroupTag: fc.integer({ min: 0, max: 65535 }),
      },
      { requiredKeys: [] },
    ),
  )
  .map(([operational, identity]) => ({ ...operational, ...identity }));

/** A transport. */
export const arbTransport: fc.Arbitrary<TransportKind> = fc.constantFrom<TransportKind>('tcp', 'iser');

/** One side of a simulated login. */
export interface LoginSide {
  /** Its transport. */
  readonly transport: TransportKind;
  /** Its config. */
  readonly config: NegotiationConfig;
}

/** The outcome of {@link simulateLogin}. */
export interface SimulatedLogin {
  /** The initiator's negotiator, settled. */
  readonly initiator: TextNegotiator;
  /** The target's negotiator, settled. */
  readonly target: TextNegotiator;
  /** Every text exchanged, in order, with its direction. */
  readonly transcript: readonly { readonly from: 'initiator' | 'target'; readonly pairs: readonly TextPair[] }[];
}

/** Sends pairs through the wire path: split into PDUs of `pduSize` bytes, reassembled, decoded. */
function overTheWire(pairs: readonly TextPair[], pduSize: number): TextPair[] {
  const assembler = new TextAssembler();
  let out: TextPair[] | undefined;
  for (const piece of splitText(pairs, pduSize)) out = assembler.push(piece.data, piece.continues);
  return out ?? [];
}

/**
 * Runs a login's text exchanges between an initiator and a target negotiator (security stage, then operational
 * rounds until both are settled), every text going through the codec in PDUs of `pduSize` bytes.
 */
export function simulateLogin(initiator: LoginSide, target: LoginSide, pduSize = 8192): SimulatedLogin {
  const ini = new TextNegotiator({ role: 'initiator', transport: initiator.transport, config: initiator.config });
  const tgt = new TextNegotiator({ role: 'target', transport: target.transport, config: target.config });
  const transcript: { from: 'initiator' | 'target'; pairs: TextPair[] }[] = [];
  const send = (from: 'initiator' | 'target', pairs: TextPair[]): TextPair[] => {
    transcript.push({ from, pairs });
    return overTheWire(pairs, pduSize);
  };
  const exchange = (stage: NegotiationStage, toTarget: TextPair[]): TextPair[] => {
    const atTarget = tgt.receive(send('initiator', toTarget), stage);
    const toInitiator = [...atTarget.reply, ...tgt.offer(stage)];
    const atInitiator = ini.receive(send('target', toInitiator), stage);
    return [...atInitiator.reply, ...ini.offer(stage)];
  };
  let next = exchange('security', ini.offer('security'));
  next = [...next, ...ini.offer('operational')];
  for (let round = 0; round < 8; round++) {
    next = exchange('operational', next);
    if (next.length === 0 && ini.settled && tgt.settled) return { initiator: ini, target: tgt, transcript };
  }
  throw new Error('negotiation did not settle in 8 rounds');
}

/** Both sides' results of a simulated login. */
export function simulatedParams(login: SimulatedLogin): { initiator: NegotiatedParams; target: NegotiatedParams } {
  return { initiator: login.initiator.params(), target: login.target.params() };
}
