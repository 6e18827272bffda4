/**
 * What one side wants from negotiation: its limits and preferences, and the names it declares. Unset fields
 * take the RFC default. {@link preferenceOf} turns a config into the value a key is offered or answered with.
 */
import { TextError } from './errors.js';
import { KEY_TABLE, MAX_ISCSI_NAME_BYTES, type KeyDefinition } from './keys.js';
import type { Digest, SessionType, TaskReporting } from './params.js';
import { MAX_SIMPLE_VALUE_BYTES, parseBoolean } from './values.js';

/** One side's limits and preferences. Lists are in order of preference; as a responder, any listed value is acceptable. */
export interface NegotiationConfig {
  /** SessionType the initiator declares (default Normal). */
  readonly sessionType?: SessionType;
  /** InitiatorName (an initiator must set it). */
  readonly initiatorName?: string;
  /** InitiatorAlias to declare. */
  readonly initiatorAlias?: string;
  /** TargetName the initiator logs in to (required for a normal session). */
  readonly targetName?: string;
  /** TargetAlias the target declares. */
  readonly targetAlias?: string;
  /** TargetPortalGroupTag the target declares (0..65535). */
  readonly targetPortalGroupTag?: number;
  /** HeaderDigest values, e.g. `['CRC32C', 'None']` (default `['None']`). */
  readonly headerDigest?: readonly Digest[];
  /** DataDigest values (default `['None']`). */
  readonly dataDigest?: readonly Digest[];
  /** MaxConnections (1..65535, default 1). */
  readonly maxConnections?: number;
  /** InitialR2T (default Yes). */
  readonly initialR2T?: boolean;
  /** ImmediateData (default Yes). */
  readonly immediateData?: boolean;
  /** The largest data segment we receive, declared as MaxRecvDataSegmentLength (512..2**24-1, default 8192). */
  readonly maxRecvDataSegmentLength?: number;
  /** MaxBurstLength (512..2**24-1, default 262144). */
  readonly maxBurstLength?: number;
  /** FirstBurstLength (512..2**24-1, default 65536, at most maxBurstLength). */
  readonly firstBurstLength?: number;
  /** DefaultTime2Wait seconds (0..3600, default 2). */
  readonly defaultTime2Wait?: number;
  /** DefaultTime2Retain seconds (0..3600, default 20). */
  readonly defaultTime2Retain?: number;
  /** MaxOutstandingR2T (1..65535, default 1). */
  readonly maxOutstandingR2T?: number;
  /** DataPDUInOrder (default Yes). */
  readonly dataPduInOrder?: boolean;
  /** DataSequenceInOrder (default Yes). */
  readonly dataSequenceInOrder?: boolean;
  /** ErrorRecoveryLevel (0..2, default 0). */
  readonly errorRecoveryLevel?: number;
  /** TaskReporting values (offered only when set). */
  readonly taskReporting?: readonly TaskReporting[];
  /** iSCSIProtocolLevel (0..31; offered only when set). */
  readonly iscsiProtocolLevel?: number;
  /** InitiatorRecvDataSegmentLength under iSER (default 8192). */
  readonly initiatorRecvDataSegmentLength?: number;
  /** TargetRecvDataSegmentLength under iSER (default 8192). */
  readonly targetRecvDataSegmentLength?: number;
  /** MaxOutstandingUnexpectedPDUs we can receive under iSER (0 = no limit, or 2..2**32-1; declared only when set). */
  readonly maxOutstandingUnexpectedPdus?: number;
  /** MaxAHSLength an iSER initiator declares (declared only when set). */
  readonly maxAhsLength?: number;
  /** TaggedBufferForSolicitedDataOnly an iSER initiator declares (declared only when set). */
  readonly taggedBufferForSolicitedDataOnly?: boolean;
  /** iSERHelloRequired an iSER initiator declares (declared only when set). */
  readonly iserHelloRequired?: boolean;
  /** X#NodeArchitecture items to declare. */
  readonly nodeArchitecture?: readonly string[];
}

/** The value one side brings to a negotiation of a key. */
export type Preference =
  | { readonly kind: 'list'; readonly values: readonly string[] }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'number'; readonly value: number };

/** How each negotiable key reads its preference from a config. */
const configField: ReadonlyMap<string, keyof NegotiationConfig> = new Map<string, keyof NegotiationConfig>(
  Object.entries({
    HeaderDigest: 'headerDigest',
    DataDigest: 'dataDigest',
    MaxConnections: 'maxConnections',
    InitialR2T: 'initialR2T',
    ImmediateData: 'immediateData',
    MaxBurstLength: 'maxBurstLength',
    FirstBurstLength: 'firstBurstLength',
    DefaultTime2Wait: 'defaultTime2Wait',
    DefaultTime2Retain: 'defaultTime2Retain',
    MaxOutstandingR2T: 'maxOutstandingR2T',
    DataPDUInOrder: 'dataPduInOrder',
    DataSequenceInOrder: 'dataSequenceInOrder',
    ErrorRecoveryLevel: 'errorRecoveryLevel',
    TaskReporting: 'taskReporting',
    iSCSIProtocolLevel: 'iscsiProtocolLevel',
    InitiatorRecvDataSegmentLength: 'initiatorRecvDataSegmentLength',
    TargetRecvDataSegmentLength: 'targetRecvDataSegmentLength',
    MaxRecvDataSegmentLength: 'maxRecvDataSegmentLength',
    MaxOutstandingUnexpectedPDUs: 'maxOutstandingUnexpectedPdus',
    MaxAHSLength: 'maxAhsLength',
    TaggedBufferForSolicitedDataOnly: 'taggedBufferForSolicitedDataOnly',
    iSERHelloRequired: 'iserHelloRequired',
  } as const),
);

