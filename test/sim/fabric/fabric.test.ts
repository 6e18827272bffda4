/**
 * Fabric-specific semantics the provider-independent contract cannot pin down: timing in virtual time, rdma_cm's
 * retry-count rules, READ depth, exact statuses where rxe and the spec differ, registration rules.
 */
import { describe, expect, it } from 'vitest';
import { Access, VerbsError } from '../../../transports/verbs.js';
import type { SendWorkRequest } from '../../../transports/verbs.js';
import { FabricError } from '../../../sim/fabric/errors.js';
import type { FabricTraceEvent } from '../../../sim/fabric/trace.js';
import { QP, connectPair, pattern, statuses } from './pair.js';
import { makeSimEnv } from './sim-env.js';

async function rejection(work: Promise<unknown>): Promise<VerbsError> {
  const error: unknown = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerbsError);
  return error as VerbsError;
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('SimFabric connection management', () => {
  it('the handshake takes the link latency: accept after the REQ, connect after the REP', async () => {
    const env = makeSimEnv({ link: { latencyMs: 2, bandwidthGbps: Infinity } });
    const listener = await env.b.listen({ host: '10.0.0.2', port: 3260 });
    let acceptedAt = -1;
    listener.connectRequests.subscribe((req) => {
      expect(env.fabric.now()).toBe(2);
      void req.accept({ qp: QP }).then(() => {
        acceptedAt = env.fabric.now();
      });
    });
    const client = await env.run(env.a.connect({ host: '10.0.0.2', port: 3260 }, { qp: QP }));
    expect(acceptedAt).toBe(2);
    expect(env.fabric.now()).toBe(4);
    expect(client.state).toBe('RTS');
    expect(client.local.host).toBe('10.0.0.1');
    await env.settle();
    expect(env.fabric.now()).toBe(6); // the RTU reached the passive side
  });

  it('connecting to a host the fabric does not know fails ERR_VERBS_ADDRESS', async () => {
    const env = makeSimEnv();
    const error = await rejection(env.run(env.a.connect({ host: '10.9.9.9', port: 3260 }, { qp: QP })));
    expect(error.code).toBe('ERR_VERBS_ADDRESS');
  });

  it('a listener that never answers: ERR_VERBS_TIMEOUT at timeoutMs, and a late accept fails too', async () => {
    const env = makeSimEnv();
    const listener = await env.b.listen({ host: '0.0.0.0', port: 3260 });
    const requests: { accept: (o: { qp: typeof QP }) => Promise<unknown> }[] = [];
    listener.connectRequests.subscribe((req) => requests.push(req));
    const error = await rejection(env.run(env.a.connect({ host: '10.0.0.2', port: 3260 }, { qp: QP, timeoutMs: 500 })));
    expect(error.code).toBe('ERR_VERBS_TIMEOUT');
    expect(env.fabric.now()).toBe(500);
    await env.settle(); // the active side's REJ (timeout) reaches the passive side
    expect(requests).toHaveLength(1);
    const late = await rejection(env.run(requests[0]!.accept({ qp: QP })));
    expect(late.code).toBe('ERR_VERBS_TIMEOUT');
  });

  it('a silent host: connect times out', async () => {
    const env = makeSimEnv({ faults: { rules: [{ kind: 'stop-answering', host: '10.0.0.2' }] } });
    await env.b.listen({ host: '10.0.0.2', port: 3260 });
    const error = await rejection(env.run(env.a.connect({ host: '10.0.0.2', port: 3260 }, { qp: QP, timeoutMs: 100 })));
    expect(error.code).toBe('ERR_VERBS_TIMEOUT');
  });

  it('checks private data sizes and arguments', async () => {
    const env = makeSimEnv();
    const listener = await env.b.listen({ host: '10.0.0.2', port: 0 });
    const port = listener.address.port;
    const tooBig = await rejection(
      env.a.connect({ host: '10.0.0.2', port }, { qp: QP, privateData: Buffer.alloc(57) }),
    );
    expect(tooBig.code).toBe('ERR_VERBS_INVALID_WR');
    const badRetry = await rejection(env.a.connect({ host: '10.0.0.2', port }, { qp: QP, retryCount: 8 }));
    expect(badRetry.code).toBe('ERR_VERBS_INVALID_WR');
    const notOurs = await rejection(env.b.listen({ host: '10.0.0.1', port: 1 }));
    expect(notOurs.code).toBe('ERR_VERBS_ADDRESS');
    const codes: string[] = [];
    listener.connectRequests.subscribe((req) => {
      void req.reject(Buffer.alloc(149)).catch((e: unknown) => {
        codes.push((e as VerbsError).code);
        void req.reject(Buffer.alloc(148, 1));
      });
    });
    const rejected = await rejection(env.run(env.a.connect({ host: '10.0.0.2', port }, { qp: QP })));
    expect(codes).toEqual(['ERR_VERBS_INVALID_WR']);
    expect(rejected.code).toBe('ERR_VERBS_REJECTED');
    expect(rejected.privateData).toEqual(Buffer.alloc(148, 1));
  });

  it('connects a host to itself (loopback)', async () => {
    const env = makeSimEnv();
    const { client, server, serverWc } = await connectPair(env, { to: env.a });
    expect(client.remote.host).toBe('10.0.0.1');
    const rbuf = server.pd.register(Buffer.alloc(16), Access.LOCAL_WRITE);
    server.postRecv([{ wrId: 1, sgl: [{ mr: rbuf, offset: 0, length: 16 }] }]);
    const sbuf = client.pd.register(pattern(16, 1), 0);
    client.postSend([{ wrId: 2, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 16 }] }]);
    await env.run(serverWc.take(1));
    expect(rbuf.buffer.equals(sbuf.buffer)).toBe(true);
  });
});

