import { describe, expect, it } from 'vitest';
import {
  ibTimeoutUsec,
  localAckTimeoutUsec,
  RNR_TIMER_USEC,
  rnrTimerCodeAtLeast,
  rnrTimerUsec,
} from '../../../sim/roce/timers.js';

describe('timers', () => {
  it("holds rxe's RNR NAK table (roce-rxe.md §3.6)", () => {
    expect(RNR_TIMER_USEC.length).toBe(32);
    expect(rnrTimerUsec(0)).toBe(655360);
    expect(rnrTimerUsec(1)).toBe(10);
    expect(rnrTimerUsec(14)).toBe(1280);
    expect(rnrTimerUsec(25)).toBe(61410); // rxe's value; IBA says 61440
    expect(rnrTimerUsec(31)).toBe(491520);
    for (let code = 2; code < 32; code++) expect(rnrTimerUsec(code)).toBeGreaterThan(rnrTimerUsec(code - 1));
    expect(() => rnrTimerUsec(32)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }));
    expect(() => rnrTimerUsec(1.5)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }));
  });

  it('finds the shortest RNR code that waits long enough', () => {
    expect(rnrTimerCodeAtLeast(1)).toBe(1);
    expect(rnrTimerCodeAtLeast(1000)).toBe(14);
    expect(rnrTimerCodeAtLeast(1280)).toBe(14);
    expect(rnrTimerCodeAtLeast(600_000)).toBe(0);
  });

  it('computes 4.096 µs · 2^n, with 0 meaning no local ACK timeout', () => {
    expect(localAckTimeoutUsec(0)).toBe(Infinity);
    expect(localAckTimeoutUsec(14)).toBeCloseTo(67108.864, 6);
    expect(ibTimeoutUsec(0)).toBe(4.096);
    expect(ibTimeoutUsec(20)).toBeCloseTo(4294967.296, 3); // rdma_cm's CM response timeout, ~4.3 s
    expect(() => localAckTimeoutUsec(32)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }));
  });
});
