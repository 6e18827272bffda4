import fc from 'fast-check';
import {
  debounceTime,
  delay,
  firstValueFrom,
  interval,
  lastValueFrom,
  NEVER,
  of,
  Subject,
  take,
  timeout,
  timer,
  TimeoutError,
  toArray,
} from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ClockError } from '../../../sim/clock/errors.js';
import { VirtualScheduler } from '../../../sim/clock/virtual-scheduler.js';

/** Collects what happened, and when in virtual time. */
function recorder(vs: VirtualScheduler): { log: string[]; note: (what: string) => void } {
  const log: string[] = [];
  return { log, note: (what) => log.push(`${what}@${vs.now()}`) };
}

function rejectsWith(code: string): ReturnType<typeof expect.objectContaining> {
  return expect.objectContaining({ code, name: 'ClockError' });
}

describe('VirtualScheduler ordering', () => {
  it('fires timers in due order, FIFO among ties, with now() at each due time', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 40 }), async (delays) => {
        const vs = new VirtualScheduler();
        const fired: [number, number][] = [];
        delays.forEach((d, i) => vs.schedule(() => fired.push([i, vs.now()]), d));
        const result = await vs.runUntilIdle();
        const expected = delays.map((d, i) => [i, d] as [number, number]).sort((a, b) => a[1] - b[1] || a[0] - b[0]);
        expect(fired).toEqual(expected);
        expect(result.events).toBe(delays.length);
        expect(vs.pending).toBe(0);
      }),
      { numRuns: 50 },
    );
  });

  it('runs work scheduled at delay 0 from inside a timer after what is already due at that time', async () => {
    const vs = new VirtualScheduler();
    const { log, note } = recorder(vs);
    vs.schedule(() => {
      note('a');
      vs.schedule(() => {
        note('c');
      }, 0);
    }, 5);
    vs.schedule(() => {
      note('b');
    }, 5);
    await vs.runUntilIdle();
    expect(log).toEqual(['a@5', 'b@5', 'c@5']);
  });

  it('reschedules an action from its own work (periodic) and replaces a pending due time', async () => {
    const vs = new VirtualScheduler();
    const times: number[] = [];
    const sub = vs.schedule<number>(
      function (n = 0) {
        times.push(vs.now());
        if (n < 3) this.schedule(n + 1, 7);
      },
      100,
      0,
    );
    // Rescheduling before it fires moves it: only the new due time counts.
    (sub as unknown as { schedule(state: number, delay: number): void }).schedule(0, 10);
    await vs.runUntilIdle();
    expect(times).toEqual([10, 17, 24, 31]);
  });

  it('does not fire an unsubscribed timer, and never queues an infinite delay', async () => {
    const vs = new VirtualScheduler();
    const { log, note } = recorder(vs);
    const sub = vs.schedule(() => {
      note('cancelled');
    }, 10);
    vs.schedule(() => {
      note('kept');
    }, 20);
    vs.schedule(() => {
      note('never');
    }, Infinity);
    expect(vs.pending).toBe(2);
    sub.unsubscribe();
    expect(vs.pending).toBe(1);
    expect(vs.nextDueMs()).toBe(20);
    await vs.runUntilIdle();
    expect(log).toEqual(['kept@20']);
  });

  it('advanceBy fires only what is due and moves the clock by exactly that much', async () => {
    const vs = new VirtualScheduler({ startMs: 1000 });
    const { log, note } = recorder(vs);
    vs.schedule(() => {
      note('x');
    }, 50);
    expect(await vs.advanceBy(49)).toEqual({ events: 0, nowMs: 1049 });
    expect(log).toEqual([]);
    expect(await vs.advanceBy(1)).toEqual({ events: 1, nowMs: 1050 });
    await vs.advanceBy(500);
    expect(vs.now()).toBe(1550);
    expect(log).toEqual(['x@1050']);
  });

  it('gives the same log for the same program, run twice', async () => {
    const program = async (): Promise<string[]> => {
      const vs = new VirtualScheduler();
      const { log, note } = recorder(vs);
      interval(3, vs)
        .pipe(take(4))
        .subscribe((i) => {
          note(`i${i}`);
        });
      void (async () => {
        await firstValueFrom(timer(4, vs));
        note('p');
        await firstValueFrom(timer(4, vs));
        note('q');
      })();
      await vs.runUntilIdle();
      return log;
    };
    const first = await program();
    expect(first).toEqual(['i0@3', 'p@4', 'i1@6', 'q@8', 'i2@9', 'i3@12']);
    expect(await program()).toEqual(first);
  });
});

