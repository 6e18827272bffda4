/**
 * Real time: nothing to build. Outside the simulator, pass RxJS's own `asyncScheduler` wherever a `SchedulerLike`
 * is injected; `now()` is then wall-clock ms and timers are real `setInterval`s.
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs';

/** The scheduler for real time: RxJS's `asyncScheduler`. */
export const realTimeScheduler: SchedulerLike = asyncScheduler;
