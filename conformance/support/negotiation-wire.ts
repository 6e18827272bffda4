/**
 * What a login negotiated, worked out from the text on the wire alone (RFC 7143 §6.2): a key sent by one side
 * and then by the other is an offer and its answer, and the answer is the result; a declarative key is its
 * sender's value; a key never negotiated keeps its default. Each answer is also checked against its offer (a
 * list answer is one of the offered values, a Min answer is not above the offer...).
 */
import { decodeText, type TextPair } from '../../protocol/text/codec.js';
import { KEY_TABLE } from '../../protocol/text/keys.js';
import type { NegotiatedParams } from '../../protocol/text/params.js';
import type { RecordedPdu } from '../record/exchange.js';
import type { Finding } from './invariants.js';

/** Which side of a login sent a key. */
export type Side = 'initiator' | 'target';

/** The result of one key. */
export interface KeyResult {
  readonly value: string;
  /** `implied`: an offer that alone decides the result (No under AND, Yes under OR) left unanswered. */
  readonly how: 'answered' | 'declared' | 'implied' | 'default';
  /** Who sent the value in force. */
  readonly by: Side | undefined;
}

/** What the wire says. */
export interface WireNegotiation {
  /** Key name → result (declarative MaxRecvDataSegmentLength is split as `MaxRecvDataSegmentLength@initiator`). */
  readonly results: Map<string, KeyResult>;
  /** Offers the other side never answered (an offer that alone decides its result needs no answer). */
  readonly unanswered: { readonly key: string; readonly value: string; readonly by: Side }[];
  /** Answers that do not fit their offers. */
  readonly findings: Finding[];
  /** Every text sent, in order. */
  readonly texts: { readonly by: Side; readonly pairs: TextPair[] }[];
}

const SPECIAL = new Set(['Reject', 'Irrelevant', 'NotUnderstood']);

