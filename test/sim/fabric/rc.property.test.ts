/**
 * RC properties over random workloads, links, seeds and benign faults (jitter, delays, RNR storms, a peer that
 * pauses): every work request completes successfully, in posting order, with the right bytes in the right place,
 * and the fabric copies each moved byte exactly once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Access } from '../../../transports/verbs.js';
import type { Sge, SendWorkRequest } from '../../../transports/verbs.js';
import type { SimMemoryRegion } from '../../../sim/fabric/memory-region.js';
import type { FaultRule } from '../../../sim/fabric/fault-plan.js';
import { connectPair, pattern } from './pair.js';
import { makeSimEnv } from './sim-env.js';

const RW = Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ;
const SLOT = 8192; // each operation owns one slot of each region

interface Op {
  readonly kind: 'SEND' | 'RDMA_WRITE' | 'RDMA_READ';
  readonly size: number;
  /** Where the operation's SGL is cut (fractions of its size). */
  readonly cuts: readonly number[];
  readonly signaled: boolean;
}

const op: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('SEND', 'RDMA_WRITE', 'RDMA_READ'),
  size: fc.oneof(fc.constantFrom(0, 1, 4096, SLOT), fc.integer({ min: 0, max: SLOT })),
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }),
  signaled: fc.boolean(),
});

const benignFault: fc.Arbitrary<FaultRule> = fc.oneof(
  fc.record({
    kind: fc.constant('delay' as const),
    extraMs: fc.double({ min: 0, max: 0.2, noNaN: true }),
    jitterMs: fc.double({ min: 0, max: 0.2, noNaN: true }),
    probability: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant('rnr-storm' as const),
    fromMs: fc.double({ min: 0, max: 1, noNaN: true }),
    durationMs: fc.double({ min: 0, max: 2, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant('stop-answering' as const),
    host: fc.constant('10.0.0.2'),
    atMs: fc.double({ min: 0, max: 1, noNaN: true }),
    durationMs: fc.double({ min: 0, max: 3, noNaN: true }),
  }),
);

/** Cuts `[offset, offset + size)` of `mr` into SGEs at the given fractions. */
function sgl(mr: SimMemoryRegion, offset: number, size: number, cuts: readonly number[]): Sge[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * size)))].sort((a, b) => a - b);
  const bounds = [0, ...points.filter((p) => p > 0 && p < size), size];
  const out: Sge[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    out.push({ mr, offset: offset + bounds[i]!, length: bounds[i + 1]! - bounds[i]! });
  }
  return out;
}

describe('RC properties', () => {
  it('random workloads complete in order with the right bytes, one copy per byte', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer(),
        fc.record({
          latencyMs: fc.double({ min: 0, max: 0.1, noNaN: true }),
          bandwidthGbps: fc.constantFrom(1, 10, 100, Infinity),
          jitterMs: fc.double({ min: 0, max: 0.05, noNaN: true }),
        }),
        fc.array(op, { minLength: 1, maxLength: 24 }),
        fc.array(benignFault, { maxLength: 3 }),
        fc.integer({ min: 1, max: 8 }),
        async (seed, link, ops, rules, depth) => {
          const env = makeSimEnv({ seed, link, timings: { retransmitTimeoutMs: 1 } });
          const { client, server, clientWc, serverWc } = await connectPair(env, {
            connect: { initiatorDepth: depth, retryCount: 7 },
            accept: { rnrRetryCount: 7 },
          });
          // Faults start once connected (CM messages are not retransmitted: a lost REQ is a connect timeout).
          const t0 = env.fabric.now();
          for (const rule of rules) {
            if (rule.kind === 'rnr-storm') env.fabric.addFault({ ...rule, fromMs: rule.fromMs + t0 });
            else if (rule.kind === 'stop-answering') env.fabric.addFault({ ...rule, atMs: (rule.atMs ?? 0) + t0 });
            else env.fabric.addFault(rule);
          }
          const n = ops.length;
          const local = client.pd.register(pattern(n * SLOT, 1), RW);
          const remote = server.pd.register(pattern(n * SLOT, 2), RW);
          const recvs = server.pd.register(Buffer.alloc(n * SLOT), Access.LOCAL_WRITE);
          const before = { local: Buffer.from(local.buffer), remote: Buffer.from(remote.buffer) };
          const sends = ops.filter((o) => o.kind === 'SEND').length;
          server.postRecv([...Array(sends).keys()].map((i) => ({ wrId: i, sgl: sgl(recvs, i * SLOT, SLOT, [0.5]) })));
          const wrs: SendWorkRequest[] = ops.map((o, i) => {
            const list = sgl(local, i * SLOT, o.size, o.cuts);
            const remoteAddr = remote.addr + BigInt(i * SLOT);
            return o.kind === 'SEND'
              ? { wrId: i, opcode: 'SEND', sgl: list, signaled: o.signaled }
              : { wrId: i, opcode: o.kind, sgl: list, remoteAddr, rkey: remote.rkey, signaled: o.signaled };
          });
          client.postSend(wrs);
          const signaled = ops.filter((o) => o.signaled).length;
          const [sent, received] = await env.run(Promise.all([clientWc.take(signaled), serverWc.take(sends)]));
          await env.settle();

          expect(clientWc.values).toHaveLength(signaled);
          expect(sent.every((wc) => wc.status === 'SUCCESS')).toBe(true);
          expect(sent.map((wc) => wc.wrId)).toEqual(ops.flatMap((o, i) => (o.signaled ? [i] : [])));
          expect(received.every((wc) => wc.status === 'SUCCESS')).toBe(true);
          let sendIndex = 0;
          let moved = 0;
          ops.forEach((o, i) => {
            const at = i * SLOT;
            moved += o.size;
            if (o.kind === 'SEND') {
              const r = sendIndex++;
              expect(received[r]?.byteLen).toBe(o.size);
              const got = recvs.buffer.subarray(r * SLOT, r * SLOT + o.size);
              expect(got.equals(before.local.subarray(at, at + o.size))).toBe(true);
            } else if (o.kind === 'RDMA_WRITE') {
              expect(remote.buffer.subarray(at, at + o.size).equals(before.local.subarray(at, at + o.size))).toBe(true);
            } else {
              expect(local.buffer.subarray(at, at + o.size).equals(before.remote.subarray(at, at + o.size))).toBe(true);
            }
          });
          const c = env.fabric.counters;
          expect(c.bytes.SEND + c.bytes.RDMA_WRITE + c.bytes.RDMA_READ).toBe(moved);
          // Copies: each byte once, plus READ responses replayed after a retransmission (a real second copy).
          if (c.retransmits === 0) expect(c.copies.bytes).toBe(moved);
          else expect(c.copies.bytes).toBeGreaterThanOrEqual(moved);
          expect(c.errors).toEqual({});
        },
      ),
      { numRuns: 60 },
    );
  });
});
