/**
 * The RC engine's protocol behaviour, packet by packet, against what rxe does (shared/reference/roce-rxe.md
 * §3.4–3.6): PSN sequence errors and go-back-N, duplicate READs replayed, RNR waits by the timer table, retries
 * exhausted, remote access errors, duplicates re-ACKed.
 */
import { describe, expect, it } from 'vitest';
import { Access } from '../../../../transports/verbs.js';
import { localAckTimeoutUsec, rnrTimerUsec } from '../../../../sim/roce/timers.js';
import { EnginePair, type WireRecord } from './engine-pair.js';

const RW = Access.LOCAL_WRITE | Access.REMOTE_READ | Access.REMOTE_WRITE;

function pattern(size: number, salt: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 13 + salt * 11 + (i >> 8)) & 0xff;
  return b;
}

const isNak = (code: number) => (r: WireRecord) =>
  r.name === 'RC_ACKNOWLEDGE' && r.packet.aeth?.syndrome.kind === 'nak' && r.packet.aeth.syndrome.code === code;

/** Drops the first packet from `end` that matches, once. */
function dropOnce(match: (r: WireRecord) => boolean): (r: WireRecord) => 'pass' | 'drop' {
  let done = false;
  return (r) => {
    if (!done && match(r)) {
      done = true;
      return 'drop';
    }
    return 'pass';
  };
}

describe('PSN sequence error', () => {
  it('a lost packet in a 10-packet WRITE: exactly one NAK, then go-back-N from the lost PSN', () => {
    const p = new EnginePair();
    const remote = p.pd.b.register(Buffer.alloc(10 * 1024), RW);
    const local = p.pd.a.register(pattern(10 * 1024, 1), 0);
    const lostPsn = (0x00fff0 + 3) & 0xffffff;
    p.filter = dropOnce((r) => r.from === 'a' && r.psn === lostPsn);
    p.apply(
      'a',
      p.qp.a.postSend([
        {
          wrId: 1,
          opcode: 'RDMA_WRITE',
          remoteAddr: remote.addr,
          rkey: remote.rkey,
          sgl: [{ mr: local, offset: 0, length: 10 * 1024 }],
        },
      ]),
    );
    p.run();
    expect(p.wcs.a).toEqual([{ wrId: 1, status: 'SUCCESS', opcode: 'RDMA_WRITE', byteLen: 10 * 1024 }]);
    expect(remote.buffer.equals(local.buffer)).toBe(true);
    // Packets 4..9 arrive out of sequence, but only one NAK goes back, naming the expected PSN.
    const naks = p.wire.filter(isNak(0));
    expect(naks.map((r) => r.psn)).toEqual([lostPsn]);
    // Go back N: PSNs 3..9 are sent again, in order, right after the NAK (no timer involved).
    const requests = p.wire.filter((r) => r.from === 'a').map((r) => (r.psn - 0x00fff0) & 0xffffff);
    expect(requests).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 4, 5, 6, 7, 8, 9]);
    expect(p.now).toBe(0);
    const resent = p.wire.filter((r) => r.from === 'a').slice(10);
    expect(resent[0]?.name).toBe('RC_RDMA_WRITE_MIDDLE');
    expect(resent.at(-1)?.name).toBe('RC_RDMA_WRITE_LAST');
    expect(p.counters.b.snapshot()).toMatchObject({ seqNaksSent: 1, duplicateRequests: 0 });
    expect(p.counters.a.snapshot()).toMatchObject({
      seqNaksReceived: 1,
      retries: 1,
      retransmittedPackets: 7,
      timeouts: 0,
    });
  });

  it('a NAK acknowledges what came before it: earlier messages complete', () => {
    const p = new EnginePair();
    const remote = p.pd.b.register(Buffer.alloc(4096), RW);
    const local = p.pd.a.register(pattern(4096, 2), 0);
    const first = 0x00fff0;
    // Lose the ACK of message 0 and the request of message 1: the NAK for message 1 completes message 0.
    let ackLost = false;
    p.filter = (r) => {
      if (r.from === 'b' && r.name === 'RC_ACKNOWLEDGE' && r.psn === first && !ackLost) {
        ackLost = true;
        return 'drop';
      }
      return r.from === 'a' &&
        r.psn === first + 1 &&
        r.packet.payload.length === 100 &&
        !p.wire.some((w) => w !== r && w.psn === first + 1)
        ? 'drop'
        : 'pass';
    };
    const sgl = (offset: number, length: number) => [{ mr: local, offset, length }];
    p.apply(
      'a',
      p.qp.a.postSend(
        [0, 1, 2].map((i) => ({
          wrId: i,
          opcode: 'RDMA_WRITE' as const,
          remoteAddr: remote.addr + BigInt(i * 100),
          rkey: remote.rkey,
          sgl: sgl(i * 100, 100),
        })),
      ),
    );
    p.run();
    expect(p.wcs.a.map((wc) => [wc.wrId, wc.status])).toEqual([
      [0, 'SUCCESS'],
      [1, 'SUCCESS'],
      [2, 'SUCCESS'],
    ]);
    expect(p.wire.filter(isNak(0)).length).toBe(1);
    expect(remote.buffer.subarray(0, 300).equals(local.buffer.subarray(0, 300))).toBe(true);
  });
});

