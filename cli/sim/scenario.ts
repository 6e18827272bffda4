/**
 * The scenario file of `iser sim`: topology (transport, link, one target with LUNs, initiators and their
 * sessions), workload phases, a fault plan, the seed and a virtual-time limit. YAML checked with zod; every problem
 * is reported as `file:line:column: message` (config/yaml-schema.ts). Examples: sim/scenarios/*.yaml.
 *
 * Sizes are bytes or `64k`, `16M`; durations are milliseconds or `5us`, `2ms`, `1s`. Fault times count from the
 * start of the first workload phase (after every session logged in).
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { parseSize } from '../../backends/spec.js';
import type { ConfigWarning } from '../../config/errors.js';
import { parseYamlWithSchema } from '../../config/yaml-schema.js';
import { isTargetNodeName } from '../../protocol/target/validate.js';
import { isIscsiName } from '../../protocol/text/config.js';
import { DEFAULT_PATH_MTU, PATH_MTUS, type PathMtu } from '../../sim/roce/rc/attributes.js';
import { WC_STATUSES } from '../../sim/fabric/fault-plan.js';
import type { WcStatus } from '../../transports/verbs.js';

/** Largest scenario file read. */
export const MAX_SCENARIO_BYTES = 256 * 1024;
/** Largest LUN (the verification model keeps 4 bytes per block). */
export const MAX_LUN_BYTES = 2 ** 30;
/** Most operations one phase may ask for, per session. */
export const MAX_PHASE_OPS = 1_000_000;
/** Longest virtual-time limit (1 hour). */
export const MAX_VIRTUAL_MS = 3_600_000;

/** Where the simulated RDMA runs. */
export type SimTransport = 'fabric' | 'softroce';

/** The link between every pair of hosts. */
export interface SimLink {
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly bandwidthGbps: number;
  /** soft-RoCE path MTU (the fabric moves whole messages: no MTU). */
  readonly mtu: PathMtu;
  /** soft-RoCE: per-datagram probabilities for the whole run. */
  readonly loss: number;
  readonly duplicate: number;
  readonly reorder: number;
}

/** One LUN of the target. */
export interface SimLun {
  readonly bytes: number;
  readonly blockSize: 512 | 4096;
}

/** One initiator (a host) and how many sessions it opens to the target. */
export interface SimInitiator {
  readonly name: string;
  readonly sessions: number;
  /** ERL 0 recovery: how long it may take in all, and the shortest wait between attempts. */
  readonly recoveryTimeoutMs: number;
  readonly reconnectDelayMs: number;
  /** Bound on one connection attempt (the CM handshake). */
  readonly connectTimeoutMs: number;
}

/** One workload phase; every session runs it at once. */
export interface SimPhase {
  readonly name: string;
  readonly lun: number;
  readonly pattern: 'seq' | 'random';
  /** Percent of operations that read (the rest write). */
  readonly readPercent: number;
  /** Bytes per operation: one drawn per operation from the list. */
  readonly blockSizes: readonly number[];
  readonly queueDepth: number;
  /** Operations per session, or a virtual duration. */
  readonly ops?: number;
  readonly durationMs?: number;
  /** Check every read against the model (and read everything back at the end). */
  readonly verify: boolean;
}

/** When a fault fires. */
export type SimTrigger = { readonly atMs: number } | { readonly afterOps: number };

/** What a fault does. */
export type SimFaultAction =
  /** Every connection's cable out: fabric tears them down now; for `durationMs` nothing gets through. */
  | { readonly kind: 'pull-cable'; readonly durationMs: number | undefined }
  /** fabric: the next operation of `opcode` on the newest connection completes with `status`. */
  | {
      readonly kind: 'qp-error';
      readonly opcode: 'SEND' | 'RDMA_WRITE' | 'RDMA_READ';
      readonly status: Exclude<WcStatus, 'SUCCESS' | 'WR_FLUSH_ERR'>;
    }
  /** fabric: receives hidden at the chosen host(s) for `durationMs` (every SEND meets RNR). */
  | { readonly kind: 'rnr-storm'; readonly durationMs: number; readonly at: 'target' | 'initiators' | 'both' }
  /** soft-RoCE: datagram loss, duplication and reordering for a window. */
  | {
      readonly kind: 'link';
      readonly durationMs: number;
      readonly loss: number;
      readonly duplicate: number;
      readonly reorder: number;
    }
  /** fabric: the target crashes (connections cut) and a new one serves the same LUNs after `downtimeMs`. */
  | { readonly kind: 'target-restart'; readonly downtimeMs: number };

