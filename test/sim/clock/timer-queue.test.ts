import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerQueue, type TimerEntry } from '../../../sim/clock/timer-queue.js';

type Op = { kind: 'push'; due: number } | { kind: 'cancel'; pick: number } | { kind: 'pop' };

describe('TimerQueue', () => {
  it('behaves like a list sorted by (due, insertion order) under pushes, cancels and pops', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), due: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('pop' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const queue = new TimerQueue<number>();
        const model: { due: number; id: number }[] = [];
        const entries = new Map<number, TimerEntry<number>>();
        let id = 0;
        for (const o of ops) {
          if (o.kind === 'push') {
            entries.set(id, queue.push(o.due, id));
            model.push({ due: o.due, id });
            model.sort((a, b) => a.due - b.due || a.id - b.id);
            id++;
          } else if (o.kind === 'cancel') {
            if (model.length === 0) continue;
            const victim = model.splice(o.pick % model.length, 1)[0]!;
            queue.cancel(entries.get(victim.id)!);
          } else {
            expect(queue.pop()?.item).toBe(model.shift()?.id);
          }
          expect(queue.size).toBe(model.length);
          expect(queue.peek()?.item).toBe(model[0]?.id);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('ignores cancelling an entry twice or after it fired', () => {
    const queue = new TimerQueue<string>();
    const a = queue.push(1, 'a');
    queue.push(2, 'b');
    expect(queue.pop()?.item).toBe('a');
    queue.cancel(a);
    expect(queue.size).toBe(1);
    const c = queue.push(0, 'c');
    queue.cancel(c);
    queue.cancel(c);
    expect(queue.size).toBe(1);
    expect(queue.pop()?.item).toBe('b');
    expect(queue.pop()).toBeUndefined();
  });
});
