/**
 * Fault plans: declarative, serializable (plain JSON) lists of rules that tell the fabric what to break and when.
 * Every probabilistic choice a rule makes draws from the fabric's seeded random source, so a (seed, plan) pair
 * replays exactly.
 *
 * Times (`atMs`, `fromMs`) are virtual milliseconds since the fabric was created. Operation counts are per
 * connection: a rule without `connection` applies to every connection, each counting its own operations.
 * `connection` is the 1-based number of the connection attempt (`c3` is connection 3).
 */
import { z } from 'zod';
import type { WcStatus } from '../../transports/verbs.js';
import type { CountedOpcode } from './counters.js';
import { FabricError } from './errors.js';

/** Every `ibv_wc_status` name, for validation. */
export const WC_STATUSES = [
  'SUCCESS',
  'LOC_LEN_ERR',
  'LOC_QP_OP_ERR',
  'LOC_PROT_ERR',
  'WR_FLUSH_ERR',
  'BAD_RESP_ERR',
  'LOC_ACCESS_ERR',
  'REM_INV_REQ_ERR',
  'REM_ACCESS_ERR',
  'REM_OP_ERR',
  'RETRY_EXC_ERR',
  'RNR_RETRY_EXC_ERR',
  'REM_ABORT_ERR',
  'FATAL_ERR',
  'RESP_TIMEOUT_ERR',
  'GENERAL_ERR',
] as const satisfies readonly WcStatus[];

/** Which connections and which requester a rule applies to (omitted: all). */
export interface FaultScope {
  /** 1-based connection number (order of connection attempts on the fabric). */
  readonly connection?: number;
  /** The host whose requests the rule affects (for `rnr-storm`: the receiving host). */
  readonly host?: string;
}

/** Adds delay to request messages (and CM messages with `'CM'`): a fixed part plus seeded uniform jitter. */
export interface DelayRule extends FaultScope {
  readonly kind: 'delay';
  /** Which messages; all request opcodes and CM messages when omitted. */
  readonly opcodes?: readonly (CountedOpcode | 'CM')[];
  readonly extraMs?: number;
  /** Adds a uniform random delay in [0, jitterMs). Order on a connection is kept (RC delivers in order). */
  readonly jitterMs?: number;
  /** Chance that a given message is delayed at all (default 1). */
  readonly probability?: number;
}

/** Pulls the cable under a connection: both sides see the QP error, the flush and `disconnected`. */
export interface DropConnectionRule extends FaultScope {
  readonly kind: 'drop-connection';
  /** At this virtual time (connections established by then). */
  readonly atMs?: number;
  /** Or just before the connection's Nth operation (1-based; of `opcode` if given) goes on the wire. */
  readonly atOperation?: number;
  readonly opcode?: CountedOpcode;
}

/** Fails the Nth operation of a kind on a connection with `status`; the requester's QP goes to ERROR. */
export interface QpErrorRule extends FaultScope {
  readonly kind: 'qp-error';
  readonly opcode: CountedOpcode;
  /** 1-based. */
  readonly nth: number;
  /** The status of the failed work request. A `REM_*` status also moves the responder's QP to ERROR. */
  readonly status: Exclude<WcStatus, 'SUCCESS' | 'WR_FLUSH_ERR'>;
}

/** Hides the receiver's posted receives for a window: every SEND meets RNR meanwhile. */
export interface RnrStormRule extends FaultScope {
  readonly kind: 'rnr-storm';
  readonly fromMs: number;
  readonly durationMs: number;
}

/**
 * The host's responder stops answering: CM messages and requests arriving there are dropped, so requesters
 * retransmit and finally complete with RETRY_EXC_ERR, and connects time out.
 */
export interface StopAnsweringRule {
  readonly kind: 'stop-answering';
  readonly host: string;
  /** From this virtual time (default: from the start). */
  readonly atMs?: number;
  /** For this long (default: forever). */
  readonly durationMs?: number;
}

/** One rule of a {@link FaultPlan}. */
export type FaultRule = DelayRule | DropConnectionRule | QpErrorRule | RnrStormRule | StopAnsweringRule;

/** A list of fault rules; serializable as JSON. */
export interface FaultPlan {
  readonly rules: readonly FaultRule[];
}

/** The plan that breaks nothing. */
export const NO_FAULTS: FaultPlan = { rules: [] };

const opcode = z.enum(['SEND', 'SEND_WITH_INV', 'RDMA_WRITE', 'RDMA_READ']);
const nonNegative = z.number().nonnegative();
const ordinal = z.number().int().positive();
const scope = { connection: ordinal.optional(), host: z.string().min(1).optional() };

const ruleSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('delay'),
    ...scope,
    opcodes: z.array(z.union([opcode, z.literal('CM')])).optional(),
    extraMs: nonNegative.optional(),
    jitterMs: nonNegative.optional(),
    probability: z.number().min(0).max(1).optional(),
  }),
  z
    .strictObject({
      kind: z.literal('drop-connection'),
      ...scope,
      atMs: nonNegative.optional(),
      atOperation: ordinal.optional(),
      opcode: opcode.optional(),
    })
    .refine((r) => (r.atMs === undefined) !== (r.atOperation === undefined), {
      message: 'drop-connection needs exactly one of atMs and atOperation',
    }),
  z.strictObject({
    kind: z.literal('qp-error'),
    ...scope,
    opcode,
    nth: ordinal,
    status: z.enum(WC_STATUSES).exclude(['SUCCESS', 'WR_FLUSH_ERR']),
  }),
  z.strictObject({ kind: z.literal('rnr-storm'), ...scope, fromMs: nonNegative, durationMs: nonNegative }),
  z.strictObject({
    kind: z.literal('stop-answering'),
    host: z.string().min(1),
    atMs: nonNegative.optional(),
    durationMs: nonNegative.optional(),
  }),
]);

const planSchema = z.strictObject({ rules: z.array(ruleSchema) });

/** Validates a fault plan (e.g. parsed from JSON); throws {@link FabricError} `ERR_FABRIC_FAULT_PLAN`. */
export function parseFaultPlan(input: unknown): FaultPlan {
  const result = planSchema.safeParse(input);
  if (!result.success) {
    throw new FabricError('ERR_FABRIC_FAULT_PLAN', `invalid fault plan: ${z.prettifyError(result.error)}`);
  }
  const plan: FaultPlan = result.data;
  return plan;
}

/** Validates one rule; throws like {@link parseFaultPlan}. */
export function parseFaultRule(input: unknown): FaultRule {
  const [rule] = parseFaultPlan({ rules: [input] }).rules;
  if (rule === undefined) throw new FabricError('ERR_FABRIC_FAULT_PLAN', 'invalid fault rule');
  return rule;
}
