/**
 * The in-memory link: delivery in order at the modelled time, seeded faults at their rates, the same draws for
 * the same seed, filters, and the capture of what was sent.
 */
import { describe, expect, it } from 'vitest';
import { VirtualScheduler } from '../../../../sim/clock/virtual-scheduler.js';
import type { RoceDatagram } from '../../../../sim/roce/link/link.js';
import { MemoryLink, type LinkModel } from '../../../../sim/roce/link/memory-link.js';
import { PcapTap } from '../../../../sim/roce/link/pcap-tap.js';

function datagram(i: number, size = 64): RoceDatagram {
  const payload = Buffer.alloc(size);
  payload.writeUInt32BE(i, 0);
  return { srcIp: '10.0.0.1', srcPort: 0xc000, dstIp: '10.0.0.2', dstPort: 4791, payload };
}

async function send(model: LinkModel, n: number, seed = 1) {
  const clock = new VirtualScheduler();
  const tap = new PcapTap(clock);
  const link = new MemoryLink({ scheduler: clock, seed, model, tap });
  const got: { t: number; i: number; payload: Buffer }[] = [];
  const a = await link.attach('10.0.0.1', () => undefined);
  await link.attach('10.0.0.2', (d) => got.push({ t: clock.now(), i: d.payload.readUInt32BE(0), payload: d.payload }));
  for (let i = 0; i < n; i++) a.send(datagram(i));
  await clock.runUntilIdle();
  return { got, link, tap };
}

describe('MemoryLink', () => {
  it('delivers in order after the latency, and jitter does not reorder', async () => {
    const { got } = await send({ latencyMs: 0.01, jitterMs: 0.05 }, 200);
    expect(got.map((g) => g.i)).toEqual([...Array(200).keys()]);
    expect(got[0]!.t).toBeGreaterThanOrEqual(0.01);
    expect(got.every((g, k) => k === 0 || g.t >= got[k - 1]!.t)).toBe(true);
  });

  it('serializes at the bandwidth: 64 datagrams of 64 bytes at 10 Gb/s take 3.2768 µs', async () => {
    const { got } = await send({ latencyMs: 0, bandwidthGbps: 10 }, 64);
    expect(got.at(-1)!.t).toBeCloseTo(((64 * 64 * 8) / 10e9) * 1000, 12);
    expect(got[0]!.t).toBeCloseTo(((64 * 8) / 10e9) * 1000, 12);
  });

  it('loses, duplicates, reorders and corrupts at about the rates asked, from the seed', async () => {
    const n = 4000;
    const { got, link } = await send({ loss: 0.1, duplicate: 0.05, reorder: 0.05, corrupt: 0.05 }, n);
    const s = link.stats;
    expect(s.sent).toBe(n);
    for (const [count, rate] of [
      [s.lost, 0.1],
      [s.duplicated, 0.05 * 0.9],
      [s.reordered, 0.05],
      [s.corrupted, 0.05 * 0.9],
    ] as const) {
      expect(count / n).toBeGreaterThan(rate * 0.7);
      expect(count / n).toBeLessThan(rate * 1.3);
    }
    expect(got.length).toBe(n - s.lost + s.duplicated);
    const ids = got.map((g) => g.i);
    expect(ids.some((id, k) => k > 0 && id < ids[k - 1]!)).toBe(true);
    const corrupted = got.filter(
      (g) => !g.payload.subarray(4).equals(Buffer.alloc(60)) || g.payload.readUInt32BE(0) >= n,
    );
    expect(corrupted.length).toBeGreaterThan(0);
  });

  it('the same seed draws the same faults; another seed others', async () => {
    const model = { loss: 0.2, duplicate: 0.1, reorder: 0.1, corrupt: 0.1, jitterMs: 0.01 };
    const one = await send(model, 300, 5);
    const two = await send(model, 300, 5);
    const three = await send(model, 300, 6);
    const trace = (r: typeof one) => r.got.map((g) => `${g.t}:${g.payload.toString('hex')}`).join('\n');
    expect(trace(two)).toBe(trace(one));
    expect(trace(three)).not.toBe(trace(one));
  });

  it('a filter can drop, duplicate or rewrite single datagrams; the tap records what was sent', async () => {
    const clock = new VirtualScheduler();
    const tap = new PcapTap(clock);
    const link = new MemoryLink({ scheduler: clock, tap });
    const got: number[] = [];
    const a = await link.attach('10.0.0.1', () => undefined);
    await link.attach('10.0.0.2', (d) => got.push(d.payload.readUInt32BE(0)));
    link.filter = (d) => {
      const i = d.payload.readUInt32BE(0);
      if (i === 1) return [];
      if (i === 2) return [d, d];
      return 'deliver';
    };
    for (let i = 0; i < 4; i++) a.send(datagram(i));
    await clock.runUntilIdle();
    expect(got).toEqual([0, 2, 2, 3]);
    expect(tap.packetCount).toBe(4);
  });

  it('models each direction on its own', async () => {
    const clock = new VirtualScheduler();
    const link = new MemoryLink({ scheduler: clock });
    link.setModel({ loss: 1 }, '10.0.0.1', '10.0.0.2');
    const atA: number[] = [];
    const atB: number[] = [];
    const a = await link.attach('10.0.0.1', (d) => atA.push(d.payload.readUInt32BE(0)));
    const b = await link.attach('10.0.0.2', (d) => atB.push(d.payload.readUInt32BE(0)));
    for (let i = 0; i < 10; i++) {
      a.send(datagram(i));
      b.send({ ...datagram(i), srcIp: '10.0.0.2', dstIp: '10.0.0.1' });
    }
    await clock.runUntilIdle();
    expect(atB).toEqual([]);
    expect(atA).toEqual([...Array(10).keys()]);
  });

  it('datagrams to nobody are counted; attaching an address twice fails', async () => {
    const clock = new VirtualScheduler();
    const link = new MemoryLink({ scheduler: clock });
    const a = await link.attach('10.0.0.1', () => undefined);
    a.send(datagram(0));
    await clock.runUntilIdle();
    expect(link.stats.unroutable).toBe(1);
    await expect(link.attach('10.0.0.1', () => undefined)).rejects.toMatchObject({ code: 'ERR_SOFTROCE_LINK' });
    expect(() => new MemoryLink({ scheduler: clock, model: { loss: 2 } })).toThrow(
      expect.objectContaining({ code: 'ERR_SOFTROCE_CONFIG' }),
    );
  });
});
