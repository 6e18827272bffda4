/**
 * Fault plans: each kind of rule does what it says, at the time or operation it names, on the connections it names.
 */
import { describe, expect, it } from 'vitest';
import { Access } from '../../../transports/verbs.js';
import type { SendWorkRequest } from '../../../transports/verbs.js';
import type { FaultPlan } from '../../../sim/fabric/fault-plan.js';
import type { SimQueuePair } from '../../../sim/fabric/queue-pair.js';
import type { FabricTraceEvent } from '../../../sim/fabric/trace.js';
import { connectPair, pattern, statuses } from './pair.js';
import { makeSimEnv } from './sim-env.js';

const RW = Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ;

/** `count` RDMA READs of 1 KiB each from the server's region into the client's. */
function reads(client: SimQueuePair, server: SimQueuePair, count: number) {
  const remote = server.pd.register(pattern(count * 1024, 1), RW);
  const sink = client.pd.register(Buffer.alloc(count * 1024), Access.LOCAL_WRITE);
  const wrs: SendWorkRequest[] = [...Array(count).keys()].map((i) => ({
    wrId: i + 1,
    opcode: 'RDMA_READ',
    remoteAddr: remote.addr + BigInt(i * 1024),
    rkey: remote.rkey,
    sgl: [{ mr: sink, offset: i * 1024, length: 1024 }],
  }));
  return { remote, sink, wrs };
}

