import { describe, expect, it } from 'vitest';
import { CreditGate } from '../../../transports/iser/credit-gate.js';

describe('CreditGate (MaxOutstandingUnexpectedPDUs flow control)', () => {
  it('lets at most the limit out per pool, queues the rest in order, and lets them go as answers come', () => {
    const gate = new CreditGate({ commands: 2, control: 1 });
    const sent: string[] = [];
    for (const key of ['a', 'b', 'c', 'd']) gate.submit('commands', key, () => sent.push(key));
    gate.submit('control', 'n1', () => sent.push('n1'));
    gate.submit('control', 'n2', () => sent.push('n2'));
    expect(sent).toEqual(['a', 'b', 'n1']);
    expect(gate.outstanding('commands')).toBe(2);
    expect(gate.queued('commands')).toBe(2);
    gate.release('commands', 'b');
    expect(sent).toEqual(['a', 'b', 'n1', 'c']);
    gate.release('commands', 'unknown');
    expect(sent).toHaveLength(4);
    gate.release('control', 'n1');
    gate.releaseAll('a');
    expect(sent).toEqual(['a', 'b', 'n1', 'c', 'n2', 'd']);
  });

  it('drops the queued PDUs of a task that ended, and everything when the connection ends', () => {
    const gate = new CreditGate({ commands: 1, control: 1 });
    const sent: number[] = [];
    gate.submit('commands', 'k1', () => sent.push(1), 1);
    gate.submit('commands', 'k2', () => sent.push(2), 2);
    gate.submit('commands', 'k3', () => sent.push(3), 3);
    gate.cancel(2);
    gate.release('commands', 'k1');
    expect(sent).toEqual([1, 3]);
    gate.submit('commands', 'k4', () => sent.push(4), 4);
    gate.clear();
    gate.releaseAll('k3');
    expect(sent).toEqual([1, 3]);
  });
});