describe('duplicates', () => {
  it('a duplicated SEND is re-ACKed, not delivered twice', () => {
    const p = new EnginePair();
    const rbuf = p.pd.b.register(Buffer.alloc(128), Access.LOCAL_WRITE);
    p.apply(
      'b',
      p.qp.b.postRecv([0, 1].map((i) => ({ wrId: 10 + i, sgl: [{ mr: rbuf, offset: i * 64, length: 64 }] }))),
    );
    const sbuf = p.pd.a.register(pattern(64, 3), 0);
    let dup = true;
    p.filter = (r) => (r.from === 'a' && dup ? ((dup = false), 'dup') : 'pass');
    p.apply('a', p.qp.a.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 64 }] }]));
    p.run();
    expect(p.wcs.b.map((wc) => wc.wrId)).toEqual([10]);
    expect(p.wcs.a.map((wc) => wc.status)).toEqual(['SUCCESS']);
    const acks = p.wire.filter((r) => r.from === 'b' && r.name === 'RC_ACKNOWLEDGE');
    expect(acks.map((r) => r.psn)).toEqual([0x00fff0, 0x00fff0]);
    expect(p.counters.b.snapshot().duplicateRequests).toBe(1);
  });

  it('a duplicate READ request is answered again from the responder resource (replay)', () => {
    const p = new EnginePair();
    const remote = p.pd.b.register(pattern(3000, 4), RW);
    const sink = p.pd.a.register(Buffer.alloc(3000), Access.LOCAL_WRITE);
    let dup = true;
    p.filter = (r) => (r.name === 'RC_RDMA_READ_REQUEST' && dup ? ((dup = false), 'dup') : 'pass');
    p.apply(
      'a',
      p.qp.a.postSend([
        {
          wrId: 5,
          opcode: 'RDMA_READ',
          remoteAddr: remote.addr,
          rkey: remote.rkey,
          sgl: [{ mr: sink, offset: 0, length: 3000 }],
        },
      ]),
    );
    p.run();
    expect(p.wcs.a).toEqual([{ wrId: 5, status: 'SUCCESS', opcode: 'RDMA_READ', byteLen: 3000 }]);
    expect(sink.buffer.equals(remote.buffer)).toBe(true);
    const responses = p.wire.filter((r) => r.from === 'b').map((r) => r.name.replace('RC_RDMA_READ_RESPONSE_', ''));
    expect(responses).toEqual(['FIRST', 'MIDDLE', 'LAST', 'FIRST', 'MIDDLE', 'LAST']);
    expect(p.notes.filter((n) => n.event === 'read-replay').length).toBe(1);
    expect(p.counters.b.snapshot().duplicateRequests).toBe(1);
  });

  it('a lost READ response: the timer resends the READ for the missing tail, replayed from a middle PSN', () => {
    const p = new EnginePair();
    const remote = p.pd.b.register(pattern(4096, 5), RW);
    const sink = p.pd.a.register(Buffer.alloc(4096), Access.LOCAL_WRITE);
    p.filter = dropOnce((r) => r.name === 'RC_RDMA_READ_RESPONSE_MIDDLE' && r.psn === ((0x00fff0 + 2) & 0xffffff));
    p.apply(
      'a',
      p.qp.a.postSend([
        {
          wrId: 6,
          opcode: 'RDMA_READ',
          remoteAddr: remote.addr,
          rkey: remote.rkey,
          sgl: [{ mr: sink, offset: 0, length: 4096 }],
        },
      ]),
    );
    p.run();
    expect(p.wcs.a).toEqual([{ wrId: 6, status: 'SUCCESS', opcode: 'RDMA_READ', byteLen: 4096 }]);
    expect(sink.buffer.equals(remote.buffer)).toBe(true);
    const requests = p.sent('a', 'RC_RDMA_READ_REQUEST');
    expect(requests.length).toBe(2);
    // The second asks for the last 2 KiB, starting at the PSN of the lost response.
    expect(requests[1]?.psn).toBe((0x00fff0 + 2) & 0xffffff);
    expect(requests[1]?.packet.reth).toMatchObject({ va: remote.addr + 2048n, length: 2048 });
    expect(requests[1]?.t).toBeCloseTo(localAckTimeoutUsec(14) / 1000, 6);
    const replay = p.wire
      .filter((r) => r.from === 'b' && r.t > 0)
      .map((r) => r.name.replace('RC_RDMA_READ_RESPONSE_', ''));
    expect(replay).toEqual(['MIDDLE', 'LAST']);
    expect(p.counters.a.snapshot()).toMatchObject({ timeouts: 1, retries: 1 });
  });
});