describe('SimFabric memory registration', () => {
  it('refuses empty buffers, pooled slabs and REMOTE_WRITE without LOCAL_WRITE', async () => {
    const env = makeSimEnv();
    const { client } = await connectPair(env);
    const code = (action: () => unknown) => (thrown(action) as VerbsError).code;
    expect(code(() => client.pd.register(Buffer.alloc(0), 0))).toBe('ERR_VERBS_REGISTER');
    expect(code(() => client.pd.register(Buffer.allocUnsafe(64), 0))).toBe('ERR_VERBS_REGISTER');
    expect(code(() => client.pd.register(Buffer.alloc(64), Access.REMOTE_WRITE))).toBe('ERR_VERBS_REGISTER');
    expect(code(() => client.pd.register(Buffer.alloc(64), 8))).toBe('ERR_VERBS_REGISTER');
    const mr = client.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE | Access.REMOTE_WRITE);
    expect(mr.valid).toBe(true);
    expect(mr.length).toBe(64);
  });

  it('hands out the same keys and addresses for the same seed, different ones for another', async () => {
    const keysOf = async (seed: number) => {
      const env = makeSimEnv({ seed });
      const { server } = await connectPair(env);
      return [0, 1, 2].map(() => {
        const mr = server.pd.register(Buffer.alloc(5000), Access.LOCAL_WRITE);
        return [mr.rkey, mr.addr];
      });
    };
    const first = await keysOf(1);
    expect(await keysOf(1)).toEqual(first);
    expect(await keysOf(2)).not.toEqual(first);
    // Regions never overlap, so an address names at most one region.
    const addrs = first.map(([, addr]) => addr as bigint);
    expect(addrs[1]! - addrs[0]!).toBeGreaterThanOrEqual(5000n);
  });

  it('a region of another connection on the same host is out of reach (REM_ACCESS_ERR)', async () => {
    const env = makeSimEnv();
    const one = await connectPair(env);
    const two = await connectPair(env);
    const foreign = two.server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE | Access.REMOTE_WRITE);
    const local = one.client.pd.register(pattern(8, 2), 0);
    one.client.postSend([
      {
        wrId: 1,
        opcode: 'RDMA_WRITE',
        remoteAddr: foreign.addr,
        rkey: foreign.rkey,
        sgl: [{ mr: local, offset: 0, length: 8 }],
      },
    ]);
    const [wc] = await env.run(one.clientWc.take(1));
    expect(wc?.status).toBe('REM_ACCESS_ERR');
    expect(foreign.buffer.equals(Buffer.alloc(64))).toBe(true);
  });

  it('an SGE naming another connection’s region is an invalid work request', async () => {
    const env = makeSimEnv();
    const one = await connectPair(env);
    const two = await connectPair(env);
    const other = two.client.pd.register(Buffer.alloc(64), 0);
    const error = thrown(() => {
      one.client.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: other, offset: 0, length: 8 }] }]);
    });
    expect((error as VerbsError).code).toBe('ERR_VERBS_INVALID_WR');
  });

  it('disconnecting deregisters the connection’s regions', async () => {
    const env = makeSimEnv();
    const { client } = await connectPair(env);
    const mr = client.pd.register(Buffer.alloc(64), 0);
    await env.run(client.disconnect());
    expect(mr.valid).toBe(false);
    expect((thrown(() => client.pd.register(Buffer.alloc(8), 0)) as VerbsError).code).toBe('ERR_VERBS_CLOSED');
  });
});

