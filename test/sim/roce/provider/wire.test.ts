/**
 * Soft-RoCE on the wire, end to end through the provider: a corrupted packet fails its ICRC, is dropped and is
 * recovered by retransmission; the same seed gives the same capture and log, byte for byte.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ConnectionEvent, WorkCompletion } from '../../../../transports/verbs.js';
import { opcodeInfo } from '../../../../sim/roce/opcodes.js';
import { localAckTimeoutUsec } from '../../../../sim/roce/timers.js';
import { Collector } from '../../../support/verbs-contract.js';
import { makeMemoryEnv, type MemoryEnv } from './memory-env.js';
import { connect, runSession } from './session.js';

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

function expectSessionExact(result: Awaited<ReturnType<typeof runSession>>): void {
  expect(result.received.equals(result.sent)).toBe(true);
  expect(result.remote.subarray(0, 2500).equals(result.written)).toBe(true);
  expect(result.readBack.equals(result.expectedRead)).toBe(true);
}

describe('ICRC', () => {
  it('a corrupted packet is dropped by the receiver (bad ICRC) and recovered by retransmission', async () => {
    const env = await makeMemoryEnv();
    const pair = await connect(env);
    let corrupted = 0;
    env.link.filter = (datagram) => {
      if (corrupted === 0 && opcodeInfo(datagram.payload[0] ?? 0xff)?.name === 'RC_RDMA_WRITE_FIRST') {
        corrupted++;
        const payload = Buffer.from(datagram.payload);
        payload[100] = (payload[100] ?? 0) ^ 0x10; // one bit of the data
        return [{ ...datagram, payload }];
      }
      return 'deliver';
    };
    const result = await runSession(env, pair);
    expectSessionExact(result);
    expect(corrupted).toBe(1);
    expect(env.b.snapshot().icrcDrops).toBe(1);
    // The rest of the WRITE arrived out of sequence: one NAK, then go-back-N resent the FIRST packet.
    expect(env.b.snapshot().seqNaksSent).toBe(1);
    expect(env.a.snapshot().retries).toBe(1);
    expect(env.a.snapshot().sent.byOpcode.RC_RDMA_WRITE_FIRST?.packets).toBe(2);
    expect(env.log.lines().some((l) => l.includes('"drop-icrc"') && l.includes('ICRC mismatch'))).toBe(true);
    await env.dispose();
  });

  it('with ICRC off the same corruption goes unnoticed (the mode really is what checks)', async () => {
    const env = await makeMemoryEnv({ provider: { icrc: 'off' } });
    const pair = await connect(env);
    let corrupted = 0;
    env.link.filter = (datagram) => {
      if (corrupted === 0 && opcodeInfo(datagram.payload[0] ?? 0xff)?.name === 'RC_RDMA_WRITE_FIRST') {
        corrupted++;
        const payload = Buffer.from(datagram.payload);
        payload[100] = (payload[100] ?? 0) ^ 0x10;
        return [{ ...datagram, payload }];
      }
      return 'deliver';
    };
    const result = await runSession(env, pair);
    expect(env.b.snapshot().icrcDrops).toBe(0);
    expect(result.remote.subarray(0, 2500).equals(result.written)).toBe(false);
    await env.dispose();
  });
});

describe('a peer that stops answering', () => {
  it('RETRY_EXC_ERR after retry_cnt timer retransmissions, the rest flushed, a qp-error event', async () => {
    const env = await makeMemoryEnv({ provider: { defaults: { retryCount: 2 } } });
    const pair = await connect(env);
    const events = new Collector<ConnectionEvent>(pair.client.events);
    const wcs = new Collector<WorkCompletion>(pair.client.completions);
    env.link.filter = (d) => (d.dstIp === '10.0.0.2' ? [] : 'deliver');
    const sbuf = pair.client.pd.register(Buffer.alloc(64, 1), 0);
    const sgl = [{ mr: sbuf, offset: 0, length: 64 }];
    const start = env.clock.now();
    pair.client.postSend([
      { wrId: 1, opcode: 'SEND', sgl },
      { wrId: 2, opcode: 'RDMA_WRITE', remoteAddr: 0x1000n, rkey: 1, sgl },
    ]);
    const done = await env.run(wcs.take(2));
    expect(done.map((wc) => [wc.wrId, wc.status])).toEqual([
      [1, 'RETRY_EXC_ERR'],
      [2, 'WR_FLUSH_ERR'],
    ]);
    expect(env.clock.now() - start).toBeCloseTo(3 * (localAckTimeoutUsec(14) / 1000), 6);
    expect(events.values).toEqual([{ type: 'qp-error', status: 'RETRY_EXC_ERR' }]);
    expect(env.a.snapshot()).toMatchObject({ timeouts: 3, retries: 2, retryExceeded: 1 });
    expect(pair.client.state).toBe('ERROR');
    await env.dispose();
  });
});

describe('determinism', () => {
  const model = { loss: 0.1, duplicate: 0.1, reorder: 0.1, corrupt: 0.05, jitterMs: 0.003, latencyMs: 0.004 };

  async function capture(seed: number): Promise<{ pcap: string; log: string; env: MemoryEnv }> {
    const env = await makeMemoryEnv({ seed, model });
    expectSessionExact(await runSession(env, await connect(env)));
    await env.dispose();
    return { pcap: sha256(env.tap.toBuffer()), log: env.log.hash(), env };
  }

  it('the same seed gives a byte-identical pcap and event log; another seed does not', async () => {
    const first = await capture(11);
    const second = await capture(11);
    const other = await capture(12);
    expect(second.pcap).toBe(first.pcap);
    expect(second.log).toBe(first.log);
    expect(other.pcap).not.toBe(first.pcap);
    // The faults were there to be reproduced.
    expect(first.env.link.stats.lost + first.env.link.stats.corrupted + first.env.link.stats.reordered).toBeGreaterThan(
      0,
    );
    expect(first.env.tap.packetCount).toBeGreaterThan(20);
  });
});
