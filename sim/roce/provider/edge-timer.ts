/**
 * One restartable timer on an injected scheduler. rxe pushes its retransmit timer back on every ACK; doing that
 * with a fresh scheduled action each time would churn the scheduler, so a later deadline only moves a number,
 * and the action, when it fires early, sleeps again until the deadline.
 */
import type { SchedulerLike, Subscription } from 'rxjs';

const EPSILON_MS = 1e-6;

/** A timer that fires `onFire` at its latest deadline. */
export class EdgeTimer {
  readonly #scheduler: SchedulerLike;
  readonly #onFire: () => void;
  #deadline: number | undefined;
  #action: Subscription | undefined;
  #actionDue = 0;

  /** A timer on `scheduler`; nothing is scheduled until {@link EdgeTimer.arm}. */
  constructor(scheduler: SchedulerLike, onFire: () => void) {
    this.#scheduler = scheduler;
    this.#onFire = onFire;
  }

  /** True while armed. */
  get armed(): boolean {
    return this.#deadline !== undefined;
  }

  /** Fires `delayMs` from now, replacing any earlier deadline. */
  arm(delayMs: number): void {
    const deadline = this.#scheduler.now() + Math.max(0, delayMs);
    this.#deadline = deadline;
    if (this.#action !== undefined && this.#actionDue <= deadline) return;
    this.#schedule(deadline);
  }

  /** Disarms. */
  cancel(): void {
    this.#deadline = undefined;
    this.#action?.unsubscribe();
    this.#action = undefined;
  }

  #schedule(due: number): void {
    this.#action?.unsubscribe();
    this.#actionDue = due;
    this.#action = this.#scheduler.schedule(() => {
      this.#action = undefined;
      const deadline = this.#deadline;
      if (deadline === undefined) return;
      // Pushed back meanwhile (with a tolerance: float sums of delays must not make it sleep forever).
      if (deadline - this.#scheduler.now() > EPSILON_MS) {
        this.#schedule(deadline);
        return;
      }
      this.#deadline = undefined;
      this.#onFire();
    }, due - this.#scheduler.now());
  }
}
