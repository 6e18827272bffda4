/**
 * The fabric's trace in the simulator's event log: same seed, same log hash; another seed with jitter, another hash.
 */
import { describe, expect, it } from 'vitest';
import { Access } from '../../../transports/verbs.js';
import { recordFabricTrace } from '../../../sim/fabric/event-log-bridge.js';
import { EventLog } from '../../../sim/trace/event-log.js';
import { connectPair, pattern } from './pair.js';
import { makeSimEnv } from './sim-env.js';

async function logged(seed: number): Promise<EventLog> {
  const env = makeSimEnv({ seed, link: { jitterMs: 0.01 } });
  const log = new EventLog({ clock: env.clock });
  recordFabricTrace(env.fabric, log);
  const { client, server, clientWc } = await connectPair(env);
  const remote = server.pd.register(Buffer.alloc(4096), Access.LOCAL_WRITE | Access.REMOTE_WRITE);
  const local = client.pd.register(pattern(4096, 1), 0);
  client.postSend(
    [0, 1, 2, 3].map((i) => ({
      wrId: i,
      opcode: 'RDMA_WRITE' as const,
      remoteAddr: remote.addr + BigInt(i * 1024),
      rkey: remote.rkey,
      sgl: [{ mr: local, offset: i * 1024, length: 1024 }],
    })),
  );
  await env.run(clientWc.take(4));
  await env.run(client.disconnect());
  await env.settle();
  return log;
}

describe('recordFabricTrace', () => {
  it('logs every verb-level event, with the same hash for the same seed', async () => {
    const [a, b, c] = [await logged(5), await logged(5), await logged(6)];
    expect(a.size).toBeGreaterThan(30);
    expect(a.events.map((e) => e.source)).toContain('fabric/c1');
    expect(a.events.map((e) => e.type)).toContain('exec');
    expect(b.hash()).toBe(a.hash());
    expect(c.hash()).not.toBe(a.hash());
  });
});
