/**
 * The configuration file of `iser target -c target.yaml`: portals (TCP and iSER), target nodes with their LUNs
 * (backend spec strings such as `mem:256M` or `file:/srv/lun0.img:1G`), initiator ACLs, CHAP (one-way and mutual),
 * digest preferences, discovery, metrics and logging. Read with `yaml` (keeping node positions) and checked with
 * `zod`; every problem is reported as `file:line:column: message` at the YAML node it concerns. See
 * `config/examples/target.yaml`.
 */
import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { z } from 'zod';
import { parseBackendSpec } from '../backends/spec.js';
import { isIserError } from '../protocol/errors.js';
import { MAX_FLAT_LUN } from '../protocol/scsi/lun.js';
import { isTargetNodeName } from '../protocol/target/validate.js';
import { isIscsiName } from '../protocol/text/config.js';
import type { ConfigWarning } from './errors.js';
import { parseYamlWithSchema } from './yaml-schema.js';

/** Log levels (pino's). */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
/** A digest an end may use. */
export type DigestName = 'None' | 'CRC32C';
/** Verbs providers an iSER portal can run on. */
export type IserProvider = 'native' | 'softroce-udp' | 'sim';

/** A CHAP user name and secret. */
export interface ChapCredentials {
  /** CHAP name. */
  readonly user: string;
  /** CHAP secret. */
  readonly secret: string;
}

/** Initiators allowed in: any, or these iSCSI names. */
export type AllowedInitiators = 'any' | readonly string[];

/** A portal the target listens on. */
export type PortalSpec =
  | { readonly transport: 'tcp'; readonly host: string; readonly port: number }
  | { readonly transport: 'iser'; readonly host: string; readonly port: number; readonly provider: IserProvider };

/** One LUN: its number and the backend spec string it is served from. */
export interface LunSpec {
  /** LUN number (0..16383). */
  readonly lun: number;
  /** Backend spec, e.g. `mem:256M` or `file:/srv/lun0.img:1G` (already checked to parse). */
  readonly backend: string;
}

/** A target node. */
export interface TargetSpec {
  /** The target's iSCSI name (iqn., eui. or naa.). */
  readonly iqn: string;
  /** TargetAlias. */
  readonly alias?: string;
  /** LUNs in ascending order. */
  readonly luns: readonly LunSpec[];
  /** Initiators allowed to log in (default any). */
  readonly allowedInitiators: AllowedInitiators;
  /** CHAP the initiator must answer; none means no authentication. */
  readonly chap?: ChapCredentials;
  /** Credentials the target answers mutual CHAP with (needs `chap`). */
  readonly mutualChap?: ChapCredentials;
  /** HeaderDigest values the target accepts, in order of preference. */
  readonly headerDigest: readonly DigestName[];
  /** DataDigest values the target accepts, in order of preference. */
  readonly dataDigest: readonly DigestName[];
}

/** Discovery (SendTargets) sessions. */
export interface DiscoverySpec {
  /** Whether discovery sessions are accepted (default true). */
  readonly enabled: boolean;
  /** Initiators allowed to discover (default any). */
  readonly allowedInitiators: AllowedInitiators;
  /** CHAP required for discovery. */
  readonly chap?: ChapCredentials;
  /** Mutual CHAP for discovery (needs `chap`). */
  readonly mutualChap?: ChapCredentials;
}

/** A checked target.yaml. */
export interface TargetFileConfig {
  /** Portals (at least one). */
  readonly portals: readonly PortalSpec[];
  /** Target nodes (at least one). */
  readonly targets: readonly TargetSpec[];
  /** Discovery settings. */
  readonly discovery: DiscoverySpec;
  /** Where Prometheus metrics are served, if anywhere. */
  readonly metrics?: { readonly host: string; readonly port: number };
  /** Logging. */
  readonly logging: { readonly level: LogLevel };
  /** Accept CHAP secrets shorter than RFC 7143's 12 bytes (for interop tests only; default false). */
  readonly allowShortChapSecrets: boolean;
}

/** Largest target.yaml read. */
export const MAX_TARGET_CONFIG_BYTES = 1024 * 1024;
const MIN_CHAP_SECRET_BYTES = 12;
const DEFAULT_DIGESTS: readonly DigestName[] = ['None', 'CRC32C'];