describe('fault plans', () => {
  it('qp-error: the 3rd RDMA READ fails with the given status and moves no data', async () => {
    const plan: FaultPlan = { rules: [{ kind: 'qp-error', opcode: 'RDMA_READ', nth: 3, status: 'REM_ACCESS_ERR' }] };
    const env = makeSimEnv({ faults: plan });
    const { client, server, clientWc, serverEvents, clientEvents } = await connectPair(env);
    const { remote, sink, wrs } = reads(client, server, 5);
    client.postSend(wrs);
    const done = await env.run(clientWc.take(5));
    expect(statuses(done)).toEqual([
      [1, 'SUCCESS'],
      [2, 'SUCCESS'],
      [3, 'REM_ACCESS_ERR'],
      [4, 'WR_FLUSH_ERR'],
      [5, 'WR_FLUSH_ERR'],
    ]);
    expect(sink.buffer.subarray(0, 2048).equals(remote.buffer.subarray(0, 2048))).toBe(true);
    expect(sink.buffer.subarray(2048).equals(Buffer.alloc(3 * 1024))).toBe(true);
    expect(clientEvents.values).toEqual([{ type: 'qp-error', status: 'REM_ACCESS_ERR' }]);
    expect(serverEvents.values).toEqual([{ type: 'qp-error', status: 'REM_ACCESS_ERR' }]);
  });

  it('qp-error with a local status fails the requester only', async () => {
    const plan: FaultPlan = { rules: [{ kind: 'qp-error', opcode: 'RDMA_WRITE', nth: 1, status: 'LOC_QP_OP_ERR' }] };
    const env = makeSimEnv({ faults: plan });
    const { client, server, clientWc } = await connectPair(env);
    const remote = server.pd.register(Buffer.alloc(64), RW);
    const local = client.pd.register(pattern(64, 2), 0);
    client.postSend([
      {
        wrId: 1,
        opcode: 'RDMA_WRITE',
        remoteAddr: remote.addr,
        rkey: remote.rkey,
        sgl: [{ mr: local, offset: 0, length: 64 }],
      },
    ]);
    const [wc] = await env.run(clientWc.take(1));
    expect(wc?.status).toBe('LOC_QP_OP_ERR');
    await env.settle();
    expect(server.state).toBe('RTS');
    expect(remote.buffer.equals(Buffer.alloc(64))).toBe(true);
  });

  it('qp-error counts per connection and honours its scope', async () => {
    const plan: FaultPlan = {
      rules: [{ kind: 'qp-error', opcode: 'RDMA_READ', nth: 1, status: 'REM_OP_ERR', connection: 2 }],
    };
    const env = makeSimEnv({ faults: plan });
    const one = await connectPair(env);
    const two = await connectPair(env);
    const r1 = reads(one.client, one.server, 1);
    const r2 = reads(two.client, two.server, 1);
    one.client.postSend(r1.wrs);
    two.client.postSend(r2.wrs);
    const [[a], [b]] = await env.run(Promise.all([one.clientWc.take(1), two.clientWc.take(1)]));
    expect(a?.status).toBe('SUCCESS');
    expect(b?.status).toBe('REM_OP_ERR');
  });

  it('drop-connection at the Nth operation: a cable pull before it goes out', async () => {
    const plan: FaultPlan = { rules: [{ kind: 'drop-connection', atOperation: 3 }] };
    const env = makeSimEnv({ faults: plan });
    const { client, server, clientWc, serverWc, clientEvents, serverEvents } = await connectPair(env);
    const rbuf = server.pd.register(Buffer.alloc(64 * 4), Access.LOCAL_WRITE);
    server.postRecv([0, 1, 2, 3].map((i) => ({ wrId: 10 + i, sgl: [{ mr: rbuf, offset: i * 64, length: 64 }] })));
    const sbuf = client.pd.register(pattern(64, 3), 0);
    const send = (wrId: number): SendWorkRequest => ({
      wrId,
      opcode: 'SEND',
      sgl: [{ mr: sbuf, offset: 0, length: 64 }],
    });
    client.postSend([send(1), send(2)]);
    await env.run(clientWc.take(2));
    client.postSend([send(3), send(4)]);
    const [c, s] = await env.run(Promise.all([clientWc.end(), serverWc.end()]));
    expect(statuses(c)).toEqual([
      [1, 'SUCCESS'],
      [2, 'SUCCESS'],
      [3, 'WR_FLUSH_ERR'],
      [4, 'WR_FLUSH_ERR'],
    ]);
    expect(statuses(s)).toEqual([
      [10, 'SUCCESS'],
      [11, 'SUCCESS'],
      [12, 'WR_FLUSH_ERR'],
      [13, 'WR_FLUSH_ERR'],
    ]);
    expect(clientEvents.values).toEqual([{ type: 'disconnected' }]);
    expect(serverEvents.values).toEqual([{ type: 'disconnected' }]);
    expect(env.fabric.counters.operations.SEND).toBe(2);
  });

  it('drop-connection at a virtual time: every established connection in scope goes down then', async () => {
    const plan: FaultPlan = { rules: [{ kind: 'drop-connection', atMs: 10 }] };
    const env = makeSimEnv({ faults: plan });
    const one = await connectPair(env);
    const rbuf = one.server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
    one.server.postRecv([{ wrId: 1, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]);
    await env.run(one.serverEvents.end());
    expect(env.fabric.now()).toBe(10);
    expect(statuses(one.serverWc.values)).toEqual([[1, 'WR_FLUSH_ERR']]);
    expect(one.clientEvents.values).toEqual([{ type: 'disconnected' }]);
    // A connection made afterwards is unaffected.
    const two = await connectPair(env);
    await env.settle();
    expect(two.client.state).toBe('RTS');
  });

  it('stop-answering for a while: the requester retransmits and recovers', async () => {
    const env = makeSimEnv({ timings: { retransmitTimeoutMs: 10 } });
    const { client, server, clientWc, serverWc } = await connectPair(env, { connect: { retryCount: 3 } });
    const rbuf = server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
    server.postRecv([{ wrId: 9, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]);
    env.fabric.addFault({ kind: 'stop-answering', host: '10.0.0.2', atMs: env.fabric.now(), durationMs: 25 });
    const sbuf = client.pd.register(pattern(64, 4), 0);
    client.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 64 }] }]);
    const [[sent], [received]] = await env.run(Promise.all([clientWc.take(1), serverWc.take(1)]));
    expect(sent?.status).toBe('SUCCESS');
    expect(received?.status).toBe('SUCCESS');
    expect(env.fabric.counters.retransmits).toBe(3);
    expect(env.fabric.counters.operations.SEND).toBe(1);
    expect(env.fabric.counters.copies.bytes).toBe(64);
  });

  it('stop-answering for good: RETRY_EXC_ERR after retryCount retransmissions', async () => {
    const env = makeSimEnv({ timings: { retransmitTimeoutMs: 10 } });
    const { client, clientWc } = await connectPair(env, { connect: { retryCount: 2 } });
    env.fabric.addFault({ kind: 'stop-answering', host: '10.0.0.2' });
    const start = env.fabric.now();
    const sbuf = client.pd.register(pattern(64, 4), 0);
    client.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 64 }] }]);
    const [wc] = await env.run(clientWc.take(1));
    expect(wc?.status).toBe('RETRY_EXC_ERR');
    expect(env.fabric.counters.retransmits).toBe(2);
    // Three waits of one ACK timeout (plus the round trip) each.
    expect(env.fabric.now() - start).toBeGreaterThanOrEqual(30);
    expect(env.fabric.now() - start).toBeLessThan(31);
  });

  it('rnr-storm: posted receives are hidden for the window, then SENDs land', async () => {
    const env = makeSimEnv({ timings: { rnrTimerMs: 1 } });
    const { client, server, clientWc, serverWc } = await connectPair(env, { accept: { rnrRetryCount: 7 } });
    const rbuf = server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
    server.postRecv([{ wrId: 9, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]);
    env.fabric.addFault({ kind: 'rnr-storm', host: '10.0.0.2', fromMs: env.fabric.now(), durationMs: 5 });
    const sbuf = client.pd.register(pattern(64, 5), 0);
    client.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 64 }] }]);
    const [[sent], [received]] = await env.run(Promise.all([clientWc.take(1), serverWc.take(1)]));
    expect(sent?.status).toBe('SUCCESS');
    expect(received?.status).toBe('SUCCESS');
    const { rnrNaks, rnrRetries } = env.fabric.counters;
    expect(rnrNaks).toBeGreaterThanOrEqual(5);
    expect(rnrRetries).toBe(rnrNaks);
  });

  it('delay: extra time on the named operations only, order kept', async () => {
    const plan: FaultPlan = { rules: [{ kind: 'delay', opcodes: ['RDMA_WRITE'], extraMs: 3 }] };
    const events: FabricTraceEvent[] = [];
    const env = makeSimEnv({
      faults: plan,
      link: { latencyMs: 0.5, bandwidthGbps: Infinity },
      onTrace: (e) => events.push(e),
    });
    const { client, server, clientWc } = await connectPair(env);
    const remote = server.pd.register(Buffer.alloc(64), RW);
    const local = client.pd.register(pattern(64, 6), Access.LOCAL_WRITE);
    const start = env.fabric.now();
    client.postSend([
      {
        wrId: 1,
        opcode: 'RDMA_WRITE',
        remoteAddr: remote.addr,
        rkey: remote.rkey,
        sgl: [{ mr: local, offset: 0, length: 8 }],
      },
      {
        wrId: 2,
        opcode: 'RDMA_READ',
        remoteAddr: remote.addr,
        rkey: remote.rkey,
        sgl: [{ mr: local, offset: 8, length: 8 }],
      },
    ]);
    const done = await env.run(clientWc.take(2));
    expect(statuses(done)).toEqual([
      [1, 'SUCCESS'],
      [2, 'SUCCESS'],
    ]);
    const arrivals = events.filter((e) => e.kind === 'wire.request').map((e) => (e.fields.arrival as number) - start);
    expect(arrivals).toEqual([3.5, 3.5]); // the READ may not overtake the delayed WRITE
    expect(env.fabric.now() - start).toBe(4);
  });

  it('delay on CM messages slows the handshake', async () => {
    const env = makeSimEnv({
      faults: { rules: [{ kind: 'delay', opcodes: ['CM'], extraMs: 7 }] },
      link: { latencyMs: 1, bandwidthGbps: Infinity },
    });
    await connectPair(env);
    expect(env.fabric.now()).toBe(16); // REQ and REP, 1 + 7 ms each
  });

  it('rejects malformed rules added at run time', () => {
    const env = makeSimEnv();
    expect(() => env.fabric.addFault({ kind: 'rnr-storm', fromMs: -1, durationMs: 1 })).toThrow(/fault plan/);
  });
});
