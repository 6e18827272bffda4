import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BTH_BYTES, encodeBth, readBth, writeBth, type Bth } from '../../../sim/roce/bth.js';
import { RoceError } from '../../../sim/roce/errors.js';
import { arbBth } from '../../support/arbitraries/roce.js';

const sendOnly: Bth = {
  opcode: 0x04,
  solicited: false,
  migReq: false,
  padCount: 0,
  tver: 0,
  pkey: 0xffff,
  fecn: false,
  becn: false,
  destQp: 0x12,
  ackReq: true,
  psn: 0x0a0b0c,
};

describe('BTH', () => {
  it('matches the bytes of the iser-login.pcap example (roce-rxe.md §3.1)', () => {
    expect(encodeBth(sendOnly).toString('hex')).toBe('0400ffff00000012800a0b0c');
  });

  it('puts every flag at its bit', () => {
    const bytes = encodeBth({
      ...sendOnly,
      solicited: true,
      migReq: true,
      padCount: 3,
      tver: 0xf,
      fecn: true,
      becn: true,
    });
    expect(bytes[1]).toBe(0x80 | 0x40 | 0x30 | 0x0f);
    expect(bytes[4]).toBe(0xc0);
    expect(encodeBth({ ...sendOnly, ackReq: false })[8]).toBe(0);
  });

  it('round-trips every field', () => {
    fc.assert(
      fc.property(arbBth, (bth) => {
        const bytes = encodeBth(bth);
        expect(bytes.length).toBe(BTH_BYTES);
        expect(readBth(bytes)).toEqual(bth);
      }),
      { numRuns: 500 },
    );
  });

  it('ignores reserved bits on read and writes them as zero', () => {
    const bytes = encodeBth(sendOnly);
    bytes[4] = (bytes[4] ?? 0) | 0x3f;
    bytes[8] = (bytes[8] ?? 0) | 0x7f;
    expect(readBth(bytes)).toEqual(sendOnly);
  });

  it('refuses out-of-range fields and short buffers with typed errors', () => {
    expect(() => encodeBth({ ...sendOnly, destQp: 1 << 24 })).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }),
    );
    expect(() => encodeBth({ ...sendOnly, padCount: 4 })).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }),
    );
    expect(() => encodeBth({ ...sendOnly, psn: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }),
    );
    expect(() => readBth(Buffer.alloc(11))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }));
    expect(() => {
      writeBth(sendOnly, Buffer.alloc(12), 1);
    }).toThrow(expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }));
    expect(() => readBth(Buffer.alloc(3), 2)).toThrow(RoceError);
  });
});
