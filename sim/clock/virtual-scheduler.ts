/**
 * Virtual time as an RxJS `SchedulerLike`: `now()` is virtual milliseconds, and timers fire only when a test or the
 * simulator drives the clock (`advanceBy`, `runUntilIdle`, `runUntil`). RxJS's `timer`, `interval`, `timeout`,
 * `delay`, `debounceTime`... all work when handed this scheduler.
 *
 * Real time needs nothing of ours: it is RxJS's `asyncScheduler` (see `real-time.ts`).
 *
 * Why our own instead of extending RxJS's `VirtualTimeScheduler`: that one flushes synchronously (code awaiting a
 * Promise between two timers would run too late), keeps every rescheduled action chained to its predecessor (an
 * hour of `interval(1)` would grow memory without bound) and re-sorts its whole queue on every insertion.
 *
 * Interleaving with Promises: before every timer firing the driver yields to the event loop (by default two
 * `setImmediate` turns) so pending microtasks, `process.nextTick` callbacks and `setImmediate` continuations of
 * in-process code settle first. So `await`-based code and virtual timers interleave the way they would in real
 * time, deterministically. Timers due at the same virtual time fire in the order they were scheduled (FIFO).
 */
import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { ClockError } from './errors.js';
import { TimerQueue, type TimerEntry } from './timer-queue.js';

/** Bounds on one run, so a runaway simulation stops with a {@link ClockError} instead of spinning. */
export interface RunBounds {
  /** Most timer events this run may fire (default: the scheduler's `maxEvents`). */
  readonly maxEvents?: number;
  /** Furthest this run may move virtual time, in ms from where it started (default: the scheduler's). */
  readonly maxVirtualMs?: number;
}

/** What a run did. */
export interface RunResult {
  /** Timer events fired. */
  readonly events: number;
  /** Virtual time (ms) when the run returned. */
  readonly nowMs: number;
}

/** Options of a {@link VirtualScheduler}. */
export interface VirtualSchedulerOptions {
  /** Virtual time at start, in ms; default 0. */
  readonly startMs?: number;
  /** Default per-run event bound; default 1,000,000. */
  readonly maxEvents?: number;
  /** Default per-run virtual-time bound in ms; default unbounded (the event bound still holds). */
  readonly maxVirtualMs?: number;
  /**
   * How to let in-process continuations settle before each timer; default: two `setImmediate` turns (the first
   * drains microtasks and ticks queued so far; the second catches `setImmediate` work those queued).
   */
  readonly settle?: () => Promise<void>;
}

/** A work function as RxJS schedules it. */
type Work<T> = (this: SchedulerAction<T>, state?: T) => void;

/** A scheduled unit of work: RxJS's `SchedulerAction`, reschedulable from inside its own work (periodic timers). */
class VirtualAction<T> extends Subscription implements SchedulerAction<T> {
  private entry: TimerEntry<VirtualAction<unknown>> | undefined;
  private state: T | undefined;

  constructor(
    private readonly queue: TimerQueue<VirtualAction<unknown>>,
    private readonly now: () => number,
    private readonly work: Work<T>,
  ) {
    super(() => {
      this.cancel();
    });
  }

  /** Queues (or re-queues, replacing any earlier due time) this action `delay` ms from now. */
  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.state = state;
    this.cancel();
    // Like RxJS's own actions: an infinite delay never fires, so it is not queued at all.
    if (delay === Infinity) return this;
    const ms = Number.isFinite(delay) && delay > 0 ? delay : 0;
    this.entry = this.queue.push(this.now() + ms, this as VirtualAction<unknown>);
    return this;
  }

  /** Runs the work; a throw closes the action and propagates to the run. */
  execute(): void {
    this.entry = undefined;
    try {
      this.work.call(this, this.state);
    } catch (err) {
      this.unsubscribe();
      throw err;
    }
  }

  private cancel(): void {
    if (this.entry !== undefined) this.queue.cancel(this.entry);
    this.entry = undefined;
  }
}