/** One fault of the plan. */
export type SimFault = SimTrigger & SimFaultAction;

/** A checked scenario. */
export interface Scenario {
  readonly name: string;
  readonly description: string | undefined;
  readonly seed: number;
  readonly virtualTimeLimitMs: number;
  readonly transport: SimTransport;
  readonly link: SimLink;
  readonly target: { readonly iqn: string; readonly luns: readonly SimLun[] };
  readonly initiators: readonly SimInitiator[];
  readonly phases: readonly SimPhase[];
  readonly faults: readonly SimFault[];
}

const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m)$/u;

/** A duration: a number of milliseconds, or text with a unit. */
const duration = z.union([z.number(), z.string()]).transform((value, ctx): number => {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else {
    const match = DURATION.exec(value.trim());
    ms = match === null ? NaN : Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? NaN);
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_VIRTUAL_MS) {
    ctx.addIssue({
      code: 'custom',
      message: `"${String(value)}" must be a duration up to 1 hour: milliseconds, or a number with ns, us, ms, s or m`,
    });
    return z.NEVER;
  }
  return ms;
});

/** A size: bytes, or text such as `64k`, `16M`. */
const size = z.union([z.number(), z.string()]).transform((value, ctx): number => {
  let bytes: number;
  try {
    bytes = typeof value === 'number' ? value : parseSize(value);
  } catch {
    bytes = NaN;
  }
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${String(value)}" must be a size in bytes, e.g. 4096, 64k or 16M` });
    return z.NEVER;
  }
  return bytes;
});

const probability = z.number().min(0).max(1);

const link = z
  .strictObject({
    latency: duration.default(0.005),
    jitter: duration.default(0),
    bandwidthGbps: z.number().positive().max(10_000).default(100),
    mtu: z
      .number()
      .refine((n) => (PATH_MTUS as readonly number[]).includes(n), `must be one of ${PATH_MTUS.join(', ')}`)
      .optional(),
    loss: probability.default(0),
    duplicate: probability.default(0),
    reorder: probability.default(0),
  })
  .default({ latency: 0.005, jitter: 0, bandwidthGbps: 100, loss: 0, duplicate: 0, reorder: 0 });

const lun = z
  .strictObject({
    size,
    blockSize: z.union([z.literal(512), z.literal(4096)], { error: 'must be 512 or 4096' }).default(512),
  })
  .superRefine((l, ctx) => {
    if (l.size > MAX_LUN_BYTES) {
      ctx.addIssue({ code: 'custom', message: `a LUN is at most ${MAX_LUN_BYTES} bytes (1G)`, path: ['size'] });
    } else if (l.size % l.blockSize !== 0) {
      ctx.addIssue({ code: 'custom', message: `must be a multiple of blockSize ${l.blockSize}`, path: ['size'] });
    }
  });

const initiator = z.strictObject({
  name: z.string().refine(isIscsiName, 'must be an iSCSI name (at most 223 bytes, no spaces or commas)').optional(),
  sessions: z.number().int().min(1).max(16).default(1),
  recoveryTimeout: duration.default(30_000),
  reconnectDelay: duration.default(10),
  connectTimeout: duration.default(2000),
});