describe('RxJS operators on virtual time', () => {
  it('timer() emits at its due time and not before', async () => {
    const vs = new VirtualScheduler();
    const { log, note } = recorder(vs);
    timer(100, vs).subscribe(() => {
      note('timer');
    });
    await vs.advanceBy(99);
    expect(log).toEqual([]);
    await vs.advanceBy(1);
    expect(log).toEqual(['timer@100']);
  });

  it('interval() ticks every period', async () => {
    const vs = new VirtualScheduler();
    const { log, note } = recorder(vs);
    interval(10, vs)
      .pipe(take(5))
      .subscribe((i) => {
        note(String(i));
      });
    await vs.runUntilIdle();
    expect(log).toEqual(['0@10', '1@20', '2@30', '3@40', '4@50']);
  });

  it('timeout() errors at the deadline, and stays quiet while values keep coming', async () => {
    const vs = new VirtualScheduler();
    const silent = lastValueFrom(NEVER.pipe(timeout({ each: 50, scheduler: vs })));
    const chatty = lastValueFrom(interval(30, vs).pipe(take(4), timeout({ each: 40, scheduler: vs }), toArray()));
    const outcome = silent.then(
      () => 'value',
      (err: unknown) => (err instanceof TimeoutError ? `timeout@${vs.now()}` : 'other'),
    );
    await vs.runUntilIdle();
    expect(await outcome).toBe('timeout@50');
    expect(await chatty).toEqual([0, 1, 2, 3]);
  });

  it('delay() shifts emissions by the delay', async () => {
    const vs = new VirtualScheduler();
    const { log, note } = recorder(vs);
    of(1, 2)
      .pipe(delay(25, vs))
      .subscribe((v) => {
        note(String(v));
      });
    await vs.runUntilIdle();
    expect(log).toEqual(['1@25', '2@25']);
  });

  it('debounceTime() emits the last value once the source has been quiet long enough', async () => {
    const vs = new VirtualScheduler();
    const { log, note } = recorder(vs);
    const subject = new Subject<string>();
    subject.pipe(debounceTime(15, vs)).subscribe((v) => {
      note(v);
    });
    for (const [at, v] of [
      [0, 'a'],
      [10, 'b'],
      [20, 'c'],
      [50, 'd'],
    ] as const) {
      vs.schedule(() => {
        subject.next(v);
      }, at);
    }
    await vs.runUntilIdle();
    expect(log).toEqual(['c@35', 'd@65']);
  });
});

describe('interleaving with Promises', () => {
  it('lets await continuations run before the next timer fires', async () => {
    const vs = new VirtualScheduler();
    const { log, note } = recorder(vs);
    const done = (async () => {
      note('start');
      await firstValueFrom(timer(10, vs));
      note('a');
      // A chain of awaits and a setImmediate hop before the next virtual sleep is scheduled.
      await Promise.resolve();
      await new Promise<void>((resolve) => setImmediate(resolve));
      await firstValueFrom(timer(5, vs));
      note('b');
    })();
    vs.schedule(() => {
      note('x');
    }, 12);
    await vs.runUntilIdle();
    await done;
    // Without settling, 'x' would fire before 'a' was noted and 'b' would land at 17.
    expect(log).toEqual(['start@0', 'a@10', 'x@12', 'b@15']);
  });

  it('runUntil(predicate) stops as soon as the condition holds', async () => {
    const vs = new VirtualScheduler();
    let count = 0;
    interval(10, vs).subscribe(() => {
      count++;
    });
    const result = await vs.runUntil(() => count >= 3);
    expect(result).toEqual({ events: 3, nowMs: 30 });
  });

  it('runUntil(predicate) sees a Promise resolved by a timer', async () => {
    const vs = new VirtualScheduler();
    let resolved = false;
    void firstValueFrom(timer(42, vs)).then(() => {
      resolved = true;
    });
    expect((await vs.runUntil(() => resolved)).nowMs).toBe(42);
  });

  it('runUntil(time) behaves like advanceTo', async () => {
    const vs = new VirtualScheduler();
    const { log, note } = recorder(vs);
    vs.schedule(() => {
      note('x');
    }, 5);
    vs.schedule(() => {
      note('y');
    }, 15);
    expect(await vs.runUntil(10)).toEqual({ events: 1, nowMs: 10 });
    expect(log).toEqual(['x@5']);
  });
});

