import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATOMIC_ACK_ETH_BYTES,
  ATOMIC_ETH_BYTES,
  readAtomicAckEth,
  readAtomicEth,
  writeAtomicAckEth,
  writeAtomicEth,
} from '../../../sim/roce/atomic-eth.js';
import { arbAtomicEth, arbU64 } from '../../support/arbitraries/roce.js';

describe('AtomicETH and AtomicAckETH', () => {
  it('packs VA, R_Key, swap/add and compare into 28 bytes', () => {
    const out = Buffer.alloc(ATOMIC_ETH_BYTES);
    writeAtomicEth({ va: 0x10n, rkey: 0x22, swapAdd: 0x33n, compare: 0x44n }, out, 0);
    expect(out.toString('hex')).toBe('0000000000000010' + '00000022' + '0000000000000033' + '0000000000000044');
  });

  it('round-trip', () => {
    fc.assert(
      fc.property(arbAtomicEth, arbU64, (eth, original) => {
        const out = Buffer.alloc(ATOMIC_ETH_BYTES);
        writeAtomicEth(eth, out, 0);
        expect(readAtomicEth(out)).toEqual(eth);
        const ack = Buffer.alloc(ATOMIC_ACK_ETH_BYTES);
        writeAtomicAckEth(original, ack, 0);
        expect(readAtomicAckEth(ack)).toBe(original);
      }),
      { numRuns: 200 },
    );
  });

  it('reject short input', () => {
    expect(() => readAtomicEth(Buffer.alloc(27))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }));
    expect(() => readAtomicAckEth(Buffer.alloc(7))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }));
  });
});
