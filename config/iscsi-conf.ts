/**
 * FreeBSD's iscsi.conf(5): the initiator configuration `iser ctl` reads, one block per target under a nickname:
 *
 *   myiscsi {            # nickname
 *     TargetAddress = 10.0.0.1:3260
 *     TargetName    = iqn.2012-06.com.example:target0;
 *     AuthMethod    = CHAP
 *     chapIName     = user
 *     chapSecret    = "secretsecret"
 *   }
 *
 * Keys are case-insensitive and so are nicknames when looked up, as in iscsictl (flex -i, strcasecmp); a `;` after
 * a value is optional. Defaults and cross-checks follow iscsictl's conf_verify(): TargetAddress is always required,
 * TargetName for Normal sessions and forbidden for Discovery ones, AuthMethod becomes CHAP when any CHAP key is
 * set, CHAP needs chapIName and chapSecret, mutual CHAP needs both tgtChap keys. Obsolete keys iscsictl ignores
 * (Port, MaxConnections, ...) are accepted with a warning. Problems are reported as `file:line:column: message`:
 * syntax errors stop at the first, other problems are all collected.
 */
import { isTargetNodeName } from '../protocol/target/validate.js';
import { isIscsiName } from '../protocol/text/config.js';
import {
  type ConfigErrorCode,
  ConfigError,
  type ConfigIssue,
  type ConfigWarning,
  type SourcePosition,
} from './errors.js';
import { type ConfToken, tokenizeIscsiConf } from './iscsi-conf-lexer.js';
import {
  type Parsed,
  parseChoice,
  parseDscp,
  parseInteger,
  parseSwitch,
  parseTargetAddress,
  type TargetPortal,
} from './iscsi-conf-values.js';

/** AuthMethod values. */
export type AuthMethod = 'None' | 'CHAP';
/** HeaderDigest and DataDigest values. */
export type DigestChoice = 'None' | 'CRC32C';
/** SessionType values. */
export type SessionType = 'Normal' | 'Discovery';
/** Protocol values (iscsictl compares them case-insensitively and stores these spellings). */
export type TransportProtocol = 'iscsi' | 'iser';

/** One target block of iscsi.conf, with iscsictl's defaults applied. */
export interface IscsiConfTarget {
  /** The block's name, as written. */
  readonly nickname: string;
  /** TargetName (absent for Discovery sessions). */
  readonly targetName?: string;
  /** TargetAddress as written. */
  readonly targetAddress: string;
  /** TargetAddress parsed (port default 3260). */
  readonly portal: TargetPortal;
  /** InitiatorName; absent means the daemon's default (iscsictl: iqn.1994-09.org.freebsd:<hostname>). */
  readonly initiatorName?: string;
  /** InitiatorAddress: local address to connect from. */
  readonly initiatorAddress?: string;
  /** InitiatorAlias. */
  readonly initiatorAlias?: string;
  /** AuthMethod (CHAP when unset and any CHAP key is given, else None). */
  readonly authMethod: AuthMethod;
  /** chapIName: our CHAP user name. */
  readonly chapIName?: string;
  /** chapSecret: our CHAP secret. */
  readonly chapSecret?: string;
  /** tgtChapName: the name the target must answer mutual CHAP with. */
  readonly tgtChapName?: string;
  /** tgtChapSecret: the target's secret for mutual CHAP. */
  readonly tgtChapSecret?: string;
  /** HeaderDigest (default None). */
  readonly headerDigest: DigestChoice;
  /** DataDigest (default None). */
  readonly dataDigest: DigestChoice;
  /** SessionType (default Normal). */
  readonly sessionType: SessionType;
  /** Protocol (default iscsi). */
  readonly protocol: TransportProtocol;
  /** Offload: name of a hardware offload driver. */
  readonly offload?: string;
  /** Enable (default on). */
  readonly enable: boolean;
  /** dscp: DiffServ codepoint, 0..63. */
  readonly dscp?: number;
  /** pcp: 802.1Q priority, 0..7. */
  readonly pcp?: number;
  /** PingTimeout in seconds. */
  readonly pingTimeout?: number;
  /** LoginTimeout in seconds. */
  readonly loginTimeout?: number;
}

/** A parsed iscsi.conf. */
export interface IscsiConf {
  /** Target blocks in file order. */
  readonly targets: readonly IscsiConfTarget[];
  /** Accepted oddities (obsolete keys, names not in iqn./eui./naa. form). */
  readonly warnings: readonly ConfigWarning[];
}

/** Largest iscsi.conf read (far beyond any real one; keeps hostile input bounded). */
export const MAX_ISCSI_CONF_BYTES = 1024 * 1024;
/** Longest value of any key. */
export const MAX_VALUE_LENGTH = 1024;
/** Largest PingTimeout / LoginTimeout accepted, in seconds. */
const MAX_TIMEOUT = 2_147_483_647;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Draft = Partial<Mutable<IscsiConfTarget>>;

