/**
 * The key table: every key of RFC 7143 §12 (security) and §13 (operational), and of RFC 7145 §6 (iSER), with
 * the facts negotiation needs: value type, default, range, result function, use, senders, scope, and when the
 * key is irrelevant.
 *
 * Vocabulary of RFC 7143 §13: Use LO = leading connection only, IO = initialize only (login of any
 * connection), FFPO = full feature phase only, ALL = login or full feature phase. Scope SW = session-wide,
 * CO = connection-only. A declarative key is stated by its sender and never answered.
 */

/** How a value is written and interpreted. */
export type KeyValueType =
  /** `Yes` / `No`. */
  | 'boolean'
  /** A numerical-value within {@link KeyDefinition.range}. */
  | 'numerical'
  /** A list-of-values; the responder picks the first it supports. */
  | 'list'
  /** One of a fixed set of literal constants ({@link KeyDefinition.values}). */
  | 'enum'
  /** An iSCSI name (RFC 7143 §4.2.7). */
  | 'iscsi-name'
  /** An iSCSI-local-name-value: any UTF-8 without NUL, for aliases. */
  | 'local-name'
  /** A text-value interpreted by a higher layer (SendTargets, TargetAddress, security keys). */
  | 'text'
  /** A large-binary-value (hex or base64) of at most {@link KeyDefinition.maxBinaryBytes}. */
  | 'binary';

/** How the result of a negotiation is computed from the two values (RFC 7143 §6.2). */
export type ResultFunction =
  /** Boolean AND: `No` wins. */
  | 'and'
  /** Boolean OR: `Yes` wins. */
  | 'or'
  /** The smaller number. */
  | 'min'
  /** The larger number. */
  | 'max'
  /** The first value of the originator's list the responder supports. */
  | 'list'
  /** No negotiation: the sender states its value. */
  | 'declarative'
  /** Handled outside negotiation: security exchanges (RFC 7143 §12) and SendTargets. */
  | 'exchange';

/** When a key may be sent (RFC 7143 §13 "Use"). */
export type KeyUse =
  /** LO: in the login of the leading connection only. */
  | 'leading-only'
  /** IO: in the login of any connection. */
  | 'initialize-only'
  /** FFPO: in full feature phase only. */
  | 'full-feature-only'
  /** ALL: in login or full feature phase. */
  | 'all'
  /** The SecurityNegotiation stage of login only (RFC 7143 §12). */
  | 'security';

/** Who may send a key (RFC 7143 §13 "Senders"). */
export type KeySenders = 'initiator' | 'target' | 'both';

/** Where a negotiated value applies (RFC 7143 §13 "Scope"). */
export type KeyScope = 'session' | 'connection';

/** A condition under which a key is irrelevant (RFC 7143 §13 and RFC 7145 §6 "Irrelevant when"). */
export type IrrelevanceCondition =
  /** SessionType=Discovery. */
  | 'discovery'
  /** RDMAExtensions=Yes: iSER replaces or forbids the key. */
  | 'rdma-extensions'
  /** RDMAExtensions=No: the key is an iSER key. */
  | 'no-rdma-extensions';

/** Everything the stack knows about one key. */
export interface KeyDefinition {
  /** The key name, exactly as on the wire. */
  readonly name: string;
  /** How the value is written. */
  readonly type: KeyValueType;
  /** How the result is computed. */
  readonly result: ResultFunction;
  /** When it may be sent. */
  readonly use: KeyUse;
  /** Who may send it. */
  readonly senders: KeySenders;
  /** Session-wide or connection-only. */
  readonly scope: KeyScope;
  /** The value in force when the key is never negotiated, as it would be written on the wire. */
  readonly defaultValue: string | undefined;
  /** Inclusive numeric bounds for numerical keys. */
  readonly range?: { readonly min: number; readonly max: number; readonly orZero?: boolean };
  /** The literal values the RFC defines, for list and enum keys. */
  readonly values?: readonly string[];
  /** Conditions under which the key is irrelevant. */
  readonly irrelevantWhen: readonly IrrelevanceCondition[];
  /** Longest encoded value accepted, in bytes. */
  readonly maxValueBytes: number;
  /** Longest decoded binary value, for binary keys. */
  readonly maxBinaryBytes?: number;
  /** RFC 7143 §13.25: the key is obsolete and is answered with this constant. */
  readonly obsoleteAnswer?: 'Reject';
  /** The key may legitimately appear more than once (TargetAddress and TargetName in SendTargets answers). */
  readonly repeatable?: boolean;
  /** Where the RFC defines it. */
  readonly rfc: string;
}

