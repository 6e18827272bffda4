/**
 * Carries out a {@link FaultPlan}: answers the fabric's questions ("extra delay for this message?", "does this
 * operation fail?", "is that host answering?") and keeps the per-connection operation counts the rules need.
 * All chance comes from one seeded stream, drawn in event order, so a (seed, plan) pair replays exactly.
 */
import type { WcStatus } from '../../transports/verbs.js';
import type { CountedOpcode } from './counters.js';
import type { DropConnectionRule, FaultPlan, FaultRule, QpErrorRule } from './fault-plan.js';
import { parseFaultPlan, parseFaultRule } from './fault-plan.js';
import type { RandomSource } from './random.js';

/** What a connection looks like to the fault rules. */
export interface FaultTarget {
  /** 1-based connection number. */
  readonly number: number;
}

/** What happens to an operation about to go on the wire for the first time. */
export type OperationVerdict =
  | { readonly kind: 'proceed' }
  | { readonly kind: 'drop-connection'; readonly rule: number }
  | { readonly kind: 'fail'; readonly status: QpErrorRule['status']; readonly rule: number };

/** Evaluates fault rules against the fabric's events. */
export class FaultEngine {
  readonly #rules: FaultRule[] = [];
  readonly #random: RandomSource;
  /** Per rule index, per connection number: matching operations seen so far. */
  readonly #operationCounts = new Map<number, Map<number, number>>();
  /** Called when a rule with `atMs` is added, so the fabric can schedule it. */
  readonly #onTimedDrop: (rule: DropConnectionRule, index: number) => void;

  constructor(plan: FaultPlan, random: RandomSource, onTimedDrop: (rule: DropConnectionRule, index: number) => void) {
    this.#random = random;
    this.#onTimedDrop = onTimedDrop;
    for (const rule of parseFaultPlan(plan).rules) this.#push(rule);
  }

  /** The rules in force, in order (their index is the `rule` field of `fault` trace events). */
  get rules(): readonly FaultRule[] {
    return this.#rules;
  }

  /** Adds a rule while the simulation runs; returns its index. */
  add(rule: FaultRule): number {
    return this.#push(parseFaultRule(rule));
  }

  #push(rule: FaultRule): number {
    const index = this.#rules.push(rule) - 1;
    if (rule.kind === 'drop-connection' && rule.atMs !== undefined) this.#onTimedDrop(rule, index);
    return index;
  }

  /** Extra milliseconds for a message of `category` sent by `fromHost` on `target`. */
  extraDelay(target: FaultTarget, fromHost: string, category: CountedOpcode | 'CM'): number {
    let extra = 0;
    for (const rule of this.#rules) {
      if (rule.kind !== 'delay' || !inScope(rule, target, fromHost)) continue;
      if (rule.opcodes !== undefined && !rule.opcodes.includes(category)) continue;
      if (rule.probability !== undefined && rule.probability < 1 && this.#random.float() >= rule.probability) continue;
      extra += rule.extraMs ?? 0;
      if (rule.jitterMs !== undefined && rule.jitterMs > 0) extra += this.#random.float() * rule.jitterMs;
    }
    return extra;
  }

  /** Counts an operation `requesterHost` is about to put on the wire for the first time, and judges it. */
  onOperation(target: FaultTarget, requesterHost: string, opcode: CountedOpcode): OperationVerdict {
    let verdict: OperationVerdict = { kind: 'proceed' };
    this.#rules.forEach((rule, index) => {
      if (rule.kind === 'drop-connection' && rule.atOperation !== undefined) {
        if (!inScope(rule, target, requesterHost) || (rule.opcode !== undefined && rule.opcode !== opcode)) return;
        if (this.#bump(index, target) === rule.atOperation && verdict.kind === 'proceed') {
          verdict = { kind: 'drop-connection', rule: index };
        }
      } else if (rule.kind === 'qp-error') {
        if (!inScope(rule, target, requesterHost) || rule.opcode !== opcode) return;
        if (this.#bump(index, target) === rule.nth && verdict.kind === 'proceed') {
          verdict = { kind: 'fail', status: rule.status, rule: index };
        }
      }
    });
    return verdict;
  }

  #bump(index: number, target: FaultTarget): number {
    let perConnection = this.#operationCounts.get(index);
    if (perConnection === undefined) {
      perConnection = new Map();
      this.#operationCounts.set(index, perConnection);
    }
    const count = (perConnection.get(target.number) ?? 0) + 1;
    perConnection.set(target.number, count);
    return count;
  }

  /** True while `host` has stopped answering (`elapsedMs`: virtual time since the fabric started). */
  isSilent(host: string, elapsedMs: number): boolean {
    return this.#rules.some(
      (rule) =>
        rule.kind === 'stop-answering' && rule.host === host && within(elapsedMs, rule.atMs ?? 0, rule.durationMs),
    );
  }

  /** True while an RNR storm hides `host`'s posted receives on `target`. */
  inRnrStorm(target: FaultTarget, host: string, elapsedMs: number): boolean {
    return this.#rules.some(
      (rule) =>
        rule.kind === 'rnr-storm' && inScope(rule, target, host) && within(elapsedMs, rule.fromMs, rule.durationMs),
    );
  }
}

function inScope(rule: { readonly connection?: number; readonly host?: string }, target: FaultTarget, host: string) {
  return (rule.connection === undefined || rule.connection === target.number) && (rule.host ?? host) === host;
}

function within(t: number, from: number, duration: number | undefined): boolean {
  return t >= from && (duration === undefined || t < from + duration);
}

/** True for statuses that say the responder refused the request (its QP goes to ERROR too). */
export function isRemoteStatus(status: WcStatus): boolean {
  return status.startsWith('REM_');
}
