/**
 * The restartable timer: fires once at its latest deadline, whatever the pushes back, and never when cancelled.
 */
import { describe, expect, it } from 'vitest';
import { VirtualScheduler } from '../../../../sim/clock/virtual-scheduler.js';
import { EdgeTimer } from '../../../../sim/roce/provider/edge-timer.js';

describe('EdgeTimer', () => {
  it('fires at the latest deadline after being pushed back, with one scheduled action at a time', async () => {
    const clock = new VirtualScheduler();
    const fired: number[] = [];
    const timer = new EdgeTimer(clock, () => fired.push(clock.now()));
    timer.arm(10);
    for (let t = 1; t <= 5; t++)
      clock.schedule(() => {
        timer.arm(10);
      }, t);
    expect(clock.pending).toBe(6);
    await clock.runUntilIdle();
    expect(fired).toEqual([15]);
    expect(timer.armed).toBe(false);
  });

  it('an earlier deadline reschedules; cancel stops it', async () => {
    const clock = new VirtualScheduler();
    const fired: number[] = [];
    const timer = new EdgeTimer(clock, () => fired.push(clock.now()));
    timer.arm(100);
    timer.arm(0.64);
    await clock.runUntilIdle();
    expect(fired).toEqual([0.64]);
    timer.arm(5);
    timer.cancel();
    await clock.runUntilIdle();
    expect(fired).toEqual([0.64]);
  });

  it('float sums of delays never make it sleep forever', async () => {
    const clock = new VirtualScheduler({ startMs: 0.1 });
    const fired: number[] = [];
    const timer = new EdgeTimer(clock, () => fired.push(clock.now()));
    timer.arm(0.2);
    clock.schedule(() => {
      timer.arm(0.2 - 1e-12);
    }, 0.1);
    await clock.runUntilIdle({ maxEvents: 10 });
    expect(fired.length).toBe(1);
  });
});