const phase = z
  .strictObject({
    name: z.string().min(1).max(64).optional(),
    lun: z.number().int().min(0).default(0),
    pattern: z.enum(['seq', 'random']).default('seq'),
    read: z.number().min(0).max(100).default(0),
    blockSize: z.union([size, z.array(size).min(1).max(16)]).default(65536),
    queueDepth: z.number().int().min(1).max(256).default(8),
    ops: z.number().int().min(1).max(MAX_PHASE_OPS).optional(),
    duration: duration.optional(),
    verify: z.boolean().default(true),
  })
  .superRefine((p, ctx) => {
    if ((p.ops === undefined) === (p.duration === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a phase needs exactly one of ops and duration' });
    }
    if (p.duration !== undefined && p.duration <= 0) {
      ctx.addIssue({ code: 'custom', message: 'duration must be more than 0', path: ['duration'] });
    }
  });

const trigger = { at: duration.optional(), afterOps: z.number().int().min(1).optional() };
const opcode = z.enum(['SEND', 'RDMA_WRITE', 'RDMA_READ']);

const fault = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('pull-cable'), ...trigger, duration: duration.optional() }),
    z.strictObject({
      kind: z.literal('qp-error'),
      ...trigger,
      opcode: opcode.default('RDMA_READ'),
      status: z.enum(WC_STATUSES).exclude(['SUCCESS', 'WR_FLUSH_ERR']).default('REM_ACCESS_ERR'),
    }),
    z.strictObject({
      kind: z.literal('rnr-storm'),
      ...trigger,
      duration,
      host: z.enum(['target', 'initiators', 'both']).default('target'),
    }),
    z.strictObject({
      kind: z.literal('link'),
      ...trigger,
      duration,
      loss: probability.default(0),
      duplicate: probability.default(0),
      reorder: probability.default(0),
    }),
    z.strictObject({ kind: z.literal('target-restart'), ...trigger, downtime: duration.default(50) }),
  ])
  .superRefine((f, ctx) => {
    if ((f.at === undefined) === (f.afterOps === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a fault needs exactly one of at (a virtual time) and afterOps' });
    }
  });

const DEFAULT_IQN = 'iqn.2024-01.org.iser:sim';

const schema = z
  .strictObject({
    name: z.string().min(1).max(64).optional(),
    description: z.string().max(4096).optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .default(1),
    limits: z.strictObject({ virtualTime: duration.default(60_000) }).default({ virtualTime: 60_000 }),
    topology: z.strictObject({
      transport: z.enum(['fabric', 'softroce']),
      link,
      target: z.strictObject({
        iqn: z
          .string()
          .refine(isTargetNodeName, 'must be an iSCSI name: iqn.YYYY-MM.reversed.domain[:name], eui. or naa.')
          .default(DEFAULT_IQN),
        luns: z.array(lun).min(1, 'the target needs at least one LUN').max(16),
      }),
      initiators: z
        .array(initiator)
        .min(1, 'at least one initiator is needed')
        .max(16)
        .default([{ sessions: 1, recoveryTimeout: 30_000, reconnectDelay: 10, connectTimeout: 2000 }]),
    }),
    workload: z.strictObject({ phases: z.array(phase).min(1, 'at least one phase is needed').max(64) }),
    faults: z.array(fault).max(256).default([]),
  })
  .superRefine((s, ctx) => {
    const transport = s.topology.transport;
    s.workload.phases.forEach((p, i) => {
      const target = s.topology.target.luns[p.lun];
      if (target === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `LUN ${p.lun} does not exist (the target has ${s.topology.target.luns.length})`,
          path: ['workload', 'phases', i, 'lun'],
        });
        return;
      }
      const sizes = Array.isArray(p.blockSize) ? p.blockSize : [p.blockSize];
      for (const bytes of sizes) {
        if (bytes % target.blockSize !== 0 || bytes > target.size || bytes > 16 * 2 ** 20) {
          ctx.addIssue({
            code: 'custom',
            message: `block size ${bytes} must be a multiple of LUN ${p.lun}'s block size ${target.blockSize}, at most 16M and at most the LUN`,
            path: ['workload', 'phases', i, 'blockSize'],
          });
        }
      }
    });
    s.faults.forEach((f, i) => {
      const needs =
        f.kind === 'link' ? 'softroce' : f.kind === 'pull-cable' ? undefined : ('fabric' as SimTransport | undefined);
      if (needs !== undefined && needs !== transport) {
        ctx.addIssue({
          code: 'custom',
          message: `${f.kind} needs transport ${needs} (this scenario runs on ${transport})`,
          path: ['faults', i, 'kind'],
        });
      }
    });
    if (transport === 'fabric') {
      const l = s.topology.link;
      if (l.mtu !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'mtu needs transport softroce (the fabric moves whole messages)',
          path: ['topology', 'link', 'mtu'],
        });
      }
      for (const key of ['loss', 'duplicate', 'reorder'] as const) {
        if (l[key] > 0) {
          ctx.addIssue({
            code: 'custom',
            message: `${key} needs transport softroce (the fabric delivers every message)`,
            path: ['topology', 'link', key],
          });
        }
      }
    }
  });