const host = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^\s[\]]+$/, 'must be a host name or address (IPv6 without brackets), without spaces');
const port = z.number().int().min(0).max(65535);
const iscsiName = z.string().refine(isIscsiName, 'must be an iSCSI name (at most 223 bytes, no spaces or commas)');
const allowed = z
  .union([z.literal('any'), z.array(iscsiName).min(1)], { error: 'must be "any" or a list of initiator names' })
  .default('any');
const chap = z.strictObject({ user: z.string().min(1).max(255), secret: z.string().min(1).max(255) });
const digest = z.enum(['None', 'CRC32C']);
// A single value stands for a list of one; preprocessing (rather than a union) keeps errors on the bad element.
const digests = z
  .preprocess((value) => (typeof value === 'string' ? [value] : value), z.array(digest).min(1))
  .default([...DEFAULT_DIGESTS])
  .transform((value) => [...new Set(value)]);

const portal = z.discriminatedUnion('transport', [
  z.strictObject({ transport: z.literal('tcp'), host, port: port.default(3260) }),
  z.strictObject({
    transport: z.literal('iser'),
    host,
    port: port.default(3260),
    provider: z.enum(['native', 'softroce-udp', 'sim']).default('native'),
  }),
]);

const luns = z
  .record(z.string(), z.string())
  .superRefine((record, ctx) => {
    if (Object.keys(record).length === 0) ctx.addIssue({ code: 'custom', message: 'a target needs at least one LUN' });
    const seen = new Set<number>();
    for (const [key, spec] of Object.entries(record)) {
      if (!/^\d{1,5}$/.test(key) || Number(key) > MAX_FLAT_LUN) {
        ctx.addIssue({
          code: 'custom',
          message: `LUN "${key}" must be a number from 0 to ${MAX_FLAT_LUN}`,
          path: [key],
          params: { at: 'key' },
        });
        continue;
      }
      if (seen.has(Number(key))) {
        ctx.addIssue({
          code: 'custom',
          message: `LUN ${Number(key)} is listed twice`,
          path: [key],
          params: { at: 'key' },
        });
      }
      seen.add(Number(key));
      try {
        parseBackendSpec(spec);
      } catch (err) {
        if (!isIserError(err)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message, path: [key] });
      }
    }
  })
  .transform((record): LunSpec[] =>
    Object.entries(record)
      .map(([key, backend]) => ({ lun: Number(key), backend }))
      .sort((a, b) => a.lun - b.lun),
  );

function mutualNeedsChap(value: { chap?: unknown; mutualChap?: unknown }, ctx: z.RefinementCtx): void {
  if (value.mutualChap !== undefined && value.chap === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'mutual CHAP needs chap (the initiator authenticates first)',
      path: ['mutualChap'],
    });
  }
}

const target = z
  .strictObject({
    iqn: z
      .string()
      .refine(
        isTargetNodeName,
        'must be an iSCSI name: iqn.YYYY-MM.reversed.domain[:name], eui.<16 hex> or naa.<16 or 32 hex>',
      ),
    alias: z.string().min(1).max(255).optional(),
    luns,
    allowedInitiators: allowed,
    chap: chap.optional(),
    mutualChap: chap.optional(),
    headerDigest: digests,
    dataDigest: digests,
  })
  .superRefine(mutualNeedsChap);

const discovery = z
  .strictObject({
    enabled: z.boolean().default(true),
    allowedInitiators: allowed,
    chap: chap.optional(),
    mutualChap: chap.optional(),
  })
  .superRefine(mutualNeedsChap);

const listen = z.string().transform((text, ctx) => {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text);
  const portNumber = Number(match?.[3]);
  if (match === null || portNumber > 65535) {
    ctx.addIssue({ code: 'custom', message: `"${text}" must be host:port, e.g. 127.0.0.1:9464 or [::1]:9464` });
    return z.NEVER;
  }
  return { host: match[1] ?? match[2] ?? '', port: portNumber };
});