describe('RNR', () => {
  it.each([1, 14, 20])('waits exactly the time of RNR timer code %i, then retries', (code) => {
    const p = new EnginePair({ b: { minRnrTimer: code } });
    const sbuf = p.pd.a.register(pattern(100, 6), 0);
    p.apply('a', p.qp.a.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 100 }] }]));
    p.run(() => p.wire.some((r) => r.name === 'RC_ACKNOWLEDGE'));
    const rnr = p.wire.find((r) => r.name === 'RC_ACKNOWLEDGE');
    expect(rnr?.packet.aeth?.syndrome).toEqual({ kind: 'rnr-nak', timer: code });
    // The receive is posted only now: the retry after the wait succeeds.
    const rbuf = p.pd.b.register(Buffer.alloc(128), Access.LOCAL_WRITE);
    p.apply('b', p.qp.b.postRecv([{ wrId: 2, sgl: [{ mr: rbuf, offset: 0, length: 128 }] }]));
    p.run();
    const sends = p.sent('a', 'RC_SEND_ONLY');
    expect(sends.map((r) => r.psn)).toEqual([0x00fff0, 0x00fff0]);
    expect(sends[1]!.t - sends[0]!.t).toBeCloseTo(rnrTimerUsec(code) / 1000, 9);
    expect(p.wcs.a.map((wc) => wc.status)).toEqual(['SUCCESS']);
    expect(p.wcs.b.map((wc) => wc.status)).toEqual(['SUCCESS']);
    expect(p.counters.a.snapshot().rnrNaksReceived).toBe(1);
    expect(p.counters.b.snapshot().rnrNaksSent).toBe(1);
  });

  it('RNR_RETRY_EXC_ERR after rnr_retry retries, then the QP flushes', () => {
    const p = new EnginePair({ a: { rnrRetry: 2 } });
    const sbuf = p.pd.a.register(pattern(100, 7), 0);
    const sgl = [{ mr: sbuf, offset: 0, length: 100 }];
    p.apply(
      'a',
      p.qp.a.postSend([
        { wrId: 1, opcode: 'SEND', sgl },
        { wrId: 2, opcode: 'SEND', sgl },
      ]),
    );
    p.run();
    expect(p.wcs.a.map((wc) => [wc.wrId, wc.status])).toEqual([
      [1, 'RNR_RETRY_EXC_ERR'],
      [2, 'WR_FLUSH_ERR'],
    ]);
    expect(p.errors.a).toEqual(['RNR_RETRY_EXC_ERR']);
    expect(p.sent('b', 'RC_ACKNOWLEDGE').filter((r) => r.packet.aeth?.syndrome.kind === 'rnr-nak').length).toBe(3);
    expect(p.qp.a.state).toBe('ERROR');
  });
});

