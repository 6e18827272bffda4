/**
 * The UDP link on loopback: datagrams both ways, the fallback to an ephemeral port when 4791 is taken, the
 * socket-option hook, and a whole soft-RoCE session over IPv6.
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import type { RoceDatagram } from '../../../../sim/roce/link/link.js';
import { SocketOption, UdpLink } from '../../../../sim/roce/link/udp-link.js';
import { makeUdpEnv, within } from '../provider/udp-env.js';
import { connect, runSession } from '../provider/session.js';

function waitFor(got: RoceDatagram[], n: number): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (got.length >= n) resolve();
        else setTimeout(check, 5);
      };
      check();
    }),
    5_000,
    'UDP delivery',
  );
}

describe('UdpLink', () => {
  it('carries datagrams between 127.0.0.1 and 127.0.0.2, and reports real ports and addresses', async () => {
    const link = new UdpLink();
    const atA: RoceDatagram[] = [];
    const atB: RoceDatagram[] = [];
    const a = await link.attach('127.0.0.1', (d) => atA.push(d));
    const b = await link.attach('127.0.0.2', (d) => atB.push(d));
    try {
      a.send({
        srcIp: a.ip,
        srcPort: a.sourcePort(0xc123),
        dstIp: b.ip,
        dstPort: a.destinationPort(b.ip),
        payload: Buffer.from('ping'),
      });
      await waitFor(atB, 1);
      b.send({
        srcIp: b.ip,
        srcPort: b.port,
        dstIp: a.ip,
        dstPort: b.destinationPort(a.ip),
        payload: Buffer.from('pong'),
      });
      await waitFor(atA, 1);
      expect(atB[0]).toMatchObject({ srcIp: '127.0.0.1', srcPort: a.port, dstIp: '127.0.0.2', dstPort: b.port });
      expect(atB[0]?.payload.toString()).toBe('ping');
      expect(atA[0]?.payload.toString()).toBe('pong');
      // The source port on the wire is the socket's, whatever rxe would have liked.
      expect(a.sourcePort(0xc123)).toBe(a.port);
      expect(link.stats).toMatchObject({ sent: 2, received: 2, sendErrors: 0 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('binds an ephemeral port when the asked one is taken, unless told not to', async () => {
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind({ address: '127.0.0.3', port: 0 }, resolve));
    const port = squatter.address().port;
    try {
      const link = new UdpLink({ port });
      const endpoint = await link.attach('127.0.0.3', () => undefined);
      expect(endpoint.port).not.toBe(port);
      await endpoint.close();
      const strict = new UdpLink({ port, fallbackToEphemeral: false });
      await expect(strict.attach('127.0.0.3', () => undefined)).rejects.toMatchObject({ code: 'ERR_SOFTROCE_LINK' });
    } finally {
      await new Promise<void>((resolve) =>
        squatter.close(() => {
          resolve();
        }),
      );
    }
  });

  it('sourcePorts entropy: datagrams leave from the port asked for once its socket is bound; bound mode never', async () => {
    const free = await new Promise<number>((resolve) => {
      const probe = createSocket('udp4');
      probe.bind(0, '127.0.0.1', () => {
        const p = probe.address().port;
        probe.close(() => {
          resolve(p);
        });
      });
    });
    const plain = await new UdpLink({ port: 0 }).attach('127.0.0.1', () => undefined);
    expect(plain.sourcePort(free)).toBe(plain.port);
    await plain.close();
    const link = new UdpLink({ port: 0, sourcePorts: 'entropy' });
    const atB: RoceDatagram[] = [];
    const a = await link.attach('127.0.0.1', () => undefined);
    const b = await link.attach('127.0.0.2', (d) => atB.push(d));
    try {
      expect(a.sourcePort(free)).toBe(a.port); // its socket is still being bound
      for (let i = 0; i < 200 && a.sourcePort(free) !== free; i++) await new Promise((r) => setTimeout(r, 10));
      expect(a.sourcePort(free)).toBe(free);
      a.send({ srcIp: a.ip, srcPort: free, dstIp: b.ip, dstPort: a.destinationPort(b.ip), payload: Buffer.from('x') });
      await waitFor(atB, 1);
      expect(atB[0]?.srcPort).toBe(free);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('calls the socket-option hook: IP_PMTUDISC_DO and SO_NO_CHECK on IPv4, UDP_NO_CHECK6_RX on IPv6', async () => {
    const calls: number[][] = [];
    const link = new UdpLink({ port: 0, setsockoptInt: (...args) => calls.push(args) });
    const v4 = await link.attach('127.0.0.1', () => undefined);
    const v6 = await link.attach('::1', () => undefined);
    await v4.close();
    await v6.close();
    expect(calls.length).toBe(3);
    expect(calls[0]?.slice(1)).toEqual([
      SocketOption.IPPROTO_IP,
      SocketOption.IP_MTU_DISCOVER,
      SocketOption.IP_PMTUDISC_DO,
    ]);
    expect(calls[1]?.slice(1)).toEqual([SocketOption.SOL_SOCKET, SocketOption.SO_NO_CHECK, 1]);
    expect(calls[2]?.slice(1)).toEqual([SocketOption.IPPROTO_UDP, SocketOption.UDP_NO_CHECK6_RX, 1]);
    expect(calls.every((c) => Number.isInteger(c[0]) && (c[0] ?? -1) >= 0)).toBe(true);
  });

  it('runs a soft-RoCE session over IPv6 (::1, two links on two ports)', async () => {
    const toA = new Map<string, number>();
    const toB = new Map<string, number>();
    // Both devices are ::1 (the only IPv6 loopback address): each link is told the other's port.
    const linkA = new UdpLink({ port: 0, peerPorts: toB });
    const linkB = new UdpLink({ port: 0, peerPorts: toA });
    const env = await makeUdpEnv({ addresses: ['::1', '::1'], links: [linkA, linkB] });
    toB.set('::1', env.b.port);
    toA.set('::1', env.a.port);
    try {
      const pair = await connect(env);
      const result = await runSession(env, pair);
      expect(result.received.equals(result.sent)).toBe(true);
      expect(result.remote.subarray(0, 2500).equals(result.written)).toBe(true);
      expect(result.readBack.equals(result.expectedRead)).toBe(true);
      expect(env.b.snapshot().icrcDrops).toBe(0);
    } finally {
      await env.dispose();
    }
  });
});