/** 2**24 - 1: the largest data segment length (RFC 7143 §13.12). */
export const MAX_DATA_SEGMENT_LENGTH = 0xff_ffff;
/** 2**32 - 1. */
const U32_MAX = 0xffff_ffff;
/** Longest iSCSI name, in bytes (RFC 7143 §4.2.7.1). */
export const MAX_ISCSI_NAME_BYTES = 223;
/** Longest challenge or response of CHAP, in bytes (RFC 7143 §12.1.3). */
export const MAX_CHAP_BINARY_BYTES = 1024;

const SIMPLE = 255;
/** Lists of short literals; each item is still bounded by 255 (values.ts). */
const LIST = 4096;
/** A large-binary-value of n bytes is at most `0x` + 2n hex digits long. */
const hexBytes = (n: number): number => 2 + 2 * n;

type Spec = Omit<KeyDefinition, 'irrelevantWhen' | 'maxValueBytes' | 'defaultValue'> &
  Partial<Pick<KeyDefinition, 'irrelevantWhen' | 'maxValueBytes' | 'defaultValue'>>;

function key(spec: Spec): KeyDefinition {
  return { irrelevantWhen: [], maxValueBytes: SIMPLE, defaultValue: undefined, ...spec };
}

const securityKey = (name: string, type: KeyValueType, extra: Partial<Spec> = {}): KeyDefinition =>
  key({
    name,
    type,
    result: 'exchange',
    use: 'security',
    senders: 'both',
    scope: 'connection',
    rfc: 'RFC 7143 §12',
    ...extra,
  });

const chapBinary = { maxBinaryBytes: MAX_CHAP_BINARY_BYTES, maxValueBytes: hexBytes(MAX_CHAP_BINARY_BYTES) };
/** SRP values grow with the group: 8192-bit MODP is 1024 bytes (RFC 3723). */
const srpBinary = { maxBinaryBytes: 1024, maxValueBytes: hexBytes(1024) };
/** Kerberos AP messages carry tickets; RFC 7143 §6.1 asks for 64 KiB of text when such methods are used. */
const krbBinary = { maxBinaryBytes: 16384, maxValueBytes: hexBytes(16384) };

const dataSegmentRange = { min: 512, max: MAX_DATA_SEGMENT_LENGTH };

