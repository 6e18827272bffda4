/**
 * Property: whatever the wire does (seeded loss, duplication, reordering), the RC engine delivers exactly what
 * was sent, completes work requests in order, and when it gives up it says so (RETRY_EXC_ERR, then flushes).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Access, type SendWorkRequest } from '../../../../transports/verbs.js';
import { SeededRandom } from '../../../../sim/clock/random.js';
import type { RocePacket } from '../../../../sim/roce/packet.js';
import { EnginePair, type WireRecord } from './engine-pair.js';

const RW = Access.LOCAL_WRITE | Access.REMOTE_READ | Access.REMOTE_WRITE;

interface Op {
  readonly kind: 'SEND' | 'RDMA_WRITE' | 'RDMA_READ';
  readonly size: number;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('SEND' as const, 'RDMA_WRITE' as const, 'RDMA_READ' as const),
  size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1000, max: 5000 })),
});

/** A filter that loses, duplicates and reorders (holds a packet back until the next one), from `seed`. */
function faultyWire(seed: number, rate: number): (r: WireRecord) => 'pass' | 'drop' | 'dup' | readonly RocePacket[] {
  const random = new SeededRandom(seed);
  let held: RocePacket | undefined;
  return (r) => {
    const release = held;
    held = undefined;
    const roll = random.float();
    if (roll < rate) return release === undefined ? 'drop' : [release];
    if (roll < 2 * rate) return release === undefined ? 'dup' : [r.packet, r.packet, release];
    if (roll < 3 * rate && release === undefined) {
      held = r.packet;
      return [];
    }
    return release === undefined ? 'pass' : [r.packet, release];
  };
}

describe('RC engine under a faulty wire', () => {
  it('delivers exactly, in order, or fails cleanly', () => {
    let recovered = 0;
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 12 }),
        fc.integer(),
        fc.double({ min: 0.02, max: 0.1, noNaN: true }),
        (ops, seed, rate) => {
          const p = new EnginePair({ a: { maxRdAtomic: 2 }, b: { maxDestRdAtomic: 2 } }, seed >>> 0);
          p.filter = faultyWire(seed, rate);
          const total = ops.reduce((n, op) => n + op.size, 0);
          const local = p.pd.a.register(Buffer.alloc(Math.max(1, total)), Access.LOCAL_WRITE);
          new SeededRandom(seed).bytes(local.length).copy(local.buffer);
          const source = Buffer.from(local.buffer);
          const remote = p.pd.b.register(Buffer.alloc(Math.max(1, total)), RW);
          new SeededRandom(`${seed}:remote`).bytes(remote.length).copy(remote.buffer);
          const remoteBefore = Buffer.from(remote.buffer);
          const rbuf = p.pd.b.register(Buffer.alloc(Math.max(1, total)), Access.LOCAL_WRITE);
          let offset = 0;
          const wrs: SendWorkRequest[] = [];
          ops.forEach((op, i) => {
            const sgl = [{ mr: local, offset, length: op.size }];
            if (op.kind === 'SEND') {
              p.apply('b', p.qp.b.postRecv([{ wrId: i, sgl: [{ mr: rbuf, offset, length: op.size }] }]));
              wrs.push({ wrId: i, opcode: 'SEND', sgl });
            } else {
              wrs.push({ wrId: i, opcode: op.kind, remoteAddr: remote.addr + BigInt(offset), rkey: remote.rkey, sgl });
            }
            offset += op.size;
          });
          p.apply('a', p.qp.a.postSend(wrs));
          p.run();
          const statuses = p.wcs.a.map((wc) => wc.status);
          expect(p.wcs.a.map((wc) => wc.wrId)).toEqual(ops.map((_, i) => i));
          const firstFailure = statuses.findIndex((s) => s !== 'SUCCESS');
          if (firstFailure >= 0) {
            expect(statuses[firstFailure]).toBe('RETRY_EXC_ERR');
            expect(statuses.slice(firstFailure + 1).every((s) => s === 'WR_FLUSH_ERR')).toBe(true);
          }
          offset = 0;
          ops.forEach((op, i) => {
            const range = [offset, offset + op.size] as const;
            offset += op.size;
            if (statuses[i] !== 'SUCCESS') return;
            if (op.kind === 'SEND') expect(rbuf.buffer.subarray(...range).equals(source.subarray(...range))).toBe(true);
            if (op.kind === 'RDMA_WRITE')
              expect(remote.buffer.subarray(...range).equals(source.subarray(...range))).toBe(true);
            if (op.kind === 'RDMA_READ')
              expect(local.buffer.subarray(...range).equals(remoteBefore.subarray(...range))).toBe(true);
          });
          // Receives complete once each, in order, for the SENDs that succeeded.
          const sends = ops.flatMap((op, i) => (op.kind === 'SEND' && statuses[i] === 'SUCCESS' ? [i] : []));
          expect(p.wcs.b.filter((wc) => wc.status === 'SUCCESS').map((wc) => wc.wrId)).toEqual(sends);
          if (firstFailure < 0 && p.counters.a.snapshot().retransmittedPackets > 0) recovered++;
        },
      ),
      { numRuns: 150 },
    );
    // The faults were real: many runs needed retransmissions and still delivered everything.
    expect(recovered).toBeGreaterThan(20);
  });
});
