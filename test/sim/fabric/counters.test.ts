/**
 * Counters: one payload copy per byte moved (checked against `Buffer.prototype.copy` itself), operations and
 * bytes by opcode, per-connection counters adding up to the fabric's, errors by status.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Access } from '../../../transports/verbs.js';
import type { SendWorkRequest } from '../../../transports/verbs.js';
import { COUNTED_OPCODES } from '../../../sim/fabric/counters.js';
import { connectPair, pattern } from './pair.js';
import { makeSimEnv } from './sim-env.js';

const RW = Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('counters', () => {
  it('count exactly one payload copy per byte moved, and Buffer.copy agrees', async () => {
    const env = makeSimEnv();
    const { client, server, clientWc, serverWc } = await connectPair(env);
    const remote = server.pd.register(pattern(1 << 20, 1), RW);
    const target = server.pd.register(Buffer.alloc(4096), RW, { invalidatable: true });
    const rbuf = server.pd.register(Buffer.alloc(64 * 1024), Access.LOCAL_WRITE);
    const local = client.pd.register(pattern(1 << 20, 2), RW);
    // Receives of two SGEs each; sends gathered from three: SEND pieces are copied where both lists break.
    server.postRecv(
      [0, 1, 2].map((i) => ({
        wrId: i,
        sgl: [
          { mr: rbuf, offset: i * 8192, length: 1000 },
          { mr: rbuf, offset: i * 8192 + 4096, length: 4000 },
        ],
      })),
    );
    const threePieces = [
      { mr: local, offset: 0, length: 500 },
      { mr: local, offset: 10_000, length: 1500 },
      { mr: local, offset: 20_000, length: 2000 },
    ];
    const wrs: SendWorkRequest[] = [
      { wrId: 1, opcode: 'SEND', sgl: threePieces },
      { wrId: 2, opcode: 'RDMA_WRITE', remoteAddr: remote.addr + 5n, rkey: remote.rkey, sgl: threePieces },
      {
        wrId: 3,
        opcode: 'RDMA_READ',
        remoteAddr: remote.addr,
        rkey: remote.rkey,
        sgl: [{ mr: local, offset: 100_000, length: 512 * 1024 }],
      },
      { wrId: 4, opcode: 'SEND', sgl: [{ mr: local, offset: 0, length: 1 }], signaled: false },
      { wrId: 5, opcode: 'SEND_WITH_INV', invalidateRkey: target.rkey, sgl: [{ mr: local, offset: 0, length: 0 }] },
      { wrId: 6, opcode: 'RDMA_WRITE', remoteAddr: remote.addr, rkey: remote.rkey, sgl: [] },
    ];
    const copy = vi.spyOn(Buffer.prototype, 'copy');
    client.postSend(wrs);
    await env.run(Promise.all([clientWc.take(5), serverWc.take(3)]));
    const counted = env.fabric.counters;
    const copiedBytes = copy.mock.calls.reduce((sum, args) => sum + (Number(args[3]) - Number(args[2])), 0);

    expect(counted.operations).toEqual({ SEND: 2, SEND_WITH_INV: 1, RDMA_WRITE: 2, RDMA_READ: 1 });
    expect(counted.bytes).toEqual({ SEND: 4001, SEND_WITH_INV: 0, RDMA_WRITE: 4000, RDMA_READ: 512 * 1024 });
    const moved = COUNTED_OPCODES.reduce((sum, op) => sum + counted.bytes[op], 0);
    expect(counted.copies.bytes).toBe(moved);
    expect(copiedBytes).toBe(moved);
    // SEND 1: breaks at 500, 1000, 2000 → 4 pieces; WRITE 2: 3 pieces; READ 3: 1; SEND 4: 1.
    expect(counted.copies.operations).toBe(9);
    expect(copy).toHaveBeenCalledTimes(9);
    expect(counted.posted).toEqual({ SEND: 2, SEND_WITH_INV: 1, RDMA_WRITE: 2, RDMA_READ: 1, RECV: 3 });
    expect(counted.errors).toEqual({});
  });

  it('per-connection counters add up to the fabric’s', async () => {
    const env = makeSimEnv();
    const pairs = [await connectPair(env), await connectPair(env), await connectPair(env)];
    const waits = pairs.map(({ client, server, clientWc }, i) => {
      const remote = server.pd.register(Buffer.alloc(8192), RW);
      const local = client.pd.register(pattern(8192, i), RW);
      const sgl = [{ mr: local, offset: 0, length: 1000 * (i + 1) }];
      client.postSend([
        { wrId: 1, opcode: 'RDMA_WRITE', remoteAddr: remote.addr, rkey: remote.rkey, sgl },
        { wrId: 2, opcode: 'RDMA_READ', remoteAddr: remote.addr, rkey: remote.rkey ^ 1, sgl },
      ]);
      return clientWc.take(2);
    });
    await env.run(Promise.all(waits));
    const all = env.fabric.counters;
    const per = env.fabric.connections();
    expect(per.map((c) => c.id)).toEqual(['c1', 'c2', 'c3']);
    expect(per.map((c) => c.counters.bytes.RDMA_WRITE)).toEqual([1000, 2000, 3000]);
    expect(all.bytes.RDMA_WRITE).toBe(6000);
    expect(all.bytes.RDMA_READ).toBe(0);
    expect(all.errors).toEqual({ REM_ACCESS_ERR: 3 });
    expect(env.fabric.connectionCounters('c2')).toEqual(per[1]?.counters);
    expect(env.fabric.connectionCounters(2)).toEqual(per[1]?.counters);
  });

  it('count flushes, RNR and retransmissions by status', async () => {
    const env = makeSimEnv({ timings: { retransmitTimeoutMs: 1 } });
    const { client, server, clientWc, serverWc } = await connectPair(env, {
      connect: { retryCount: 1 },
      accept: { rnrRetryCount: 2 },
    });
    const sbuf = client.pd.register(pattern(8, 1), 0);
    client.postSend([
      { wrId: 1, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 8 }] },
      { wrId: 2, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 8 }] },
    ]);
    await env.run(clientWc.take(2));
    const rbuf = server.pd.register(Buffer.alloc(8), Access.LOCAL_WRITE);
    server.postRecv([{ wrId: 3, sgl: [{ mr: rbuf, offset: 0, length: 8 }] }]);
    await env.run(server.disconnect());
    await env.run(serverWc.end());
    const c = env.fabric.counters;
    expect(c.rnrNaks).toBe(3);
    expect(c.rnrRetries).toBe(2);
    expect(c.retransmits).toBe(0);
    expect(c.errors).toEqual({ RNR_RETRY_EXC_ERR: 1, WR_FLUSH_ERR: 2 });
  });
});