function num(value: string): number | undefined {
  const n = /^0[xX][0-9a-fA-F]+$/.test(value)
    ? Number.parseInt(value.slice(2), 16)
    : /^\d+$/.test(value)
      ? Number(value)
      : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** The login texts of the (first) connection, continuation PDUs joined. */
export function loginTexts(pdus: readonly RecordedPdu[]): { by: Side; pairs: TextPair[] }[] {
  const texts: { by: Side; pairs: TextPair[] }[] = [];
  const pending: Record<Side, Buffer[]> = { initiator: [], target: [] };
  const connection = pdus.find((p) => p.pdu.kind === 'login-request')?.connection;
  for (const p of pdus) {
    if (p.connection !== connection) continue;
    const pdu = p.pdu;
    if (pdu.kind !== 'login-request' && pdu.kind !== 'login-response') continue;
    const by: Side = pdu.kind === 'login-request' ? 'initiator' : 'target';
    pending[by].push(...pdu.data);
    if (pdu.continue) continue;
    const bytes = Buffer.concat(pending[by]);
    pending[by] = [];
    texts.push({ by, pairs: bytes.length === 0 ? [] : decodeText(bytes, { allowDuplicateKeys: true }) });
  }
  return texts;
}

/** Checks an answer against its offer by the key's result function; undefined when it fits. */
function misfit(key: string, offer: string, answer: string): string | undefined {
  const def = KEY_TABLE.get(key);
  if (def === undefined || SPECIAL.has(answer)) return undefined;
  switch (def.result) {
    case 'list': {
      const offered = offer.split(',');
      return offered.includes(answer) ? undefined : `${key}=${answer} is not among the offered ${offer}`;
    }
    case 'min': {
      const o = num(offer);
      const a = num(answer);
      return o === undefined || a === undefined || a <= o
        ? undefined
        : `${key}=${answer} is above the offered ${offer} (Min)`;
    }
    case 'max': {
      const o = num(offer);
      const a = num(answer);
      return o === undefined || a === undefined || a >= o
        ? undefined
        : `${key}=${answer} is below the offered ${offer} (Max)`;
    }
    case 'and':
      return offer === 'No' && answer !== 'No'
        ? `${key}=${answer} answers an offer of No (AND: the result must be No)`
        : undefined;
    case 'or':
      return offer === 'Yes' && answer !== 'Yes'
        ? `${key}=${answer} answers an offer of Yes (OR: the result must be Yes)`
        : undefined;
    default:
      return undefined;
  }
}

/** Works the negotiation out of a login's PDUs. */
export function wireNegotiation(pdus: readonly RecordedPdu[]): WireNegotiation {
  const texts = loginTexts(pdus);
  const results = new Map<string, KeyResult>();
  const pending: Record<Side, Map<string, string>> = { initiator: new Map(), target: new Map() };
  const findings: Finding[] = [];
  for (const text of texts) {
    const other: Side = text.by === 'initiator' ? 'target' : 'initiator';
    for (const { key, value } of text.pairs) {
      const def = KEY_TABLE.get(key);
      if (def === undefined || def.use === 'security' || def.result === 'exchange') continue;
      if (def.result === 'declarative') {
        results.set(key === 'MaxRecvDataSegmentLength' ? `${key}@${text.by}` : key, {
          value,
          how: 'declared',
          by: text.by,
        });
        continue;
      }
      const offer = pending[other].get(key);
      if (offer !== undefined) {
        pending[other].delete(key);
        const wrong = misfit(key, offer, value);
        if (wrong !== undefined) findings.push({ rfc: 'RFC 7143 §6.2', message: `${text.by} answered ${wrong}` });
        if (!SPECIAL.has(value)) results.set(key, { value, how: 'answered', by: text.by });
        continue;
      }
      pending[text.by].set(key, value);
    }
  }
  // No under AND or Yes under OR decides the result by itself, so its answer is optional (RFC 7143 §6.2.2).
  for (const by of ['initiator', 'target'] as const) {
    for (const [key, value] of pending[by]) {
      const result = KEY_TABLE.get(key)?.result;
      const decided = (result === 'and' && value === 'No') || (result === 'or' && value === 'Yes');
      if (!decided) continue;
      pending[by].delete(key);
      results.set(key, { value, how: 'implied', by });
    }
  }
  const unanswered = (['initiator', 'target'] as const).flatMap((by) =>
    [...pending[by]].map(([key, value]) => ({ key, value, by })),
  );
  return { results, unanswered, findings, texts };
}

/** How the session's parameters show each key (and under which transport it applies). */
const PARAM_VIEW: readonly (readonly [
  string,
  (p: NegotiatedParams) => string | number | boolean,
  'tcp' | 'iser' | 'both',
])[] = [
  ['HeaderDigest', (p) => p.headerDigest, 'tcp'],
  ['DataDigest', (p) => p.dataDigest, 'tcp'],
  ['MaxConnections', (p) => p.maxConnections, 'both'],
  ['InitialR2T', (p) => p.initialR2T, 'both'],
  ['ImmediateData', (p) => p.immediateData, 'both'],
  ['MaxBurstLength', (p) => p.maxBurstLength, 'both'],
  ['DefaultTime2Wait', (p) => p.defaultTime2Wait, 'both'],
  ['DefaultTime2Retain', (p) => p.defaultTime2Retain, 'both'],
  ['MaxOutstandingR2T', (p) => p.maxOutstandingR2T, 'both'],
  ['DataPDUInOrder', (p) => p.dataPduInOrder, 'both'],
  ['DataSequenceInOrder', (p) => p.dataSequenceInOrder, 'both'],
  ['ErrorRecoveryLevel', (p) => p.errorRecoveryLevel, 'both'],
  ['MaxRecvDataSegmentLength@initiator', (p) => p.maxRecvDataSegmentLength.initiator, 'tcp'],
  ['MaxRecvDataSegmentLength@target', (p) => p.maxRecvDataSegmentLength.target, 'tcp'],
  ['RDMAExtensions', (p) => p.rdmaExtensions, 'iser'],
  ['InitiatorRecvDataSegmentLength', (p) => p.initiatorRecvDataSegmentLength, 'iser'],
  ['TargetRecvDataSegmentLength', (p) => p.targetRecvDataSegmentLength, 'iser'],
];

function defaultOf(key: string): string | undefined {
  return KEY_TABLE.get(key.split('@')[0] ?? key)?.defaultValue;
}

function same(expected: string, actual: string | number | boolean): boolean {
  if (typeof actual === 'boolean') return expected === (actual ? 'Yes' : 'No');
  if (typeof actual === 'number') return num(expected) === actual;
  return expected === actual;
}

/** How a message names each way a value came to be. */
const WIRE_HOW: Record<KeyResult['how'], string> = {
  answered: 'agreed on',
  declared: 'declared',
  implied: 'decided by an unanswered offer of',
  default: 'left the default',
};

/** Compares what the session reports with what the wire negotiated; returns the first disagreement. */
export function compareWithSession(
  wire: WireNegotiation,
  params: NegotiatedParams,
  iser: boolean,
): Finding | undefined {
  const expected = (key: string): string | undefined => wire.results.get(key)?.value ?? defaultOf(key);
  for (const [key, view, transport] of PARAM_VIEW) {
    if (transport === 'tcp' && iser) continue;
    if (transport === 'iser' && !iser) continue;
    const value = expected(key);
    if (value === undefined) continue;
    const actual = view(params);
    if (!same(value, actual)) {
      const how = wire.results.get(key)?.how ?? 'default';
      return {
        rfc: 'RFC 7143 §6.2',
        message: `the session uses ${key}=${String(actual)} but the wire ${WIRE_HOW[how]} ${value}`,
      };
    }
  }
  // FirstBurstLength never exceeds MaxBurstLength (RFC 7143 §13.14); when InitialR2T=Yes and ImmediateData=No it
  // is irrelevant.
  if (!(params.initialR2T && !params.immediateData)) {
    const fbl = num(expected('FirstBurstLength') ?? '') ?? 65536;
    const want = Math.min(fbl, params.maxBurstLength);
    if (params.firstBurstLength !== want) {
      return {
        rfc: 'RFC 7143 §13.14',
        message: `the session uses FirstBurstLength=${params.firstBurstLength} but the wire gives min(${fbl}, MaxBurstLength ${params.maxBurstLength}) = ${want}`,
      };
    }
  }
  if (iser && (params.headerDigest !== 'None' || params.dataDigest !== 'None')) {
    return {
      rfc: 'RFC 7145 §6.1',
      message: `under iSER the session uses HeaderDigest=${params.headerDigest} DataDigest=${params.dataDigest}; RDMAExtensions=Yes makes both None`,
    };
  }
  return undefined;
}