const defaultSettle = async (): Promise<void> => {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/** A virtual-time RxJS scheduler, driven by `advanceBy`, `advanceTo`, `runUntilIdle` and `runUntil`. */
export class VirtualScheduler implements SchedulerLike {
  private nowMs: number;
  private readonly queue = new TimerQueue<VirtualAction<unknown>>();
  private readonly maxEvents: number;
  private readonly maxVirtualMs: number;
  private readonly settle: () => Promise<void>;
  private running = false;
  private fired = 0;

  /** Creates a clock at `startMs` (default 0) with default run bounds. */
  constructor(opts: VirtualSchedulerOptions = {}) {
    this.nowMs = checkTime('startMs', opts.startMs ?? 0);
    this.maxEvents = opts.maxEvents ?? 1_000_000;
    this.maxVirtualMs = opts.maxVirtualMs ?? Infinity;
    this.settle = opts.settle ?? defaultSettle;
  }

  /** Current virtual time in milliseconds. */
  now(): number {
    return this.nowMs;
  }

  /** RxJS entry point: run `work` `delay` virtual ms from now (0 = at the current virtual time, after what is due). */
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new VirtualAction<T>(this.queue, () => this.nowMs, work).schedule(state, delay);
  }

  /** Number of timers waiting. */
  get pending(): number {
    return this.queue.size;
  }

  /** Total timer events fired since creation. */
  get eventsFired(): number {
    return this.fired;
  }

  /** Virtual time of the next timer, or undefined when none is queued. */
  nextDueMs(): number | undefined {
    return this.queue.peek()?.due;
  }

  /** Fires every timer due within the next `ms`, then leaves the clock at now + `ms`. */
  async advanceBy(ms: number, bounds: RunBounds = {}): Promise<RunResult> {
    return this.advanceTo(this.nowMs + checkTime('ms', ms), bounds);
  }

  /** Fires every timer due up to `timeMs`, then leaves the clock at `timeMs` (which must not be in the past). */
  async advanceTo(timeMs: number, bounds: RunBounds = {}): Promise<RunResult> {
    checkTime('timeMs', timeMs);
    if (timeMs < this.nowMs) {
      throw new ClockError('ERR_CLOCK_BAD_ARGUMENT', `cannot go back in time from ${this.nowMs} to ${timeMs}`, {
        nowMs: this.nowMs,
      });
    }
    return this.run({ stopAtMs: timeMs }, bounds);
  }

  /** Fires timers until none is left (a periodic timer never ends: the bounds stop it). */
  async runUntilIdle(bounds: RunBounds = {}): Promise<RunResult> {
    return this.run({}, bounds);
  }

  /**
   * Fires timers until `until` holds: a predicate (checked after each settle, before each timer) or a virtual time
   * (same as {@link advanceTo}). A predicate still false with no timer left is a deadlock: `ERR_CLOCK_IDLE`.
   */
  async runUntil(until: (() => boolean) | number, bounds: RunBounds = {}): Promise<RunResult> {
    return typeof until === 'number' ? this.advanceTo(until, bounds) : this.run({ predicate: until }, bounds);
  }

  private async run(
    goal: { readonly stopAtMs?: number; readonly predicate?: () => boolean },
    bounds: RunBounds,
  ): Promise<RunResult> {
    if (this.running) {
      throw new ClockError('ERR_CLOCK_REENTRANT', 'a run is already in progress on this scheduler', {
        nowMs: this.nowMs,
      });
    }
    this.running = true;
    const startMs = this.nowMs;
    const maxEvents = bounds.maxEvents ?? this.maxEvents;
    const maxVirtualMs = bounds.maxVirtualMs ?? this.maxVirtualMs;
    let events = 0;
    try {
      for (;;) {
        await this.settle();
        if (goal.predicate?.() === true) break;
        const next = this.queue.peek();
        if (next === undefined || (goal.stopAtMs !== undefined && next.due > goal.stopAtMs)) {
          if (goal.predicate !== undefined) {
            throw new ClockError('ERR_CLOCK_IDLE', `no timer left and the awaited condition is still false`, {
              nowMs: this.nowMs,
              events,
            });
          }
          break;
        }
        if (next.due - startMs > maxVirtualMs) {
          throw new ClockError(
            'ERR_CLOCK_MAX_VIRTUAL_TIME',
            `next timer at ${next.due} ms is beyond this run's budget of ${maxVirtualMs} ms from ${startMs} ms`,
            { nowMs: this.nowMs, events },
          );
        }
        if (events >= maxEvents) {
          throw new ClockError('ERR_CLOCK_MAX_EVENTS', `fired ${events} timer events without finishing`, {
            nowMs: this.nowMs,
            events,
          });
        }
        this.queue.pop();
        this.nowMs = next.due;
        events++;
        this.fired++;
        next.item.execute();
      }
      if (goal.stopAtMs !== undefined) this.nowMs = goal.stopAtMs;
      return { events, nowMs: this.nowMs };
    } finally {
      this.running = false;
    }
  }
}

function checkTime(name: string, ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new ClockError('ERR_CLOCK_BAD_ARGUMENT', `${name} must be a finite, non-negative number of ms, got ${ms}`);
  }
  return ms;
}