interface KeySpec {
  /** Canonical spelling (as the man page writes it). */
  readonly name: string;
  /** Applies a value to the draft, or returns a message saying what is accepted. */
  readonly apply: (draft: Draft, value: string) => string | undefined;
}

function set<T>(parsed: Parsed<T>, assign: (value: T) => void): string | undefined {
  if (!parsed.ok) return parsed.message;
  assign(parsed.value);
  return undefined;
}

function iscsiName(what: string, assign: (draft: Draft, value: string) => void): KeySpec['apply'] {
  return (draft, value) => {
    if (!isIscsiName(value)) return `${what} "${value}" is not a valid iSCSI name (at most 223 bytes, no spaces)`;
    assign(draft, value);
    return undefined;
  };
}

const KEYS: readonly KeySpec[] = [
  { name: 'TargetName', apply: iscsiName('TargetName', (d, v) => (d.targetName = v)) },
  {
    name: 'TargetAddress',
    apply: (d, v) =>
      set(parseTargetAddress(v), (portal) => {
        d.targetAddress = v;
        d.portal = portal;
      }),
  },
  { name: 'InitiatorName', apply: iscsiName('InitiatorName', (d, v) => (d.initiatorName = v)) },
  { name: 'InitiatorAddress', apply: (d, v) => void (d.initiatorAddress = v) },
  { name: 'InitiatorAlias', apply: (d, v) => void (d.initiatorAlias = v) },
  {
    name: 'AuthMethod',
    apply: (d, v) => set(parseChoice(v, ['None', 'CHAP'] as const, 'AuthMethod'), (x) => (d.authMethod = x)),
  },
  { name: 'chapIName', apply: (d, v) => void (d.chapIName = v) },
  { name: 'chapSecret', apply: (d, v) => void (d.chapSecret = v) },
  { name: 'tgtChapName', apply: (d, v) => void (d.tgtChapName = v) },
  { name: 'tgtChapSecret', apply: (d, v) => void (d.tgtChapSecret = v) },
  {
    name: 'HeaderDigest',
    apply: (d, v) => set(parseChoice(v, ['None', 'CRC32C'] as const, 'HeaderDigest'), (x) => (d.headerDigest = x)),
  },
  {
    name: 'DataDigest',
    apply: (d, v) => set(parseChoice(v, ['None', 'CRC32C'] as const, 'DataDigest'), (x) => (d.dataDigest = x)),
  },
  {
    name: 'SessionType',
    apply: (d, v) => set(parseChoice(v, ['Normal', 'Discovery'] as const, 'SessionType'), (x) => (d.sessionType = x)),
  },
  {
    name: 'Protocol',
    apply: (d, v) => set(parseChoice(v, ['iscsi', 'iser'] as const, 'Protocol'), (x) => (d.protocol = x)),
  },
  { name: 'Offload', apply: (d, v) => void (d.offload = v) },
  { name: 'Enable', apply: (d, v) => set(parseSwitch(v), (x) => (d.enable = x)) },
  { name: 'dscp', apply: (d, v) => set(parseDscp(v), (x) => (d.dscp = x)) },
  { name: 'pcp', apply: (d, v) => set(parseInteger(v, 0, 7, 'pcp'), (x) => (d.pcp = x)) },
  {
    name: 'PingTimeout',
    apply: (d, v) => set(parseInteger(v, 1, MAX_TIMEOUT, 'PingTimeout'), (x) => (d.pingTimeout = x)),
  },
  {
    name: 'LoginTimeout',
    apply: (d, v) => set(parseInteger(v, 1, MAX_TIMEOUT, 'LoginTimeout'), (x) => (d.loginTimeout = x)),
  },
];

/** Keys iscsictl accepts and ignores ("obsolete statement ignored"). */
const OBSOLETE = [
  'Port',
  'MaxConnections',
  'TargetAlias',
  'TargetPortalGroupTag',
  'InitialR2T',
  'ImmediateData',
  'MaxRecvDataSegmentLength',
  'MaxBurstLength',
  'FirstBurstLength',
  'DefaultTime2Wait',
  'DefaultTime2Retain',
  'MaxOutstandingR2T',
  'DataPDUInOrder',
  'DataSequenceInOrder',
  'ErrorRecoveryLevel',
  'tags',
  'maxluns',
  'sockbufsize',
  'chapDigest',
];

const KEY_BY_LOWER = new Map(KEYS.map((key) => [key.name.toLowerCase(), key]));
const OBSOLETE_BY_LOWER = new Map(OBSOLETE.map((name) => [name.toLowerCase(), name]));

/** The iscsi.conf keys this parser knows, in their canonical spelling (for printing and help). */
export const ISCSI_CONF_KEYS: readonly string[] = KEYS.map((key) => key.name);

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