const schema = z
  .strictObject({
    portals: z.array(portal).min(1, 'at least one portal is needed'),
    targets: z.array(target).min(1, 'at least one target is needed'),
    discovery: discovery.default({ enabled: true, allowedInitiators: 'any' }),
    metrics: z
      .strictObject({ listen })
      .transform((metrics) => metrics.listen)
      .optional(),
    logging: z
      .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
      .default({ level: 'info' }),
    allowShortChapSecrets: z.boolean().default(false),
  })
  .superRefine((config, ctx) => {
    const names = new Map<string, number>();
    config.targets.forEach((t, i) => {
      const first = names.get(t.iqn.toLowerCase());
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `target ${t.iqn} is already defined (targets[${first}])`,
          path: ['targets', i, 'iqn'],
        });
      } else {
        names.set(t.iqn.toLowerCase(), i);
      }
    });
    const portals = new Map<string, number>();
    config.portals.forEach((p, i) => {
      const key = `${p.host}:${p.port}`.toLowerCase();
      const first = portals.get(key);
      if (first !== undefined && p.port !== 0) {
        ctx.addIssue({
          code: 'custom',
          message: `portal ${p.host}:${p.port} is already listed (portals[${first}])`,
          path: ['portals', i],
        });
      } else {
        portals.set(key, i);
      }
    });
    if (!config.allowShortChapSecrets) {
      const check = (credentials: ChapCredentials | undefined, path: PropertyKey[]): void => {
        if (credentials !== undefined && Buffer.byteLength(credentials.secret, 'utf8') < MIN_CHAP_SECRET_BYTES) {
          ctx.addIssue({
            code: 'custom',
            message: `CHAP secret is shorter than ${MIN_CHAP_SECRET_BYTES} bytes (RFC 7143 §9.2.1); set allowShortChapSecrets: true to accept it for testing`,
            path: [...path, 'secret'],
          });
        }
      };
      config.targets.forEach((t, i) => {
        check(t.chap, ['targets', i, 'chap']);
        check(t.mutualChap, ['targets', i, 'mutualChap']);
      });
      check(config.discovery.chap, ['discovery', 'chap']);
      check(config.discovery.mutualChap, ['discovery', 'mutualChap']);
    }
  });

/** Parses target.yaml text. Throws a ConfigError listing every problem, each as `file:line:column: message`. */
export function parseTargetConfig(
  text: string,
  file = 'target.yaml',
): TargetFileConfig & { readonly warnings: readonly ConfigWarning[] } {
  const { value, warnings } = parseYamlWithSchema(text, file, schema, {
    maxBytes: MAX_TARGET_CONFIG_BYTES,
    topLevelHint: 'portals:, targets:, ...',
  });
  const config: TargetFileConfig = value;
  return { ...config, warnings };
}

/** Reads and parses a target.yaml file. */
export async function loadTargetConfig(
  path: string,
): Promise<TargetFileConfig & { readonly warnings: readonly ConfigWarning[] }> {
  return parseTargetConfig(await readFile(path, 'utf8'), path);
}

/** Renders a configuration as YAML that parses back to an equal configuration. */
export function renderTargetConfig(config: TargetFileConfig): string {
  const chapOf = (credentials: ChapCredentials | undefined) =>
    credentials === undefined ? {} : { user: credentials.user, secret: credentials.secret };
  const plain = {
    portals: config.portals.map((p) => ({ ...p })),
    targets: config.targets.map((t) => ({
      iqn: t.iqn,
      ...(t.alias !== undefined && { alias: t.alias }),
      luns: Object.fromEntries(t.luns.map((l) => [String(l.lun), l.backend])),
      allowedInitiators: t.allowedInitiators === 'any' ? 'any' : [...t.allowedInitiators],
      ...(t.chap !== undefined && { chap: chapOf(t.chap) }),
      ...(t.mutualChap !== undefined && { mutualChap: chapOf(t.mutualChap) }),
      headerDigest: [...t.headerDigest],
      dataDigest: [...t.dataDigest],
    })),
    discovery: {
      enabled: config.discovery.enabled,
      allowedInitiators: config.discovery.allowedInitiators === 'any' ? 'any' : [...config.discovery.allowedInitiators],
      ...(config.discovery.chap !== undefined && { chap: chapOf(config.discovery.chap) }),
      ...(config.discovery.mutualChap !== undefined && { mutualChap: chapOf(config.discovery.mutualChap) }),
    },
    ...(config.metrics !== undefined && {
      metrics: {
        listen: config.metrics.host.includes(':')
          ? `[${config.metrics.host}]:${config.metrics.port}`
          : `${config.metrics.host}:${config.metrics.port}`,
      },
    }),
    logging: { level: config.logging.level },
    allowShortChapSecrets: config.allowShortChapSecrets,
  };
  return stringify(plain);
}