const definitions: readonly KeyDefinition[] = [
  // RFC 7143 §12: security keys, exchanged by the login state machine's authentication methods.
  securityKey('AuthMethod', 'list', {
    values: ['KRB5', 'SRP', 'CHAP', 'None', 'SPKM1', 'SPKM2'],
    defaultValue: 'None',
    maxValueBytes: LIST,
    rfc: 'RFC 7143 §12.1',
  }),
  securityKey('CHAP_A', 'list', { maxValueBytes: LIST, rfc: 'RFC 7143 §12.1.3' }),
  securityKey('CHAP_I', 'numerical', { range: { min: 0, max: 255 }, rfc: 'RFC 7143 §12.1.3' }),
  securityKey('CHAP_C', 'binary', { ...chapBinary, rfc: 'RFC 7143 §12.1.3' }),
  securityKey('CHAP_N', 'text', { rfc: 'RFC 7143 §12.1.3' }),
  securityKey('CHAP_R', 'binary', { ...chapBinary, rfc: 'RFC 7143 §12.1.3' }),
  securityKey('SRP_U', 'text', { rfc: 'RFC 7143 §12.1.2' }),
  securityKey('SRP_GROUP', 'list', { maxValueBytes: LIST, rfc: 'RFC 7143 §12.1.2' }),
  securityKey('SRP_s', 'binary', { ...srpBinary, rfc: 'RFC 7143 §12.1.2' }),
  securityKey('SRP_A', 'binary', { ...srpBinary, rfc: 'RFC 7143 §12.1.2' }),
  securityKey('SRP_B', 'binary', { ...srpBinary, rfc: 'RFC 7143 §12.1.2' }),
  securityKey('SRP_M', 'binary', { ...srpBinary, rfc: 'RFC 7143 §12.1.2' }),
  securityKey('SRP_HM', 'binary', { ...srpBinary, rfc: 'RFC 7143 §12.1.2' }),
  securityKey('TargetAuth', 'boolean', { rfc: 'RFC 7143 §12.1.2' }),
  securityKey('KRB_AP_REQ', 'binary', { ...krbBinary, rfc: 'RFC 7143 §12.1.1' }),
  securityKey('KRB_AP_REP', 'binary', { ...krbBinary, rfc: 'RFC 7143 §12.1.1' }),

  // RFC 7143 §13: operational keys.
  ...['HeaderDigest', 'DataDigest'].map((name) =>
    key({
      name,
      type: 'list',
      result: 'list',
      use: 'initialize-only',
      senders: 'both',
      scope: 'connection',
      defaultValue: 'None',
      values: ['CRC32C', 'None'],
      maxValueBytes: LIST,
      // RFC 7145 §6.1: RDMAExtensions=Yes implies None and overrides an explicit setting.
      irrelevantWhen: ['rdma-extensions'],
      rfc: 'RFC 7143 §13.1, RFC 7145 §6.1',
    }),
  ),
  key({
    name: 'MaxConnections',
    type: 'numerical',
    result: 'min',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: '1',
    range: { min: 1, max: 65535 },
    irrelevantWhen: ['discovery'],
    rfc: 'RFC 7143 §13.2',
  }),
  key({
    name: 'SendTargets',
    type: 'text',
    result: 'exchange',
    use: 'full-feature-only',
    senders: 'initiator',
    scope: 'session',
    rfc: 'RFC 7143 §13.3',
  }),
  key({
    name: 'TargetName',
    type: 'iscsi-name',
    result: 'declarative',
    // IO by the initiator; FFPO by the target, only in answers to SendTargets (decoded by sendtargets.ts).
    use: 'initialize-only',
    senders: 'initiator',
    scope: 'session',
    repeatable: true,
    rfc: 'RFC 7143 §13.4',
  }),
  key({
    name: 'InitiatorName',
    type: 'iscsi-name',
    result: 'declarative',
    use: 'initialize-only',
    senders: 'initiator',
    scope: 'session',
    rfc: 'RFC 7143 §13.5',
  }),
  key({
    name: 'TargetAlias',
    type: 'local-name',
    result: 'declarative',
    use: 'all',
    senders: 'target',
    scope: 'session',
    rfc: 'RFC 7143 §13.6',
  }),
  key({
    name: 'InitiatorAlias',
    type: 'local-name',
    result: 'declarative',
    use: 'all',
    senders: 'initiator',
    scope: 'session',
    rfc: 'RFC 7143 §13.7',
  }),
  key({
    name: 'TargetAddress',
    type: 'text',
    result: 'declarative',
    use: 'all',
    senders: 'target',
    scope: 'session',
    repeatable: true,
    rfc: 'RFC 7143 §13.8',
  }),
  key({
    name: 'TargetPortalGroupTag',
    type: 'numerical',
    result: 'declarative',
    use: 'initialize-only',
    senders: 'target',
    scope: 'session',
    range: { min: 0, max: 65535 },
    rfc: 'RFC 7143 §13.9',
  }),
  key({
    name: 'InitialR2T',
    type: 'boolean',
    result: 'or',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: 'Yes',
    irrelevantWhen: ['discovery'],
    rfc: 'RFC 7143 §13.10',
  }),
  key({
    name: 'ImmediateData',
    type: 'boolean',
    result: 'and',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: 'Yes',
    irrelevantWhen: ['discovery'],
    rfc: 'RFC 7143 §13.11',
  }),
  key({
    name: 'MaxRecvDataSegmentLength',
    type: 'numerical',
    result: 'declarative',
    use: 'all',
    senders: 'both',
    scope: 'connection',
    defaultValue: '8192',
    range: dataSegmentRange,
    // RFC 7145 §6.2: under iSER the two RecvDataSegmentLength keys replace it, even when it is declared.
    irrelevantWhen: ['rdma-extensions'],
    rfc: 'RFC 7143 §13.12, RFC 7145 §6.2',
  }),
  key({
    name: 'MaxBurstLength',
    type: 'numerical',
    result: 'min',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: '262144',
    range: dataSegmentRange,
    irrelevantWhen: ['discovery'],
    rfc: 'RFC 7143 §13.13',
  }),
  key({
    name: 'FirstBurstLength',
    type: 'numerical',
    result: 'min',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: '65536',
    range: dataSegmentRange,
    // Also irrelevant when InitialR2T=Yes and ImmediateData=No; it is still negotiated then (harmless).
    irrelevantWhen: ['discovery'],
    rfc: 'RFC 7143 §13.14',
  }),
  key({
    name: 'DefaultTime2Wait',
    type: 'numerical',
    result: 'max',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: '2',
    range: { min: 0, max: 3600 },
    rfc: 'RFC 7143 §13.15',
  }),
  key({
    name: 'DefaultTime2Retain',
    type: 'numerical',
    result: 'min',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: '20',
    range: { min: 0, max: 3600 },
    rfc: 'RFC 7143 §13.16',
  }),
  key({
    name: 'MaxOutstandingR2T',
    type: 'numerical',
    result: 'min',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: '1',
    range: { min: 1, max: 65535 },
    irrelevantWhen: ['discovery'],
    rfc: 'RFC 7143 §13.17',
  }),
  key({
    name: 'DataPDUInOrder',
    type: 'boolean',
    result: 'or',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: 'Yes',
    irrelevantWhen: ['discovery'],
    rfc: 'RFC 7143 §13.18',
  }),
  key({
    name: 'DataSequenceInOrder',
    type: 'boolean',
    result: 'or',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: 'Yes',
    irrelevantWhen: ['discovery'],
    rfc: 'RFC 7143 §13.19',
  }),
  key({
    name: 'ErrorRecoveryLevel',
    type: 'numerical',
    result: 'min',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: '0',
    range: { min: 0, max: 2 },
    rfc: 'RFC 7143 §13.20',
  }),
  key({
    name: 'SessionType',
    type: 'enum',
    result: 'declarative',
    use: 'leading-only',
    senders: 'initiator',
    scope: 'session',
    defaultValue: 'Normal',
    values: ['Discovery', 'Normal'],
    rfc: 'RFC 7143 §13.21',
  }),
  key({
    name: 'TaskReporting',
    type: 'list',
    result: 'list',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: 'RFC3720',
    values: ['RFC3720', 'ResponseFence', 'FastAbort'],
    maxValueBytes: LIST,
    irrelevantWhen: ['discovery'],
    rfc: 'RFC 7143 §13.23',
  }),
  key({
    name: 'iSCSIProtocolLevel',
    type: 'numerical',
    result: 'min',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: '1',
    range: { min: 0, max: 31 },
    irrelevantWhen: ['discovery'],
    rfc: 'RFC 7143 §13.24',
  }),
  // RFC 7143 §13.25: obsolete marker keys; IFMarker/OFMarker SHOULD, IFMarkInt/OFMarkInt MUST get Reject.
  ...['IFMarker', 'OFMarker'].map((name) =>
    key({
      name,
      type: 'boolean',
      result: 'and',
      use: 'initialize-only',
      senders: 'both',
      scope: 'connection',
      defaultValue: 'No',
      obsoleteAnswer: 'Reject',
      rfc: 'RFC 7143 §13.25',
    }),
  ),
  ...['IFMarkInt', 'OFMarkInt'].map((name) =>
    key({
      name,
      type: 'text',
      result: 'exchange',
      use: 'initialize-only',
      senders: 'both',
      scope: 'connection',
      obsoleteAnswer: 'Reject',
      rfc: 'RFC 7143 §13.25',
    }),
  ),
  key({
    name: 'X#NodeArchitecture',
    type: 'list',
    result: 'declarative',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    maxValueBytes: LIST,
    rfc: 'RFC 7143 §13.26',
  }),

  // RFC 7145 §6: iSER keys.
  key({
    name: 'RDMAExtensions',
    type: 'boolean',
    result: 'and',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: 'No',
    irrelevantWhen: ['discovery'],
    rfc: 'RFC 7145 §6.3',
  }),
  key({
    name: 'TargetRecvDataSegmentLength',
    type: 'numerical',
    result: 'min',
    use: 'initialize-only',
    senders: 'both',
    scope: 'connection',
    defaultValue: '8192',
    range: dataSegmentRange,
    irrelevantWhen: ['no-rdma-extensions', 'discovery'],
    rfc: 'RFC 7145 §6.4',
  }),
  key({
    name: 'InitiatorRecvDataSegmentLength',
    type: 'numerical',
    result: 'min',
    use: 'initialize-only',
    senders: 'both',
    scope: 'connection',
    defaultValue: '8192',
    range: dataSegmentRange,
    irrelevantWhen: ['no-rdma-extensions', 'discovery'],
    rfc: 'RFC 7145 §6.5',
  }),
  key({
    name: 'MaxOutstandingUnexpectedPDUs',
    type: 'numerical',
    result: 'declarative',
    use: 'leading-only',
    senders: 'both',
    scope: 'session',
    defaultValue: '0',
    // 0 declares no limit; otherwise 2..2**32-1.
    range: { min: 2, max: U32_MAX, orZero: true },
    irrelevantWhen: ['no-rdma-extensions', 'discovery'],
    rfc: 'RFC 7145 §6.7',
  }),
  key({
    name: 'MaxAHSLength',
    type: 'numerical',
    result: 'declarative',
    use: 'leading-only',
    senders: 'initiator',
    scope: 'session',
    defaultValue: '256',
    range: { min: 0, max: U32_MAX },
    irrelevantWhen: ['no-rdma-extensions', 'discovery'],
    rfc: 'RFC 7145 §6.8',
  }),
  key({
    name: 'TaggedBufferForSolicitedDataOnly',
    type: 'boolean',
    result: 'declarative',
    use: 'leading-only',
    senders: 'initiator',
    scope: 'session',
    defaultValue: 'No',
    irrelevantWhen: ['no-rdma-extensions', 'discovery'],
    rfc: 'RFC 7145 §6.9',
  }),
  key({
    name: 'iSERHelloRequired',
    type: 'boolean',
    result: 'declarative',
    use: 'leading-only',
    senders: 'initiator',
    scope: 'session',
    defaultValue: 'No',
    irrelevantWhen: ['no-rdma-extensions', 'discovery'],
    rfc: 'RFC 7145 §6.10',
  }),
];

/** Every key this stack knows, by name. */
export const KEY_TABLE: ReadonlyMap<string, KeyDefinition> = new Map(definitions.map((d) => [d.name, d]));

/** The definition of `name`, or undefined for a key this stack does not know. */
export function lookupKey(name: string): KeyDefinition | undefined {
  return KEY_TABLE.get(name);
}

/** True for private (`X-`) and public (`X#`) extension keys (RFC 7143 §6.2, §13.22). */
export function isExtensionKey(name: string): boolean {
  return name.startsWith('X-') || name.startsWith('X#');
}

/** Longest value accepted for `name`: the key's own bound, or 255 bytes for unknown keys (RFC 7143 §6.1). */
export function maxValueBytesFor(name: string): number {
  return KEY_TABLE.get(name)?.maxValueBytes ?? SIMPLE;
}
