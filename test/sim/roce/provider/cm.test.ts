/**
 * IB CM on QP1 between two soft-RoCE devices, message by message: lost REQ / REP / RTU / DREQ and how each is
 * recovered, MRA while the consumer decides, REJ reasons, the connect deadline, retries running out, time-wait.
 */
import { describe, expect, it } from 'vitest';
import type { ConnectRequest, RdmaConnection, WorkCompletion } from '../../../../transports/verbs.js';
import { Access, VerbsError } from '../../../../transports/verbs.js';
import { cmConvertToMs } from '../../../../sim/roce/cm/cm-timing.js';
import type { RoceDatagram } from '../../../../sim/roce/link/link.js';
import { CmRejectReason } from '../../../../sim/roce/cm-rej.js';
import type { FilterVerdict } from '../../../../sim/roce/link/memory-link.js';
import { CmAttributeId } from '../../../../sim/roce/mad.js';
import { CmRejectedError, SoftRoceProvider } from '../../../../sim/roce/provider/provider.js';
import { Collector } from '../../../support/verbs-contract.js';
import { makeMemoryEnv, type MemoryEnv } from './memory-env.js';
import { ISER_HDR, QP } from './session.js';

const KIND_BY_ID = new Map<number, string>(Object.entries(CmAttributeId).map(([k, v]) => [v, k]));

/** The CM message a datagram carries (UD SEND_ONLY to QP1: BTH 12 + DETH 8 + MAD), or undefined. */
function cmKind(d: RoceDatagram): string | undefined {
  if (d.payload[0] !== 0x64 || d.payload.length < 12 + 8 + 24) return undefined;
  return KIND_BY_ID.get(d.payload.readUInt16BE(12 + 8 + 16));
}

/** Records every CM message sent, with its time and direction, and drops the ones `drop` picks. */
function watchCm(
  env: MemoryEnv,
  drop: (kind: string, nth: number) => boolean = () => false,
): { t: number; kind: string; from: string }[] {
  const seen: { t: number; kind: string; from: string }[] = [];
  const counts = new Map<string, number>();
  env.link.filter = (d) => {
    const kind = cmKind(d);
    if (kind === undefined) return 'deliver';
    const nth = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, nth);
    seen.push({ t: env.clock.now(), kind, from: d.srcIp });
    return drop(kind, nth) ? [] : 'deliver';
  };
  return seen;
}

/** Listens on b:3260, answering each request with `answer` (default: accept at once). */
async function listen(
  env: MemoryEnv,
  answer: (req: ConnectRequest) => void = (req) => {
    void req.accept({ qp: QP, privateData: ISER_HDR });
  },
): Promise<{ requests: ConnectRequest[]; accepted: Promise<RdmaConnection> }> {
  const listener = await env.run(env.b.listen({ host: '10.0.0.2', port: 3260 }));
  const requests: ConnectRequest[] = [];
  const accepted = new Promise<RdmaConnection>((resolve, reject) => {
    listener.connectRequests.subscribe((req) => {
      requests.push(req);
      const accept = req.accept.bind(req);
      // Capture the connection of whatever answer accepts.
      req.accept = (options) => {
        const p = accept(options);
        p.then(resolve, reject);
        return p;
      };
      answer(req);
    });
  });
  // Tests that expect no connection never await it.
  accepted.catch(() => undefined);
  return { requests, accepted };
}

const connectA = (env: MemoryEnv, extra: { timeoutMs?: number } = {}) =>
  env.a.connect({ host: '10.0.0.2', port: 3260 }, { qp: QP, privateData: ISER_HDR, ...extra });

/** REQ retransmission interval with rdma_cm's timings: 2 · packet lifetime (16) + response timeout (20). */
const REQ_WAIT_MS = 2 * cmConvertToMs(16) + cmConvertToMs(20);

