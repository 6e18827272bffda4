/**
 * Carries out a scenario's fault plan: each fault fires once, at a virtual time after the workload started or when
 * the Nth operation completed, and is written to the event log. A target restart runs on in the background; the
 * run waits for it before reading everything back.
 */
import type { Subscription } from 'rxjs';
import type { EventLog } from '../../sim/trace/event-log.js';
import type { SimFault } from './scenario.js';
import type { SimWorld } from './world.js';

/** A fault that fired. */
export interface FiredFault {
  readonly kind: SimFault['kind'];
  /** Virtual ms since the workload started. */
  readonly atMs: number;
  /** Operations completed when it fired. */
  readonly afterOps: number;
}

/** Fires the plan's faults. */
export class FaultRunner {
  readonly fired: FiredFault[] = [];
  readonly #world: SimWorld;
  readonly #log: EventLog;
  readonly #byCount: SimFault[];
  readonly #byTime: SimFault[];
  readonly #timers: Subscription[] = [];
  readonly #background: Promise<void>[] = [];
  #startMs = 0;
  #ops = 0;

  constructor(world: SimWorld, faults: readonly SimFault[], log: EventLog) {
    this.#world = world;
    this.#log = log;
    this.#byCount = faults.filter((f) => 'afterOps' in f).sort((a, b) => count(a) - count(b));
    this.#byTime = faults.filter((f) => 'atMs' in f);
  }

  /** The workload starts now: arms the timed faults. */
  start(): void {
    this.#startMs = this.#world.clock.now();
    for (const fault of this.#byTime) {
      const delay = 'atMs' in fault ? fault.atMs : 0;
      this.#timers.push(
        this.#world.clock.schedule(() => {
          this.#fire(fault);
        }, delay),
      );
    }
  }

  /** One more operation completed (successfully or not). */
  operationDone(): void {
    this.#ops++;
    while (this.#byCount.length > 0 && count(this.#byCount[0]) <= this.#ops) {
      const fault = this.#byCount.shift();
      if (fault !== undefined) this.#fire(fault);
    }
  }

  /** Waits for background faults (a target restart) to finish; disarms faults that have not fired. */
  async settle(): Promise<void> {
    for (const timer of this.#timers) timer.unsubscribe();
    await Promise.all(this.#background);
  }

  #fire(fault: SimFault): void {
    const atMs = this.#world.clock.now() - this.#startMs;
    this.fired.push({ kind: fault.kind, atMs, afterOps: this.#ops });
    const { kind, ...fields } = fault;
    this.#log.record('sim', 'fault', { kind, ...fields, firedAtMs: atMs, opsDone: this.#ops });
    const world = this.#world;
    switch (fault.kind) {
      case 'pull-cable':
        world.pullCable(fault.durationMs);
        return;
      case 'qp-error':
        world.qpError(fault.opcode, fault.status);
        return;
      case 'rnr-storm':
        world.rnrStorm(fault.durationMs, fault.at);
        return;
      case 'link':
        world.linkWindow({ loss: fault.loss, duplicate: fault.duplicate, reorder: fault.reorder }, fault.durationMs);
        return;
      case 'target-restart':
        this.#background.push(
          world.restartTarget(fault.downtimeMs).catch((err: unknown) => {
            this.#log.record('sim', 'target-restart-failed', { message: String(err) });
          }),
        );
        return;
    }
  }
}

function count(fault: SimFault | undefined): number {
  return fault !== undefined && 'afterOps' in fault ? fault.afterOps : Infinity;
}
