/**
 * Determinism: the same seed gives the same trace, event for event; with jitter on, another seed gives another
 * schedule; with jitter off, the schedule does not depend on the seed at all (only the keys do).
 */
import { describe, expect, it } from 'vitest';
import { Access } from '../../../transports/verbs.js';
import type { SendWorkRequest } from '../../../transports/verbs.js';
import type { FaultPlan } from '../../../sim/fabric/fault-plan.js';
import type { LinkModel } from '../../../sim/fabric/link.js';
import type { FabricTraceEvent } from '../../../sim/fabric/trace.js';
import { connectPair, pattern } from './pair.js';
import { makeSimEnv } from './sim-env.js';

const RW = Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ;

/** Two connections doing a bit of everything, under a plan with random delays and an RNR storm. */
async function scenario(seed: number, link: Partial<LinkModel>, faults: FaultPlan): Promise<FabricTraceEvent[]> {
  const events: FabricTraceEvent[] = [];
  const env = makeSimEnv({ seed, link, faults, onTrace: (e) => events.push(e), timings: { rnrTimerMs: 0.05 } });
  const pairs = [
    await connectPair(env, { accept: { rnrRetryCount: 7 } }),
    await connectPair(env, { accept: { rnrRetryCount: 7 } }),
  ];
  const waits = pairs.map(({ client, server, clientWc, serverWc }, p) => {
    const remote = server.pd.register(pattern(64 * 1024, p), RW);
    const local = client.pd.register(pattern(64 * 1024, 10 + p), RW);
    const rbuf = server.pd.register(Buffer.alloc(16 * 1024), Access.LOCAL_WRITE);
    server.postRecv(
      [...Array(8).keys()].map((i) => ({ wrId: i, sgl: [{ mr: rbuf, offset: i * 2048, length: 2048 }] })),
    );
    const wrs: SendWorkRequest[] = [];
    for (let i = 0; i < 8; i++) {
      const sgl = [{ mr: local, offset: i * 4096, length: 1000 + i * 100 }];
      const remoteAddr = remote.addr + BigInt(i * 4096);
      wrs.push({ wrId: 100 + i, opcode: 'SEND', sgl });
      wrs.push({ wrId: 200 + i, opcode: 'RDMA_WRITE', remoteAddr, rkey: remote.rkey, sgl });
      wrs.push({ wrId: 300 + i, opcode: 'RDMA_READ', remoteAddr, rkey: remote.rkey, sgl, signaled: i % 2 === 0 });
    }
    client.postSend(wrs);
    return Promise.all([clientWc.take(20), serverWc.take(8)]);
  });
  const done = await env.run(Promise.all(waits));
  for (const [sent, received] of done) {
    expect(sent.every((wc) => wc.status === 'SUCCESS')).toBe(true);
    expect(received.every((wc) => wc.status === 'SUCCESS')).toBe(true);
  }
  await env.settle();
  return events;
}

const plan: FaultPlan = {
  rules: [
    { kind: 'delay', opcodes: ['SEND', 'RDMA_READ'], jitterMs: 0.02, probability: 0.5 },
    { kind: 'rnr-storm', connection: 2, fromMs: 0.02, durationMs: 0.2 },
  ],
};
const jittery: Partial<LinkModel> = { latencyMs: 0.01, bandwidthGbps: 25, jitterMs: 0.005 };
const steady: Partial<LinkModel> = { latencyMs: 0.01, bandwidthGbps: 25, jitterMs: 0 };

describe('determinism', () => {
  it('the same seed gives the same trace, event for event', async () => {
    const first = await scenario(11, jittery, plan);
    const second = await scenario(11, jittery, plan);
    expect(first.length).toBeGreaterThan(200);
    expect(second).toEqual(first);
    expect(first.some((e) => e.kind === 'nak' && e.fields.type === 'RNR')).toBe(true);
  });

  it('with jitter, another seed gives another schedule', async () => {
    const times = (events: FabricTraceEvent[]) => events.map((e) => e.t);
    const a = await scenario(11, jittery, plan);
    const b = await scenario(12, jittery, plan);
    expect(times(b)).not.toEqual(times(a));
  });

  it('without jitter or random faults, the schedule does not depend on the seed (the keys do)', async () => {
    const schedule = (events: FabricTraceEvent[]) => events.map((e) => `${e.t} ${e.conn} ${e.kind}`);
    const keys = (events: FabricTraceEvent[]) =>
      events.filter((e) => e.kind === 'mr.register').map((e) => e.fields.rkey);
    const a = await scenario(11, steady, { rules: [] });
    const b = await scenario(12, steady, { rules: [] });
    expect(schedule(b)).toEqual(schedule(a));
    expect(keys(b)).not.toEqual(keys(a));
  });

  it('trace events are plain JSON', async () => {
    const events = await scenario(3, jittery, plan);
    expect(JSON.parse(JSON.stringify(events))).toEqual(events);
  });
});