/** The config field that holds the preference for `keyName`, if any. */
export function configFieldOf(keyName: string): keyof NegotiationConfig | undefined {
  return configField.get(keyName);
}

/** True when the config sets `keyName` explicitly (rather than leaving the RFC default). */
export function isConfigured(config: NegotiationConfig, keyName: string): boolean {
  const field = configField.get(keyName);
  return field !== undefined && config[field] !== undefined;
}

function defaultPreference(def: KeyDefinition): Preference | undefined {
  const text = def.defaultValue;
  if (text === undefined) return undefined;
  if (def.type === 'list') return { kind: 'list', values: [text] };
  if (def.type === 'boolean') return { kind: 'boolean', value: parseBoolean(text) ?? false };
  if (def.type === 'numerical') return { kind: 'number', value: Number(text) };
  return undefined;
}

/**
 * Our value for a negotiable key: the config's, else the RFC default. RDMAExtensions follows the transport:
 * Yes exactly when we run over iSER.
 */
export function preferenceOf(config: NegotiationConfig, keyName: string, iser: boolean): Preference | undefined {
  if (keyName === 'RDMAExtensions') return { kind: 'boolean', value: iser };
  // An unset FirstBurstLength must still respect a MaxBurstLength set below its default.
  if (keyName === 'FirstBurstLength' && config.firstBurstLength === undefined && config.maxBurstLength !== undefined) {
    return { kind: 'number', value: Math.min(65536, config.maxBurstLength) };
  }
  const def = KEY_TABLE.get(keyName);
  if (def === undefined) return undefined;
  const field = configField.get(keyName);
  const value = field === undefined ? undefined : config[field];
  if (value === undefined) return defaultPreference(def);
  if (Array.isArray(value)) return { kind: 'list', values: value as readonly string[] };
  if (typeof value === 'boolean') return { kind: 'boolean', value };
  if (typeof value === 'number') return { kind: 'number', value };
  return undefined;
}

/** Formats a preference as the value we offer. */
export function formatPreference(preference: Preference): string {
  switch (preference.kind) {
    case 'list':
      return preference.values.join(',');
    case 'boolean':
      return preference.value ? 'Yes' : 'No';
    case 'number':
      return String(preference.value);
  }
}

function bad(message: string): never {
  throw new TextError('ERR_TEXT_BAD_CONFIG', message);
}

/** True for a string usable as an iSCSI name value (RFC 7143 §4.2.7: at most 223 bytes, no spaces or controls). */
export function isIscsiName(value: string): boolean {
  return (
    value.length > 0 &&
    Buffer.byteLength(value, 'utf8') <= MAX_ISCSI_NAME_BYTES &&
    // eslint-disable-next-line no-control-regex
    !/[\s\u0000-\u001f\u007f,]/u.test(value)
  );
}

/** True for a string usable as an alias (iSCSI-local-name-value: UTF-8, no NUL, at most 255 bytes). */
export function isLocalName(value: string): boolean {
  return !value.includes('\0') && Buffer.byteLength(value, 'utf8') <= MAX_SIMPLE_VALUE_BYTES;
}

/** Throws {@link TextError} `ERR_TEXT_BAD_CONFIG` when a config value is outside what the RFC allows. */
export function validateConfig(config: NegotiationConfig): void {
  for (const [keyName, field] of configField) {
    const value = config[field];
    if (value === undefined) continue;
    const def = KEY_TABLE.get(keyName);
    if (def === undefined) continue;
    if (def.type === 'numerical' && def.range !== undefined) {
      const { min, max, orZero } = def.range;
      if (
        typeof value !== 'number' ||
        !Number.isInteger(value) ||
        ((value < min || value > max) && !(orZero && value === 0))
      ) {
        bad(`${field} must be an integer in ${min}..${max}${orZero ? ' or 0' : ''}`);
      }
    } else if (def.type === 'boolean') {
      if (typeof value !== 'boolean') bad(`${field} must be a boolean`);
    } else if (def.type === 'list') {
      if (!Array.isArray(value) || value.length === 0) bad(`${field} must be a non-empty list`);
      for (const item of value as readonly unknown[]) {
        if (typeof item !== 'string' || !(def.values ?? []).includes(item)) bad(`${field} holds an unknown value`);
      }
    }
  }
  const maxBurst = config.maxBurstLength ?? 262144;
  const firstBurst = config.firstBurstLength ?? Math.min(65536, maxBurst);
  if (firstBurst > maxBurst) bad('firstBurstLength must not exceed maxBurstLength (RFC 7143 §13.14)');
  for (const name of [config.initiatorName, config.targetName]) {
    if (name !== undefined && !isIscsiName(name)) bad(`invalid iSCSI name ${JSON.stringify(name)}`);
  }
  for (const alias of [config.initiatorAlias, config.targetAlias]) {
    if (alias !== undefined && !isLocalName(alias)) bad('an alias must be UTF-8 without NUL, at most 255 bytes');
  }
  if (config.targetPortalGroupTag !== undefined) {
    const tag = config.targetPortalGroupTag;
    if (!Number.isInteger(tag) || tag < 0 || tag > 65535) bad('targetPortalGroupTag must be in 0..65535');
  }
  for (const item of config.nodeArchitecture ?? []) {
    if (item.length === 0 || item.includes(',') || Buffer.byteLength(item, 'utf8') > MAX_SIMPLE_VALUE_BYTES) {
      bad('nodeArchitecture items must be non-empty, comma-free and at most 255 bytes');
    }
  }
}