function phaseName(name: string | undefined, index: number): string {
  return name ?? `phase ${index + 1}`;
}

function toScenario(value: z.output<typeof schema>, file: string): Scenario {
  const t = value.topology;
  const defaultName = file.replace(/^.*[\\/]/u, '').replace(/\.ya?ml$/iu, '');
  return {
    name: value.name ?? (defaultName === '' ? 'scenario' : defaultName),
    description: value.description,
    seed: value.seed,
    virtualTimeLimitMs: value.limits.virtualTime,
    transport: t.transport,
    link: {
      latencyMs: t.link.latency,
      jitterMs: t.link.jitter,
      bandwidthGbps: t.link.bandwidthGbps,
      mtu: (t.link.mtu ?? DEFAULT_PATH_MTU) as PathMtu,
      loss: t.link.loss,
      duplicate: t.link.duplicate,
      reorder: t.link.reorder,
    },
    target: {
      iqn: t.target.iqn,
      luns: t.target.luns.map((l) => ({ bytes: l.size, blockSize: l.blockSize })),
    },
    initiators: t.initiators.map((i, index) => ({
      name: i.name ?? `iqn.2024-01.org.iser:sim-initiator-${index + 1}`,
      sessions: i.sessions,
      recoveryTimeoutMs: i.recoveryTimeout,
      reconnectDelayMs: i.reconnectDelay,
      connectTimeoutMs: i.connectTimeout,
    })),
    phases: value.workload.phases.map((p, index) => ({
      name: phaseName(p.name, index),
      lun: p.lun,
      pattern: p.pattern,
      readPercent: p.read,
      blockSizes: Array.isArray(p.blockSize) ? p.blockSize : [p.blockSize],
      queueDepth: p.queueDepth,
      ...(p.ops === undefined ? {} : { ops: p.ops }),
      ...(p.duration === undefined ? {} : { durationMs: p.duration }),
      verify: p.verify,
    })),
    faults: value.faults.map((f): SimFault => {
      const when: SimTrigger = f.at !== undefined ? { atMs: f.at } : { afterOps: f.afterOps ?? 1 };
      switch (f.kind) {
        case 'pull-cable':
          return { ...when, kind: f.kind, durationMs: f.duration };
        case 'qp-error':
          return { ...when, kind: f.kind, opcode: f.opcode, status: f.status };
        case 'rnr-storm':
          return { ...when, kind: f.kind, durationMs: f.duration, at: f.host };
        case 'link':
          return {
            ...when,
            kind: f.kind,
            durationMs: f.duration,
            loss: f.loss,
            duplicate: f.duplicate,
            reorder: f.reorder,
          };
        case 'target-restart':
          return { ...when, kind: f.kind, downtimeMs: f.downtime };
      }
    }),
  };
}

/** Parses scenario text. Throws a ConfigError whose every issue is `file:line:column: message`. */
export function parseScenario(
  text: string,
  file = 'scenario.yaml',
): Scenario & { readonly warnings: readonly ConfigWarning[] } {
  const { value, warnings } = parseYamlWithSchema(text, file, schema, {
    maxBytes: MAX_SCENARIO_BYTES,
    topLevelHint: 'topology:, workload:, faults:, ...',
  });
  return { ...toScenario(value, file), warnings };
}

/** Reads and parses a scenario file (a missing or unreadable file is the caller's local-file error). */
export async function loadScenario(path: string): Promise<Scenario & { readonly warnings: readonly ConfigWarning[] }> {
  return parseScenario(await readFile(path, 'utf8'), path);
}

/** The same scenario with another seed (`--seed`). */
export function withSeed(scenario: Scenario, seed: number): Scenario {
  return { ...scenario, seed };
}