function suggestion(key: string): string {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of ISCSI_CONF_KEYS) {
    const distance = editDistance(lower, name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best === undefined ? '' : ` (did you mean ${best}?)`;
}

interface BlockSource {
  readonly nickname: ConfToken & { kind: 'word' };
  readonly entries: readonly {
    readonly key: ConfToken & { kind: 'word' };
    readonly value: ConfToken & { kind: 'word' };
  }[];
}

/** Parses iscsi.conf text. Throws {@link ConfigError} listing every problem, each as `file:line:column: message`. */
export function parseIscsiConf(text: string, file = 'iscsi.conf'): IscsiConf {
  if (text.length > MAX_ISCSI_CONF_BYTES) {
    throw new ConfigError(file, {
      issues: [
        {
          code: 'ERR_CONFIG_TOO_LARGE',
          line: 1,
          column: 1,
          message: `file is larger than ${MAX_ISCSI_CONF_BYTES} bytes`,
        },
      ],
    });
  }
  const blocks = parseBlocks(tokenizeIscsiConf(text, file), file);
  const issues: ConfigIssue[] = [];
  const warnings: ConfigWarning[] = [];
  const seen = new Map<string, SourcePosition>();
  const targets: IscsiConfTarget[] = [];
  for (const block of blocks) {
    const lower = block.nickname.text.toLowerCase();
    const first = seen.get(lower);
    if (first !== undefined) {
      issues.push(
        issue(
          'ERR_CONFIG_DUPLICATE',
          block.nickname,
          `duplicate nickname "${block.nickname.text}" (first defined at line ${first.line})`,
        ),
      );
    } else {
      seen.set(lower, block.nickname);
    }
    const target = buildTarget(block, issues, warnings);
    if (target !== undefined) targets.push(target);
  }
  if (issues.length > 0) throw new ConfigError(file, { issues });
  return { targets, warnings };
}

/** The target with this nickname (compared case-insensitively, as iscsictl -n does). */
export function findTarget(conf: IscsiConf, nickname: string): IscsiConfTarget | undefined {
  const lower = nickname.toLowerCase();
  return conf.targets.find((target) => target.nickname.toLowerCase() === lower);
}

function issue(code: ConfigErrorCode, at: SourcePosition, message: string): ConfigIssue {
  return { code, line: at.line, column: at.column, message };
}

function describe(token: ConfToken): string {
  if (token.kind === 'eof') return 'end of file';
  if (token.kind === 'word') return `"${token.text}"`;
  return `'${token.kind}'`;
}

function parseBlocks(tokens: readonly ConfToken[], file: string): BlockSource[] {
  let at = 0;
  const peek = (offset = 0): ConfToken =>
    tokens[Math.min(at + offset, tokens.length - 1)] ?? { kind: 'eof', line: 1, column: 1 };
  // Annotated so that TypeScript narrows after calls to it.
  const fail: (token: ConfToken, message: string) => never = (token, message) => {
    throw new ConfigError(file, { issues: [issue('ERR_CONFIG_SYNTAX', token, message)] });
  };
  const blocks: BlockSource[] = [];
  for (;;) {
    const nickname = peek();
    if (nickname.kind === 'eof') return blocks;
    if (nickname.kind !== 'word')
      fail(nickname, `expected a nickname to start a target block, found ${describe(nickname)}`);
    const open = peek(1);
    if (open.kind !== '{') fail(open, `expected '{' after nickname ${describe(nickname)}, found ${describe(open)}`);
    at += 2;
    const entries: BlockSource['entries'][number][] = [];
    for (;;) {
      const key = peek();
      if (key.kind === '}') {
        at++;
        break;
      }
      if (key.kind === 'eof') {
        fail(open, `missing '}' to close "${nickname.text}" (the file ends at line ${key.line})`);
      }
      if (key.kind !== 'word' || key.quoted) fail(key, `expected a key, found ${describe(key)}`);
      const equals = peek(1);
      if (equals.kind === '{') {
        fail(
          key,
          `missing '}' to close "${nickname.text}" (opened at line ${open.line}) before the block "${key.text}"`,
        );
      }
      if (equals.kind !== '=') fail(equals, `expected '=' after ${describe(key)}, found ${describe(equals)}`);
      const value = peek(2);
      if (value.kind !== 'word') fail(value, `expected a value for ${describe(key)}, found ${describe(value)}`);
      at += 3;
      if (peek().kind === ';') at++;
      entries.push({ key, value });
    }
    blocks.push({ nickname, entries });
  }
}

function buildTarget(
  block: BlockSource,
  issues: ConfigIssue[],
  warnings: ConfigWarning[],
): IscsiConfTarget | undefined {
  const draft: Draft = {};
  const setAt = new Map<string, SourcePosition>();
  const before = issues.length;
  for (const { key, value } of block.entries) {
    const lower = key.text.toLowerCase();
    const spec = KEY_BY_LOWER.get(lower);
    if (spec === undefined) {
      const obsolete = OBSOLETE_BY_LOWER.get(lower);
      if (obsolete === undefined) {
        issues.push(issue('ERR_CONFIG_UNKNOWN_KEY', key, `unknown key "${key.text}"${suggestion(key.text)}`));
      } else {
        const hint = obsolete === 'Port' ? '; give the port in TargetAddress (address:port)' : '';
        warnings.push({ line: key.line, column: key.column, message: `obsolete key "${key.text}" ignored${hint}` });
      }
      continue;
    }
    const first = setAt.get(spec.name);
    if (first !== undefined) {
      issues.push(issue('ERR_CONFIG_DUPLICATE', key, `duplicated ${spec.name} (first set at line ${first.line})`));
      continue;
    }
    setAt.set(spec.name, key);
    if (value.text.length > MAX_VALUE_LENGTH) {
      issues.push(issue('ERR_CONFIG_VALUE', value, `${spec.name} is longer than ${MAX_VALUE_LENGTH} characters`));
      continue;
    }
    const problem = spec.apply(draft, value.text);
    if (problem !== undefined) issues.push(issue('ERR_CONFIG_VALUE', value, problem));
  }
  if (issues.length > before) return undefined;
  return verify(block.nickname, draft, setAt, issues, warnings);
}

/** iscsictl's conf_verify(): defaults and cross-checks of one block. */
function verify(
  nickname: ConfToken & { kind: 'word' },
  draft: Draft,
  setAt: ReadonlyMap<string, SourcePosition>,
  issues: ConfigIssue[],
  warnings: ConfigWarning[],
): IscsiConfTarget | undefined {
  const name = nickname.text;
  const missing = (message: string, at: SourcePosition = nickname): void => {
    issues.push(issue('ERR_CONFIG_MISSING', at, message));
  };
  const sessionType = draft.sessionType ?? 'Normal';
  if (sessionType === 'Normal' && draft.targetName === undefined) missing(`missing TargetName for target "${name}"`);
  if (sessionType === 'Discovery' && draft.targetName !== undefined) {
    issues.push(
      issue(
        'ERR_CONFIG_VALUE',
        setAt.get('TargetName') ?? nickname,
        `cannot specify TargetName for discovery session "${name}"`,
      ),
    );
  }
  if (draft.targetAddress === undefined || draft.portal === undefined)
    missing(`missing TargetAddress for target "${name}"`);
  const anyChap = [draft.chapIName, draft.chapSecret, draft.tgtChapName, draft.tgtChapSecret].some(
    (v) => v !== undefined,
  );
  const authMethod = draft.authMethod ?? (anyChap ? 'CHAP' : 'None');
  if (authMethod === 'CHAP') {
    const at = setAt.get('AuthMethod') ?? nickname;
    if (draft.chapIName === undefined) missing(`missing chapIName for target "${name}"`, at);
    if (draft.chapSecret === undefined) missing(`missing chapSecret for target "${name}"`, at);
    if (draft.tgtChapName !== undefined && draft.tgtChapSecret === undefined) {
      missing(`missing tgtChapSecret for target "${name}"`, setAt.get('tgtChapName') ?? at);
    }
    if (draft.tgtChapSecret !== undefined && draft.tgtChapName === undefined) {
      missing(`missing tgtChapName for target "${name}"`, setAt.get('tgtChapSecret') ?? at);
    }
  }
  for (const [key, value] of [
    ['TargetName', draft.targetName],
    ['InitiatorName', draft.initiatorName],
  ] as const) {
    const at = setAt.get(key);
    if (value !== undefined && at !== undefined && !isTargetNodeName(value)) {
      warnings.push({ ...at, message: `${key} "${value}" is not in iqn., eui. or naa. form` });
    }
  }
  if (draft.targetAddress === undefined || draft.portal === undefined) return undefined;
  const target: Mutable<IscsiConfTarget> = {
    nickname: name,
    targetAddress: draft.targetAddress,
    portal: draft.portal,
    authMethod,
    headerDigest: draft.headerDigest ?? 'None',
    dataDigest: draft.dataDigest ?? 'None',
    sessionType,
    protocol: draft.protocol ?? 'iscsi',
    enable: draft.enable ?? true,
  };
  const optional = [
    'targetName',
    'initiatorName',
    'initiatorAddress',
    'initiatorAlias',
    'chapIName',
    'chapSecret',
    'tgtChapName',
    'tgtChapSecret',
    'offload',
    'dscp',
    'pcp',
    'pingTimeout',
    'loginTimeout',
  ] as const;
  for (const key of optional) {
    const value = draft[key];
    if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  }
  return target;
}