describe('SimFabric RC semantics', () => {
  it('reports LOC_LEN_ERR at the receiver of a SEND too big for its receive', async () => {
    const env = makeSimEnv();
    const { client, server, clientWc, serverWc, serverEvents } = await connectPair(env);
    const rbuf = server.pd.register(Buffer.alloc(8), Access.LOCAL_WRITE);
    server.postRecv([{ wrId: 5, sgl: [{ mr: rbuf, offset: 0, length: 8 }] }]);
    const sbuf = client.pd.register(pattern(9, 1), 0);
    client.postSend([{ wrId: 6, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 9 }] }]);
    const [[sent], [received]] = await env.run(Promise.all([clientWc.take(1), serverWc.take(1)]));
    expect(sent?.status).toBe('REM_INV_REQ_ERR');
    expect(received?.status).toBe('LOC_LEN_ERR');
    expect(serverEvents.values).toEqual([{ type: 'qp-error', status: 'LOC_LEN_ERR' }]);
    expect(rbuf.buffer.equals(Buffer.alloc(8))).toBe(true);
  });

  it('SEND_WITH_INV naming a region that cannot be invalidated: REM_INV_REQ_ERR at the receiver, as rxe', async () => {
    const env = makeSimEnv();
    const { client, server, clientWc, serverWc } = await connectPair(env);
    const plain = server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE | Access.REMOTE_WRITE);
    const rbuf = server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
    server.postRecv([{ wrId: 5, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]);
    const sbuf = client.pd.register(pattern(8, 1), 0);
    client.postSend([
      { wrId: 6, opcode: 'SEND_WITH_INV', invalidateRkey: plain.rkey, sgl: [{ mr: sbuf, offset: 0, length: 8 }] },
    ]);
    const [[sent], [received]] = await env.run(Promise.all([clientWc.take(1), serverWc.take(1)]));
    expect(sent?.status).toBe('SUCCESS');
    expect(received?.status).toBe('REM_INV_REQ_ERR');
    expect(plain.valid).toBe(true);
    expect(server.state).toBe('ERROR');
  });

  it('a receive into a region without LOCAL_WRITE: LOC_PROT_ERR at the receiver, REM_OP_ERR at the sender', async () => {
    const env = makeSimEnv();
    const { client, server, clientWc, serverWc } = await connectPair(env);
    const rbuf = server.pd.register(Buffer.alloc(64), 0);
    server.postRecv([{ wrId: 5, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]);
    const sbuf = client.pd.register(pattern(8, 1), 0);
    client.postSend([{ wrId: 6, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 8 }] }]);
    const [[sent], [received]] = await env.run(Promise.all([clientWc.take(1), serverWc.take(1)]));
    expect(sent?.status).toBe('REM_OP_ERR');
    expect(received?.status).toBe('LOC_PROT_ERR');
  });

  it('an RDMA READ into a region without LOCAL_WRITE fails LOC_PROT_ERR locally', async () => {
    const env = makeSimEnv();
    const { client, server, clientWc } = await connectPair(env);
    const remote = server.pd.register(pattern(64, 2), Access.REMOTE_READ);
    const sink = client.pd.register(Buffer.alloc(64), 0);
    client.postSend([
      {
        wrId: 1,
        opcode: 'RDMA_READ',
        remoteAddr: remote.addr,
        rkey: remote.rkey,
        sgl: [{ mr: sink, offset: 0, length: 64 }],
      },
    ]);
    const [wc] = await env.run(clientWc.take(1));
    expect(wc?.status).toBe('LOC_PROT_ERR');
    await env.settle();
    expect(client.state).toBe('ERROR');
    expect(server.state).toBe('RTS');
  });

  it('a zero-length RDMA WRITE does not check the rkey (IBA)', async () => {
    const env = makeSimEnv();
    const { client, clientWc } = await connectPair(env);
    client.postSend([{ wrId: 1, opcode: 'RDMA_WRITE', remoteAddr: 0n, rkey: 12345, sgl: [] }]);
    const [wc] = await env.run(clientWc.take(1));
    expect(wc?.status).toBe('SUCCESS');
  });

  it('keeps at most min(initiatorDepth, peer responderResources) RDMA READs on the wire', async () => {
    for (const [depth, resources, expected] of [
      [1, 16, 1],
      [8, 3, 3],
      [4, 16, 4],
    ] as const) {
      const events: FabricTraceEvent[] = [];
      const env = makeSimEnv({ onTrace: (e) => events.push(e) });
      const { client, server, clientWc } = await connectPair(env, {
        connect: { initiatorDepth: depth },
        accept: { responderResources: resources },
      });
      expect(client.settings.readDepth).toBe(expected);
      const remote = server.pd.register(pattern(32 * 1024, 3), Access.REMOTE_READ);
      const sink = client.pd.register(Buffer.alloc(32 * 1024), Access.LOCAL_WRITE);
      const wrs: SendWorkRequest[] = [...Array(8).keys()].map((i) => ({
        wrId: i,
        opcode: 'RDMA_READ',
        remoteAddr: remote.addr + BigInt(i * 4096),
        rkey: remote.rkey,
        sgl: [{ mr: sink, offset: i * 4096, length: 4096 }],
      }));
      client.postSend(wrs);
      await env.run(clientWc.take(8));
      let onWire = 0;
      let most = 0;
      for (const e of events) {
        if (e.conn !== client.connectionId || e.fields.host !== '10.0.0.1') continue;
        if (e.kind === 'wire.request' && e.fields.opcode === 'RDMA_READ') most = Math.max(most, ++onWire);
        if (e.kind === 'wc' && e.fields.opcode === 'RDMA_READ') onWire--;
      }
      expect(most).toBe(expected);
      expect(sink.buffer.equals(remote.buffer)).toBe(true);
    }
  });

  it('RNR retries follow rdma_cm: the acceptor’s rnrRetryCount bounds the connector’s retries', async () => {
    const env = makeSimEnv();
    const { client, clientWc } = await connectPair(env, {
      connect: { rnrRetryCount: 0 },
      accept: { rnrRetryCount: 3 },
    });
    const sbuf = client.pd.register(pattern(8, 1), 0);
    client.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 8 }] }]);
    const [wc] = await env.run(clientWc.take(1));
    expect(wc?.status).toBe('RNR_RETRY_EXC_ERR');
    const counters = env.fabric.counters;
    expect(counters.rnrNaks).toBe(4); // the first try and 3 retries
    expect(counters.rnrRetries).toBe(3);
    expect(counters.errors.RNR_RETRY_EXC_ERR).toBe(1);
  });

  it('an RNR retry succeeds once a receive is posted within the RNR timer', async () => {
    const env = makeSimEnv({ timings: { rnrTimerMs: 1 } });
    const { client, server, clientWc, serverWc } = await connectPair(env, { accept: { rnrRetryCount: 2 } });
    const sbuf = client.pd.register(pattern(8, 1), 0);
    client.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 8 }] }]);
    await env.clock.advanceBy(0.5); // the RNR NAK is back; the requester waits
    expect(env.fabric.counters.rnrNaks).toBe(1);
    const rbuf = server.pd.register(Buffer.alloc(8), Access.LOCAL_WRITE);
    server.postRecv([{ wrId: 9, sgl: [{ mr: rbuf, offset: 0, length: 8 }] }]);
    const [[sent], [received]] = await env.run(Promise.all([clientWc.take(1), serverWc.take(1)]));
    expect(sent?.status).toBe('SUCCESS');
    expect(received?.status).toBe('SUCCESS');
    expect(rbuf.buffer.equals(sbuf.buffer)).toBe(true);
  });

  it('a bandwidth-limited link takes the serialization time', async () => {
    const env = makeSimEnv({ link: { latencyMs: 0, bandwidthGbps: 8 } });
    const { client, server, clientWc } = await connectPair(env);
    const remote = server.pd.register(Buffer.alloc(1 << 20), Access.LOCAL_WRITE | Access.REMOTE_WRITE);
    const source = client.pd.register(pattern(1 << 20, 4), 0);
    const start = env.fabric.now();
    client.postSend([
      {
        wrId: 1,
        opcode: 'RDMA_WRITE',
        remoteAddr: remote.addr,
        rkey: remote.rkey,
        sgl: [{ mr: source, offset: 0, length: 1 << 20 }],
      },
    ]);
    await env.run(clientWc.take(1));
    // 8 Mibit at 8 Gbit/s = 1.048576 ms.
    expect(env.fabric.now() - start).toBeCloseTo(1.048576, 9);
  });

  it('queue depth limits throw ERR_VERBS_QUEUE_FULL and leave nothing posted', async () => {
    const env = makeSimEnv();
    const small = { maxSendWr: 2, maxRecvWr: 2, maxSendSge: 1, maxRecvSge: 1 };
    const { client, server, clientWc } = await connectPair(env, { connect: { qp: small }, accept: { qp: small } });
    const rbuf = server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
    const recv = (wrId: number) => ({ wrId, sgl: [{ mr: rbuf, offset: 0, length: 64 }] });
    expect(
      (
        thrown(() => {
          server.postRecv([recv(1), recv(2), recv(3)]);
        }) as VerbsError
      ).code,
    ).toBe('ERR_VERBS_QUEUE_FULL');
    server.postRecv([recv(1), recv(2)]);
    expect(
      (
        thrown(() => {
          server.postRecv([recv(3)]);
        }) as VerbsError
      ).code,
    ).toBe('ERR_VERBS_QUEUE_FULL');
    const sbuf = client.pd.register(pattern(8, 1), 0);
    const send = (wrId: number): SendWorkRequest => ({
      wrId,
      opcode: 'SEND',
      sgl: [{ mr: sbuf, offset: 0, length: 8 }],
    });
    client.postSend([send(1), send(2)]);
    expect(
      (
        thrown(() => {
          client.postSend([send(3)]);
        }) as VerbsError
      ).code,
    ).toBe('ERR_VERBS_QUEUE_FULL');
    await env.run(clientWc.take(2));
    client.postSend([send(3)]); // room again once completed
    expect(statuses(await env.run(clientWc.take(3)))).toEqual([
      [1, 'SUCCESS'],
      [2, 'SUCCESS'],
      [3, 'RNR_RETRY_EXC_ERR'],
    ]);
  });

  it('posts after a QP error complete WR_FLUSH_ERR, asynchronously', async () => {
    const env = makeSimEnv();
    const { client, clientWc } = await connectPair(env, { accept: { rnrRetryCount: 0 } });
    const sbuf = client.pd.register(pattern(8, 1), 0);
    const send = (wrId: number): SendWorkRequest => ({
      wrId,
      opcode: 'SEND',
      sgl: [{ mr: sbuf, offset: 0, length: 8 }],
    });
    client.postSend([send(1)]);
    await env.run(clientWc.take(1));
    client.postSend([send(2), { ...send(3), signaled: false }]);
    expect(clientWc.values).toHaveLength(1);
    expect(statuses(await env.run(clientWc.take(3)))).toEqual([
      [1, 'RNR_RETRY_EXC_ERR'],
      [2, 'WR_FLUSH_ERR'],
      [3, 'WR_FLUSH_ERR'],
    ]);
  });

  it('the completions stream ends only after the flush, and disconnect() resolves after it', async () => {
    const env = makeSimEnv();
    const { client, clientWc } = await connectPair(env);
    const cbuf = client.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
    client.postRecv([1, 2, 3].map((wrId) => ({ wrId, sgl: [{ mr: cbuf, offset: 0, length: 64 }] })));
    let flushedWhenResolved = -1;
    const done = client.disconnect().then(() => {
      flushedWhenResolved = clientWc.values.length;
      expect(clientWc.ended).toBe(true);
    });
    await env.run(done);
    expect(flushedWhenResolved).toBe(3);
    await env.run(client.disconnect()); // idempotent
  });
});

describe('SimFabric configuration', () => {
  it('rejects nonsense link models, timings and host names', () => {
    const env = makeSimEnv();
    expect(
      thrown(() => {
        env.fabric.setLink('a', 'b', { latencyMs: -1 });
      }),
    ).toBeInstanceOf(FabricError);
    expect(
      thrown(() => {
        env.fabric.setLink('a', 'b', { bandwidthGbps: 0 });
      }),
    ).toBeInstanceOf(FabricError);
    expect(thrown(() => makeSimEnv({ timings: { rnrTimerMs: 0 } }))).toBeInstanceOf(FabricError);
    expect(thrown(() => env.fabric.provider('0.0.0.0'))).toBeInstanceOf(FabricError);
    expect(thrown(() => env.fabric.connectionCounters('c99'))).toBeInstanceOf(FabricError);
  });
});
