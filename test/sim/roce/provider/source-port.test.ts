/**
 * rxe's UDP source ports, against values computed independently (Python, from Linux's formulas).
 */
import { describe, expect, it } from 'vitest';
import { calcFlowLabel, hash32, qpSourcePort, rcSourcePort } from '../../../../sim/roce/provider/source-port.js';

describe('UDP source ports as rxe picks them', () => {
  it('QP1 and a fresh QP: 0xC000 + hash_32(qpn, 14)', () => {
    expect(hash32(1, 14)).toBe(0x1872);
    expect(qpSourcePort(1)).toBe(0xd872);
    expect(qpSourcePort(17)).toBe(0xdf94);
  });

  it('a connected RC QP: rdma_get_udp_sport(0, lqpn, rqpn)', () => {
    expect(calcFlowLabel(0x11, 0x11)).toBe(0x121);
    expect(rcSourcePort(0x11, 0x11)).toBe(0xc121);
    expect(calcFlowLabel(0x123456, 0xabcdef)).toBe(0xac3e3);
    expect(rcSourcePort(0x123456, 0xabcdef)).toBe(0xc3c8);
    expect(rcSourcePort(0x12, 0xffffff)).toBe(0xfece);
    // A flow label given explicitly is used as is.
    expect(rcSourcePort(1, 2, 0x00001)).toBe(0xc001);
  });
});