describe('retries exhausted', () => {
  it.each([0, 1, 3])(
    'retry_cnt %i: that many retransmissions on the timer, then RETRY_EXC_ERR and a flush',
    (retryCount) => {
      const p = new EnginePair({ a: { retryCount } });
      p.filter = (r) => (r.from === 'a' ? 'drop' : 'pass');
      const sbuf = p.pd.a.register(pattern(16, 8), 0);
      const sgl = [{ mr: sbuf, offset: 0, length: 16 }];
      p.apply(
        'a',
        p.qp.a.postSend([
          { wrId: 1, opcode: 'SEND', sgl },
          { wrId: 2, opcode: 'SEND', sgl },
        ]),
      );
      p.run();
      expect(p.wcs.a.map((wc) => [wc.wrId, wc.status])).toEqual([
        [1, 'RETRY_EXC_ERR'],
        [2, 'WR_FLUSH_ERR'],
      ]);
      const timeoutMs = localAckTimeoutUsec(14) / 1000;
      const first = p.sent('a', 'RC_SEND_ONLY').filter((r) => r.psn === 0x00fff0);
      expect(first.map((r) => r.t)).toEqual([...Array(retryCount + 1).keys()].map((i) => i * timeoutMs));
      expect(p.now).toBeCloseTo((retryCount + 1) * timeoutMs, 9);
      expect(p.counters.a.snapshot()).toMatchObject({ timeouts: retryCount + 1, retryExceeded: 1 });
      expect(p.errors.a).toEqual(['RETRY_EXC_ERR']);
    },
  );
});

