/**
 * Keeps a {@link VirtualScheduler} running for code that just awaits (the session suite does): fires timers as
 * long as there are any, and when none is left waits a real millisecond for new work. So virtual time moves only
 * when something is scheduled, and a timeout fires only if nothing due earlier can unblock the wait: in virtual
 * time, a timeout means a deadlock, never a slow machine.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { VirtualScheduler } from '../../../sim/clock/virtual-scheduler.js';

/** A running pump. */
export interface VirtualPump {
  /** Stops pumping; rejects with the clock's error if a run failed (e.g. a bound was exceeded). */
  stop(): Promise<void>;
}

/** Most idle turns one pump may take (a fence behind the test timeouts: about an hour of idle milliseconds). */
const MAX_IDLE_TURNS = 3_600_000;

/** Starts pumping `clock` until `stop()`. */
export function pumpVirtualTime(clock: VirtualScheduler): VirtualPump {
  // An object, not a local: the loop must see the flag change while it awaits.
  const state = { stopped: false };
  const done = (async () => {
    for (let turn = 0; !state.stopped && turn < MAX_IDLE_TURNS; turn++) {
      await clock.runUntil(() => state.stopped || clock.pending === 0);
      // Idle: give real time a millisecond to bring new work (a no-op turn once stopped).
      await sleep(1);
    }
  })();
  // A failed run surfaces at stop(); until then it must not be an unhandled rejection.
  done.catch(() => undefined);
  return {
    stop: async () => {
      state.stopped = true;
      await done;
    },
  };
}
