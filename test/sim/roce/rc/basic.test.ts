/**
 * The RC engine moving data back to back without faults: SEND into receives across SGEs, WRITE and READ of
 * every size class, PSN use, AckReq placement, completions in order.
 */
import { describe, expect, it } from 'vitest';
import { Access } from '../../../../transports/verbs.js';
import { EnginePair } from './engine-pair.js';

const RW = Access.LOCAL_WRITE | Access.REMOTE_READ | Access.REMOTE_WRITE;

function pattern(size: number, salt: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + salt * 7 + (i >> 8)) & 0xff;
  return b;
}

describe('RC engine, no faults', () => {
  it.each([0, 1, 1023, 1024, 1025, 5000, 70 * 1024])('SEND of %i bytes lands in the receive', (size) => {
    const p = new EnginePair();
    const rbuf = p.pd.b.register(Buffer.alloc(size + 16), Access.LOCAL_WRITE);
    p.apply('b', p.qp.b.postRecv([{ wrId: 9, sgl: [{ mr: rbuf, offset: 3, length: size + 10 }] }]));
    const sbuf = p.pd.a.register(pattern(size + 1, 1), 0);
    p.apply('a', p.qp.a.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 1, length: size }] }]));
    p.run();
    expect(p.wcs.a).toEqual([{ wrId: 1, status: 'SUCCESS', opcode: 'SEND', byteLen: size }]);
    expect(p.wcs.b).toEqual([{ wrId: 9, status: 'SUCCESS', opcode: 'RECV', byteLen: size }]);
    expect(rbuf.buffer.subarray(3, 3 + size).equals(sbuf.buffer.subarray(1))).toBe(true);
    const packets = Math.max(1, Math.ceil(size / 1024));
    const requests = p.wire.filter((r) => r.from === 'a');
    expect(requests.length).toBe(packets);
    expect(requests.map((r) => r.psn)).toEqual([...Array(packets).keys()].map((i) => (0x00fff0 + i) & 0xffffff));
    // AckReq on the last packet and on every 65th packet without one.
    const acked = requests.filter((r) => r.packet.bth.ackReq).map((r) => requests.indexOf(r));
    expect(acked).toContain(packets - 1);
    for (const [i, r] of requests.entries())
      expect(r.packet.payload.length).toBe(i < packets - 1 ? 1024 : size - 1024 * (packets - 1));
    expect(p.wire.filter((r) => r.from === 'b').every((r) => r.name === 'RC_ACKNOWLEDGE')).toBe(true);
  });

  it.each([1, 1024, 4097, 300 * 1024])('WRITE then READ of %i bytes', (size) => {
    const p = new EnginePair();
    const remote = p.pd.b.register(Buffer.alloc(size + 8), RW);
    const local = p.pd.a.register(pattern(size, 2), Access.LOCAL_WRITE);
    p.apply(
      'a',
      p.qp.a.postSend([
        {
          wrId: 1,
          opcode: 'RDMA_WRITE',
          remoteAddr: remote.addr + 4n,
          rkey: remote.rkey,
          sgl: [{ mr: local, offset: 0, length: size }],
        },
      ]),
    );
    p.run();
    expect(p.wcs.a).toEqual([{ wrId: 1, status: 'SUCCESS', opcode: 'RDMA_WRITE', byteLen: size }]);
    expect(remote.buffer.subarray(4, 4 + size).equals(local.buffer)).toBe(true);
    pattern(size, 3).copy(remote.buffer, 4);
    const sink = p.pd.a.register(Buffer.alloc(size), Access.LOCAL_WRITE);
    const before = p.wire.length;
    p.apply(
      'a',
      p.qp.a.postSend([
        {
          wrId: 2,
          opcode: 'RDMA_READ',
          remoteAddr: remote.addr + 4n,
          rkey: remote.rkey,
          sgl: [{ mr: sink, offset: 0, length: size }],
        },
      ]),
    );
    p.run();
    expect(p.wcs.a[1]).toEqual({ wrId: 2, status: 'SUCCESS', opcode: 'RDMA_READ', byteLen: size });
    expect(sink.buffer.equals(pattern(size, 3))).toBe(true);
    const read = p.wire.slice(before);
    const request = read.find((r) => r.name === 'RC_RDMA_READ_REQUEST');
    const responses = read.filter((r) => r.name.startsWith('RC_RDMA_READ_RESPONSE'));
    const n = Math.ceil(size / 1024);
    expect(responses.length).toBe(n);
    expect(responses.map((r) => r.psn)).toEqual([...Array(n).keys()].map((i) => (request!.psn + i) & 0xffffff));
  });

  it('16 READs with 4 credits complete in order', () => {
    const p = new EnginePair();
    const remote = p.pd.b.register(pattern(64 * 1024, 4), RW);
    const local = p.pd.a.register(Buffer.alloc(64 * 1024), Access.LOCAL_WRITE);
    p.apply(
      'a',
      p.qp.a.postSend(
        [...Array(16).keys()].map((i) => ({
          wrId: i,
          opcode: 'RDMA_READ' as const,
          remoteAddr: remote.addr + BigInt(i * 4096),
          rkey: remote.rkey,
          sgl: [{ mr: local, offset: i * 4096, length: 4096 }],
        })),
      ),
    );
    p.run();
    expect(p.wcs.a.map((wc) => [wc.wrId, wc.status])).toEqual([...Array(16).keys()].map((i) => [i, 'SUCCESS']));
    expect(local.buffer.equals(remote.buffer)).toBe(true);
  });
});