describe('remote access errors', () => {
  it('a WRITE with a bad rkey: NAK remote access error, REM_ACCESS_ERR, both QPs in ERROR, receives flushed', () => {
    const p = new EnginePair();
    const remote = p.pd.b.register(Buffer.alloc(64), RW);
    const rbuf = p.pd.b.register(Buffer.alloc(64), Access.LOCAL_WRITE);
    p.apply('b', p.qp.b.postRecv([{ wrId: 50, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]));
    const local = p.pd.a.register(pattern(64, 9), 0);
    p.apply(
      'a',
      p.qp.a.postSend([
        {
          wrId: 1,
          opcode: 'RDMA_WRITE',
          remoteAddr: remote.addr,
          rkey: (remote.rkey ^ 0x80) >>> 0,
          sgl: [{ mr: local, offset: 0, length: 8 }],
        },
        { wrId: 2, opcode: 'SEND', sgl: [{ mr: local, offset: 0, length: 8 }] },
      ]),
    );
    p.run();
    expect(p.wire.filter(isNak(2)).map((r) => r.psn)).toEqual([0x00fff0]);
    expect(p.wcs.a.map((wc) => [wc.wrId, wc.status])).toEqual([
      [1, 'REM_ACCESS_ERR'],
      [2, 'WR_FLUSH_ERR'],
    ]);
    expect(p.wcs.b.map((wc) => [wc.wrId, wc.status])).toEqual([[50, 'WR_FLUSH_ERR']]);
    expect(p.errors).toEqual({ a: ['REM_ACCESS_ERR'], b: ['REM_ACCESS_ERR'] });
    expect(remote.buffer.equals(Buffer.alloc(64))).toBe(true);
  });

  it('a READ beyond the region and a WRITE without REMOTE_WRITE are remote access errors', () => {
    for (const [opcode, access, addrOffset] of [
      ['RDMA_READ', RW, 60n],
      ['RDMA_WRITE', Access.LOCAL_WRITE | Access.REMOTE_READ, 0n],
    ] as const) {
      const p = new EnginePair();
      const remote = p.pd.b.register(Buffer.alloc(64), access);
      const local = p.pd.a.register(Buffer.alloc(64), Access.LOCAL_WRITE);
      p.apply(
        'a',
        p.qp.a.postSend([
          {
            wrId: 1,
            opcode,
            remoteAddr: remote.addr + addrOffset,
            rkey: remote.rkey,
            sgl: [{ mr: local, offset: 0, length: 8 }],
          },
        ]),
      );
      p.run();
      expect(p.wcs.a.map((wc) => wc.status)).toEqual(['REM_ACCESS_ERR']);
    }
  });

  it('SEND_WITH_INV invalidates the named rkey; the RECV reports it; a later WRITE to it fails', () => {
    const p = new EnginePair();
    const target = p.pd.b.register(Buffer.alloc(64), RW, { invalidatable: true });
    const rbuf = p.pd.b.register(Buffer.alloc(64), Access.LOCAL_WRITE);
    p.apply('b', p.qp.b.postRecv([{ wrId: 30, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]));
    const local = p.pd.a.register(pattern(48, 10), 0);
    p.apply(
      'a',
      p.qp.a.postSend([
        { wrId: 1, opcode: 'SEND_WITH_INV', invalidateRkey: target.rkey, sgl: [{ mr: local, offset: 0, length: 48 }] },
        {
          wrId: 2,
          opcode: 'RDMA_WRITE',
          remoteAddr: target.addr,
          rkey: target.rkey,
          sgl: [{ mr: local, offset: 0, length: 8 }],
        },
      ]),
    );
    p.run();
    expect(p.sent('a', 'RC_SEND_ONLY_WITH_INVALIDATE')[0]?.packet.ieth).toBe(target.rkey);
    expect(p.wcs.b[0]).toEqual({
      wrId: 30,
      status: 'SUCCESS',
      opcode: 'RECV',
      byteLen: 48,
      invalidatedRkey: target.rkey,
    });
    expect(target.valid).toBe(false);
    expect(p.wcs.a.map((wc) => [wc.wrId, wc.status])).toEqual([
      [1, 'SUCCESS'],
      [2, 'REM_ACCESS_ERR'],
    ]);
  });

  it('a receive too small: NAK remote operational error; REM_OP_ERR at the sender, LOC_QP_OP_ERR at the receiver (as rxe)', () => {
    const p = new EnginePair();
    const rbuf = p.pd.b.register(Buffer.alloc(8), Access.LOCAL_WRITE);
    p.apply('b', p.qp.b.postRecv([{ wrId: 20, sgl: [{ mr: rbuf, offset: 0, length: 8 }] }]));
    const sbuf = p.pd.a.register(pattern(64, 11), 0);
    p.apply('a', p.qp.a.postSend([{ wrId: 2, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 64 }] }]));
    p.run();
    expect(p.wire.filter(isNak(3)).length).toBe(1);
    expect(p.wcs.a.map((wc) => wc.status)).toEqual(['REM_OP_ERR']);
    expect(p.wcs.b.map((wc) => wc.status)).toEqual(['LOC_QP_OP_ERR']);
  });
});