describe('bounds and errors', () => {
  it('stops a runaway interval at maxEvents with a typed error', async () => {
    const vs = new VirtualScheduler();
    interval(1, vs).subscribe();
    await expect(vs.runUntilIdle({ maxEvents: 100 })).rejects.toEqual(rejectsWith('ERR_CLOCK_MAX_EVENTS'));
    expect(vs.eventsFired).toBe(100);
    expect(vs.now()).toBe(100);
  });

  it('refuses to pass the virtual-time budget', async () => {
    const vs = new VirtualScheduler({ maxVirtualMs: 500 });
    vs.schedule(() => undefined, 400);
    vs.schedule(() => undefined, 1000);
    const err: unknown = await vs.runUntilIdle().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClockError);
    expect(err).toMatchObject({ code: 'ERR_CLOCK_MAX_VIRTUAL_TIME', nowMs: 400, events: 1 });
  });

  it('reports a deadlock when the awaited condition can no longer become true', async () => {
    const vs = new VirtualScheduler();
    vs.schedule(() => undefined, 5);
    await expect(vs.runUntil(() => false)).rejects.toEqual(rejectsWith('ERR_CLOCK_IDLE'));
    expect(vs.now()).toBe(5);
  });

  it('rejects overlapping runs, going back in time, and bad durations', async () => {
    const vs = new VirtualScheduler();
    vs.schedule(() => undefined, 5);
    const first = vs.runUntilIdle();
    await expect(vs.advanceBy(1)).rejects.toEqual(rejectsWith('ERR_CLOCK_REENTRANT'));
    await first;
    await expect(vs.advanceTo(1)).rejects.toEqual(rejectsWith('ERR_CLOCK_BAD_ARGUMENT'));
    await expect(vs.advanceBy(-1)).rejects.toEqual(rejectsWith('ERR_CLOCK_BAD_ARGUMENT'));
    await expect(vs.advanceBy(Number.NaN)).rejects.toEqual(rejectsWith('ERR_CLOCK_BAD_ARGUMENT'));
    expect(() => new VirtualScheduler({ startMs: -5 })).toThrow(ClockError);
    // After all that the clock still works.
    expect(await vs.advanceBy(1)).toEqual({ events: 0, nowMs: 6 });
  });

  it('propagates a throw from work to the run and keeps the other timers', async () => {
    const vs = new VirtualScheduler();
    const boom = new Error('boom');
    vs.schedule(() => {
      throw boom;
    }, 1);
    vs.schedule(() => undefined, 2);
    await expect(vs.runUntilIdle()).rejects.toBe(boom);
    expect(vs.pending).toBe(1);
    expect((await vs.runUntilIdle()).nowMs).toBe(2);
  });

  it('keeps a timeout() that is reset by every value cheap: one live timer', async () => {
    const vs = new VirtualScheduler();
    const values = interval(1, vs).pipe(take(5000), timeout({ each: 1000, scheduler: vs }), toArray());
    const all = lastValueFrom(values);
    await vs.advanceBy(2500);
    // The interval's own action plus the current timeout: rescheduled timers do not pile up.
    expect(vs.pending).toBe(2);
    await vs.runUntilIdle();
    expect(await all).toHaveLength(5000);
  });
});