describe('CM handshake', () => {
  it('a lost REQ is sent again after the response timeout', async () => {
    const env = await makeMemoryEnv();
    const seen = watchCm(env, (kind, nth) => kind === 'REQ' && nth === 1);
    const { accepted } = await listen(env);
    const [client] = await env.run(Promise.all([connectA(env), accepted]));
    const reqs = seen.filter((m) => m.kind === 'REQ');
    expect(reqs.map((m) => m.t)).toEqual([0, REQ_WAIT_MS]);
    expect(client.state).toBe('RTS');
    await env.dispose();
  });

  it('a lost REP: the repeated REQ is ignored (ib_cm), the REP is resent on its own timer', async () => {
    // b's longer packet lifetime puts its own REP retransmission after the repeated REQ.
    const env = await makeMemoryEnv({ b: { cm: { packetLifetime: 18 } } });
    const repWaitMs = 2 * cmConvertToMs(18) + cmConvertToMs(20);
    const seen = watchCm(env, (kind, nth) => kind === 'REP' && nth === 1);
    const { requests, accepted } = await listen(env);
    const [client, server] = await env.run(Promise.all([connectA(env), accepted]));
    expect(requests.length).toBe(1);
    expect(seen.map((m) => [m.kind, m.t])).toEqual([
      ['REQ', 0],
      ['REP', 0.001],
      ['REQ', REQ_WAIT_MS],
      ['REP', repWaitMs + 0.001],
      ['RTU', repWaitMs + 0.002],
    ]);
    expect(client.peerPrivateData.subarray(0, 4).equals(ISER_HDR)).toBe(true);
    await env.settle();
    expect(server.state).toBe('RTS');
    await env.dispose();
  });

  it('a lost RTU: the first packet of the connection establishes the passive side (COMM_EST)', async () => {
    const env = await makeMemoryEnv();
    const seen = watchCm(env, (kind) => kind === 'RTU');
    const { accepted } = await listen(env);
    const [client, server] = await env.run(Promise.all([connectA(env), accepted]));
    expect(server.state).toBe('RTR');
    const rbuf = server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
    server.postRecv([{ wrId: 1, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]);
    const sbuf = client.pd.register(Buffer.alloc(19, 'hello, passive side'), 0);
    const serverWc = new Collector<WorkCompletion>(server.completions);
    client.postSend([{ wrId: 2, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: sbuf.length }] }]);
    const [wc] = await env.run(serverWc.take(1));
    expect(wc?.status).toBe('SUCCESS');
    expect(server.state).toBe('RTS');
    expect(seen.filter((m) => m.kind === 'REP').length).toBe(1);
    await env.dispose();
  });

  it('a lost RTU and no traffic: the REP is sent again, the active side answers with a new RTU', async () => {
    const env = await makeMemoryEnv();
    const seen = watchCm(env, (kind, nth) => kind === 'RTU' && nth === 1);
    const { accepted } = await listen(env);
    const [, server] = await env.run(Promise.all([connectA(env), accepted]));
    await env.run(new Promise<void>((resolve) => env.clock.schedule(resolve, REQ_WAIT_MS + 1)));
    expect(seen.map((m) => m.kind)).toEqual(['REQ', 'REP', 'RTU', 'REP', 'RTU']);
    expect(server.state).toBe('RTS');
    await env.dispose();
  });

  it('an MRA answers a repeated REQ while the consumer decides, and the active side waits longer', async () => {
    const env = await makeMemoryEnv();
    const seen = watchCm(env);
    const decideAt = REQ_WAIT_MS + 1000;
    const { accepted } = await listen(env, (req) => {
      env.clock.schedule(() => {
        void req.accept({ qp: QP });
      }, decideAt);
    });
    const [client] = await env.run(Promise.all([connectA(env), accepted]));
    expect(seen.map((m) => m.kind)).toEqual(['REQ', 'REQ', 'MRA', 'REP', 'RTU']);
    expect(seen[1]?.t).toBe(REQ_WAIT_MS);
    expect(client.state).toBe('RTS');
    await env.dispose();
  });

  it('each REQ repeated while the consumer decides gets an MRA (rdma_cm’s delayed MRA)', async () => {
    const env = await makeMemoryEnv();
    const seen = watchCm(env);
    const { accepted } = await listen(env, (req) => {
      env.clock.schedule(() => {
        void req.accept({ qp: QP });
      }, REQ_WAIT_MS + 6000);
    });
    const [client] = await env.run(Promise.all([connectA(env), accepted]));
    expect(seen.map((m) => m.kind)).toEqual(['REQ', 'REQ', 'MRA', 'REQ', 'MRA', 'REP', 'RTU']);
    // From the MRA's arrival the active side waits the service timeout it names plus its ACK timeout.
    const mraArrived = (seen[2]?.t ?? NaN) + 0.001;
    expect(seen[3]?.t).toBeCloseTo(mraArrived + cmConvertToMs(20) + cmConvertToMs(14), 9);
    expect(client.state).toBe('RTS');
    await env.dispose();
  });

  it('the connect deadline: ERR_VERBS_TIMEOUT, and the REJ it sends makes a late accept fail', async () => {
    const env = await makeMemoryEnv();
    const seen = watchCm(env);
    let pending: ConnectRequest | undefined;
    await listen(env, (req) => {
      pending = req;
    });
    const error: unknown = await env.run(connectA(env, { timeoutMs: 1500 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerbsError);
    expect((error as VerbsError).code).toBe('ERR_VERBS_TIMEOUT');
    expect(env.clock.now()).toBe(1500);
    await env.settle();
    expect(seen.map((m) => m.kind)).toEqual(['REQ', 'REJ']);
    const late: unknown = await env.run(pending!.accept({ qp: QP })).catch((e: unknown) => e);
    expect((late as VerbsError).code).toBe('ERR_VERBS_TIMEOUT');
    await env.dispose();
  });

  it('a peer that never answers: the REQ is sent 1 + maxRetries times, then ERR_VERBS_TIMEOUT', async () => {
    const env = await makeMemoryEnv({ provider: { cm: { maxRetries: 2 } } });
    const seen = watchCm(env, (kind) => kind === 'REQ');
    await listen(env);
    const error: unknown = await env.run(connectA(env)).catch((e: unknown) => e);
    expect((error as VerbsError).code).toBe('ERR_VERBS_TIMEOUT');
    expect(seen.map((m) => m.t)).toEqual([0, REQ_WAIT_MS, 2 * REQ_WAIT_MS]);
    expect(env.clock.now()).toBe(3 * REQ_WAIT_MS);
    await env.dispose();
  });

  it('a REJ carries the consumer’s reason (28) and its private data area', async () => {
    const env = await makeMemoryEnv();
    await listen(env, (req) => {
      void req.reject(Buffer.from([1, 2, 3]));
    });
    const error = (await env.run(connectA(env)).catch((e: unknown) => e)) as VerbsError;
    expect(error.code).toBe('ERR_VERBS_REJECTED');
    expect(error.message).toContain('reason 28');
    expect(error.privateData?.length).toBe(148);
    expect(error.privateData?.subarray(0, 3)).toEqual(Buffer.from([1, 2, 3]));
    await env.dispose();
  });
});

describe('CM teardown', () => {
  it('a lost DREQ is sent again; both sides end in time-wait, then free the QP', async () => {
    const env = await makeMemoryEnv();
    const seen = watchCm(env, (kind, nth) => kind === 'DREQ' && nth === 1);
    const { accepted } = await listen(env);
    const [client, server] = await env.run(Promise.all([connectA(env), accepted]));
    const events = new Collector(server.events);
    const start = env.clock.now();
    await env.run(client.disconnect());
    await env.run(events.end());
    const dreqs = seen.filter((m) => m.kind === 'DREQ');
    expect(dreqs[0]?.t).toBe(start);
    // ib_cm paces DREQ resends by timeout_ms (2 · packet lifetime + the remote CM response timeout).
    expect(dreqs[1]?.t).toBeCloseTo(start + 2 * cmConvertToMs(16) + cmConvertToMs(20), 9);
    expect(seen.at(-1)?.kind).toBe('DREP');
    expect(env.a.connections.length).toBe(1); // in time-wait
    await env.settle();
    expect(env.a.connections.length).toBe(0);
    expect(env.b.connections.length).toBe(0);
    await env.dispose();
  });

  it('both sides disconnecting at once: the DREQs cross, both are answered', async () => {
    const env = await makeMemoryEnv();
    const seen = watchCm(env);
    const { accepted } = await listen(env);
    const [client, server] = await env.run(Promise.all([connectA(env), accepted]));
    await env.settle(); // the RTU has arrived: both sides are established
    await env.run(Promise.all([client.disconnect(), server.disconnect()]));
    await env.settle();
    expect(seen.filter((m) => m.kind === 'DREQ').length).toBe(2);
    expect(seen.filter((m) => m.kind === 'DREP').length).toBe(2);
    expect(env.a.connections.length + env.b.connections.length).toBe(0);
    await env.dispose();
  });

  it('a disconnect before the RTU arrived is a REJ: the active side sees its connection end', async () => {
    const env = await makeMemoryEnv();
    const seen = watchCm(env);
    const { accepted } = await listen(env);
    const [client, server] = await env.run(Promise.all([connectA(env), accepted]));
    const events = new Collector(client.events);
    await env.run(server.disconnect());
    await env.run(events.end());
    expect(events.values).toContainEqual({ type: 'disconnected' });
    expect(seen.map((m) => m.kind)).toEqual(['REQ', 'REP', 'RTU', 'REJ']);
    await env.dispose();
  });
});

/** The first REQ a sends, kept so a test can deliver it again later. */
function keepReq(env: MemoryEnv, then: (kind: string, d: RoceDatagram, req: RoceDatagram) => FilterVerdict): void {
  let req: RoceDatagram | undefined;
  const inner = env.link.filter;
  env.link.filter = (d) => {
    const kind = cmKind(d);
    if (kind === 'REQ' && req === undefined) req = d;
    const verdict = inner(d);
    return verdict === 'deliver' && kind !== undefined && req !== undefined ? then(kind, d, req) : verdict;
  };
}

/** Takes a's device off the wire without a word (its DREQs are lost) and opens it again, same seed and address. */
async function restartA(env: MemoryEnv, extra: { firstQpn?: number } = {}): Promise<SoftRoceProvider> {
  const inner = env.link.filter;
  env.link.filter = (d) => (d.srcIp === '10.0.0.1' ? [] : inner(d));
  await env.run(env.a.close());
  env.link.filter = inner;
  return env.run(
    SoftRoceProvider.open({ link: env.link, scheduler: env.clock, address: '10.0.0.1', seed: 'a:1', ...extra }),
  );
}

describe('repeated and stale REQs (ib_cm cm_match_req)', () => {
  it('a REQ repeated once the connection is established is ignored', async () => {
    const env = await makeMemoryEnv();
    const seen = watchCm(env);
    // Deliver the REQ again right behind the RTU.
    keepReq(env, (kind, d, req) => (kind === 'RTU' ? [d, req] : 'deliver'));
    const { requests, accepted } = await listen(env);
    const [client, server] = await env.run(Promise.all([connectA(env), accepted]));
    await env.run(new Promise<void>((resolve) => env.clock.schedule(resolve, 2 * REQ_WAIT_MS)));
    expect(seen.map((m) => m.kind)).toEqual(['REQ', 'REP', 'RTU']);
    expect(requests.length).toBe(1);
    expect([client.state, server.state]).toEqual(['RTS', 'RTS']);
    await env.dispose();
  });

  it('a REQ repeating a connection in time-wait is a new request (time-wait leaves the remote tables)', async () => {
    const env = await makeMemoryEnv();
    const seen = watchCm(env);
    // b enters time-wait when it sends its DREP: the old REQ arrives right behind it.
    keepReq(env, (kind, d, req) => (kind === 'DREP' ? [d, req] : 'deliver'));
    const { requests, accepted } = await listen(env);
    const [client] = await env.run(Promise.all([connectA(env), accepted]));
    await env.run(client.disconnect());
    await env.settle();
    expect(requests.length).toBe(2);
    expect(seen.slice(0, 6).map((m) => `${m.kind} from ${m.from}`)).toEqual([
      'REQ from 10.0.0.1',
      'REP from 10.0.0.2',
      'RTU from 10.0.0.1',
      'DREQ from 10.0.0.1',
      'DREP from 10.0.0.2',
      'REP from 10.0.0.2', // to the new request; a, in time-wait itself, ignores it
    ]);
    await env.dispose();
  });

  it('a restarted peer reusing the QPN of an established connection: REJ "stale connection" at once, DREQ for the old one', async () => {
    const env = await makeMemoryEnv();
    const { accepted } = await listen(env);
    const [, server] = await env.run(Promise.all([connectA(env), accepted]));
    await env.settle();
    const serverEvents = new Collector(server.events);
    const a2 = await restartA(env);
    const seen = watchCm(env);
    const start = env.clock.now();
    const error: unknown = await env
      .run(a2.connect({ host: '10.0.0.2', port: 3260 }, { qp: QP }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CmRejectedError);
    expect(error).toMatchObject({ code: 'ERR_VERBS_REJECTED', rejectReason: CmRejectReason.StaleConnection });
    expect((error as Error).message).toContain('stale connection (REJ reason 10)');
    expect(env.clock.now() - start).toBeLessThan(1);
    await env.run(serverEvents.end());
    expect(serverEvents.values).toContainEqual({ type: 'disconnected' });
    // The new REQ is refused, the old connection gets a DREQ, which the restarted device answers.
    expect(seen.map((m) => `${m.kind} from ${m.from}`)).toEqual([
      'REQ from 10.0.0.1',
      'REJ from 10.0.0.2',
      'DREQ from 10.0.0.2',
      'DREP from 10.0.0.1',
    ]);
    // The next attempt takes another QPN and connects.
    const again = await env.run(a2.connect({ host: '10.0.0.2', port: 3260 }, { qp: QP }));
    expect(again.state).toBe('RTS');
    await a2.close();
    await env.dispose();
  });

  it('a device opened with another first QPN (a host whose rxe has been up a while) is not stale', async () => {
    const env = await makeMemoryEnv();
    const { requests, accepted } = await listen(env);
    await env.run(Promise.all([connectA(env), accepted]));
    await env.settle();
    const a2 = await restartA(env, { firstQpn: 0x4242 });
    const client = await env.run(a2.connect({ host: '10.0.0.2', port: 3260 }, { qp: QP }));
    expect(client.state).toBe('RTS');
    expect(a2.connections.map((c) => c.qpn)).toEqual([0x4242]);
    expect(requests.length).toBe(2);
    await expect(
      SoftRoceProvider.open({ link: env.link, scheduler: env.clock, address: '10.0.0.3', firstQpn: 16 }),
    ).rejects.toMatchObject({ code: 'ERR_SOFTROCE_CONFIG' });
    await a2.close();
    await env.dispose();
  });

  it('a restarted peer after a clean disconnect connects at once, though the old connection is in time-wait', async () => {
    const env = await makeMemoryEnv();
    const { requests, accepted } = await listen(env);
    await env.run(Promise.all([connectA(env), accepted]));
    await env.settle();
    await env.run(env.a.close()); // DREQ, DREP: b holds the connection in time-wait
    const a2 = await env.run(
      SoftRoceProvider.open({ link: env.link, scheduler: env.clock, address: '10.0.0.1', seed: 'a:1' }),
    );
    const start = env.clock.now();
    const client = await env.run(a2.connect({ host: '10.0.0.2', port: 3260 }, { qp: QP }));
    expect(client.state).toBe('RTS');
    expect(env.clock.now() - start).toBeLessThan(1);
    expect(requests.length).toBe(2);
    await a2.close();
    await env.dispose();
  });
});
