/**
 * NativeVerbs on a real verbs device (rxe in the QEMU guest: tools/rxevm/run-native-tests.sh). Both ends run in
 * this process over the device's own address. Where probe() finds no RDMA the suite skips with its reason;
 * with ISER_REQUIRE_RDMA=1 (set in the guest) that is a failure instead.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isIserError } from '../../protocol/errors.js';
import {
  Access,
  type ConnectionEvent,
  type MemoryRegion,
  type QpCapabilities,
  type RdmaConnection,
  type RdmaListener,
  type WorkCompletion,
} from '../../transports/verbs.js';
import { NativeVerbs } from '../../native/index.js';
import { rdmaAddress, rdmaRequired, skipReason } from './rdma-host.js';

if (skipReason !== undefined) console.warn(`SKIP native verbs tests: ${skipReason}`);

/** Every completion and event of a connection, with bounded waits. */
class Recorder {
  readonly wcs: WorkCompletion[] = [];
  readonly events: ConnectionEvent[] = [];
  completed = false;
  private wake: (() => void) | undefined;

  constructor(conn: RdmaConnection) {
    conn.completions.subscribe({
      next: (wc) => {
        this.wcs.push(wc);
        this.wake?.();
      },
      complete: () => {
        this.completed = true;
        this.wake?.();
      },
    });
    conn.events.subscribe((e) => {
      this.events.push(e);
      this.wake?.();
    });
  }

  /** Waits (at most `ms`) until `ready()` holds. */
  async until(ready: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; completions: ${JSON.stringify(this.wcs)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  async completions(n: number, ms?: number): Promise<WorkCompletion[]> {
    await this.until(() => this.wcs.length >= n, `${n} completions`, ms);
    return this.wcs.splice(0, n);
  }
}

const QP = { maxSendWr: 16, maxRecvWr: 16, maxSendSge: 4, maxRecvSge: 4 } as const;

describe.skipIf(skipReason !== undefined && !rdmaRequired)('NativeVerbs on a verbs device', () => {
  const host = rdmaAddress();
  const cleanups: (() => Promise<void>)[] = [];
  let provider: NativeVerbs | undefined;

  it.runIf(skipReason !== undefined)('has an RDMA device (ISER_REQUIRE_RDMA=1)', () => {
    expect.fail(`no RDMA here: ${skipReason}`);
  });

  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
    provider?.close();
    provider = undefined;
  });

  function verbs(): NativeVerbs {
    provider ??= NativeVerbs.open({ timeoutMs: 5000, drainTimeoutMs: 2000 });
    return provider;
  }

  async function listen(): Promise<RdmaListener> {
    const listener = await verbs().listen({ host, port: 0 });
    cleanups.push(() => listener.close());
    return listener;
  }

  /** A connected pair; the server accepts with `accept` options, the client connects with `connect` options. */
  async function pair(
    opts: { clientPd?: Buffer; serverPd?: Buffer; serverRnrRetryCount?: number; qp?: QpCapabilities } = {},
  ) {
    const qp = opts.qp ?? QP;
    const listener = await listen();
    const accepted = new Promise<{ conn: RdmaConnection; reqData: Buffer }>((resolve, reject) => {
      listener.connectRequests.subscribe((req) => {
        req
          .accept({
            qp,
            ...(opts.serverPd !== undefined && { privateData: opts.serverPd }),
            ...(opts.serverRnrRetryCount !== undefined && { rnrRetryCount: opts.serverRnrRetryCount }),
          })
          .then((conn) => {
            resolve({ conn, reqData: req.privateData });
          }, reject);
      });
    });
    const client = await verbs().connect(listener.address, {
      qp,
      retryCount: 2,
      rnrRetryCount: 6,
      ...(opts.clientPd !== undefined && { privateData: opts.clientPd }),
    });
    const { conn: server, reqData } = await accepted;
    cleanups.push(
      () => client.disconnect(),
      () => server.disconnect(),
    );
    return { listener, client, server, reqData, c: new Recorder(client), s: new Recorder(server) };
  }

  function region(conn: RdmaConnection, size: number, access: number, fill?: number): MemoryRegion {
    const buf = Buffer.alloc(size, fill ?? 0);
    return conn.pd.register(buf, access);
  }

  it('connects with private data both ways and reaches RTS', async () => {
    const { listener, client, server, reqData } = await pair({
      clientPd: Buffer.from([0xc0, 0, 0, 0]),
      serverPd: Buffer.from([0x80, 0, 0, 0]),
    });
    // IB CM pads private data to the message's full size: the bytes we sent come first.
    expect(reqData.subarray(0, 4)).toEqual(Buffer.from([0xc0, 0, 0, 0]));
    expect(client.peerPrivateData.subarray(0, 4)).toEqual(Buffer.from([0x80, 0, 0, 0]));
    expect(client.state).toBe('RTS');
    expect(server.state).toBe('RTS');
    expect(client.remote).toEqual(listener.address);
    expect(server.local.port).toBe(listener.address.port);
    expect(verbs().name).toMatch(/^native:/);
  });

  it('moves a SEND into a posted RECV, gathering and scattering SGE lists', async () => {
    const { client, server, c, s } = await pair();
    const rx = region(server, 64, Access.LOCAL_WRITE);
    server.postRecv([
      {
        wrId: 7,
        sgl: [
          { mr: rx, offset: 0, length: 8 },
          { mr: rx, offset: 32, length: 32 },
        ],
      },
    ]);
    const tx = region(client, 64, 0);
    tx.buffer.write('0123456789abcdef', 0);
    tx.buffer.write('XYZ', 40);
    client.postSend([
      {
        wrId: 11,
        opcode: 'SEND',
        sgl: [
          { mr: tx, offset: 0, length: 16 },
          { mr: tx, offset: 40, length: 3 },
        ],
      },
    ]);
    expect(await c.completions(1)).toEqual([{ wrId: 11, status: 'SUCCESS', opcode: 'SEND', byteLen: 19 }]);
    const [recv] = await s.completions(1);
    expect(recv).toMatchObject({ wrId: 7, status: 'SUCCESS', opcode: 'RECV', byteLen: 19 });
    expect(rx.buffer.subarray(0, 8).toString()).toBe('01234567');
    expect(rx.buffer.subarray(32, 43).toString()).toBe('89abcdefXYZ');
  });

  it('RDMA WRITEs into and READs back from a remote region', async () => {
    const { client, server, c } = await pair();
    const remote = region(server, 1 << 20, Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ);
    const local = region(client, 1 << 20, Access.LOCAL_WRITE);
    for (let i = 0; i < local.length; i++) local.buffer[i] = (i * 7 + 3) & 0xff;
    client.postSend([
      {
        wrId: 1,
        opcode: 'RDMA_WRITE',
        sgl: [{ mr: local, offset: 0, length: local.length }],
        remoteAddr: remote.addr,
        rkey: remote.rkey,
      },
    ]);
    expect(await c.completions(1)).toEqual([
      { wrId: 1, status: 'SUCCESS', opcode: 'RDMA_WRITE', byteLen: local.length },
    ]);
    expect(remote.buffer.equals(local.buffer)).toBe(true);

    remote.buffer.write('read me back', 4096);
    client.postSend([
      {
        wrId: 2,
        opcode: 'RDMA_READ',
        sgl: [{ mr: local, offset: 100, length: 12 }],
        remoteAddr: remote.addr + 4096n,
        rkey: remote.rkey,
      },
    ]);
    expect(await c.completions(1)).toEqual([{ wrId: 2, status: 'SUCCESS', opcode: 'RDMA_READ', byteLen: 12 }]);
    expect(local.buffer.subarray(100, 112).toString()).toBe('read me back');
    expect(server.state).toBe('RTS');
  });

  it('completes an RDMA WRITE with a wrong rkey with REM_ACCESS_ERR, then flushes what follows', async () => {
    const { client, server, c } = await pair();
    const remote = region(server, 4096, Access.LOCAL_WRITE | Access.REMOTE_READ); // no REMOTE_WRITE
    const local = region(client, 4096, Access.LOCAL_WRITE);
    client.postSend([
      {
        wrId: 1,
        opcode: 'RDMA_WRITE',
        sgl: [{ mr: local, offset: 0, length: 16 }],
        remoteAddr: remote.addr,
        rkey: remote.rkey,
      },
      {
        wrId: 2,
        opcode: 'RDMA_WRITE',
        sgl: [{ mr: local, offset: 0, length: 16 }],
        remoteAddr: remote.addr,
        rkey: remote.rkey,
      },
    ]);
    const [first, second] = await c.completions(2);
    expect(first).toMatchObject({ wrId: 1, status: 'REM_ACCESS_ERR' });
    expect(second).toMatchObject({ wrId: 2, status: 'WR_FLUSH_ERR', opcode: 'RDMA_WRITE' });
    expect(c.events).toContainEqual({ type: 'qp-error', status: 'REM_ACCESS_ERR' });
    expect(client.state).toBe('ERROR');
  });

  // rdma_cm semantics: the RNR retry count each side passes bounds the *peer's* sends (the REP carries the
  // accepting side's value to the connecting side's QP), so the server's accept sets the client's here.
  it('fails a SEND with RNR_RETRY_EXC_ERR when the peer has no receive posted (peer rnrRetryCount 0)', async () => {
    const { client, c } = await pair({ serverRnrRetryCount: 0 });
    const tx = region(client, 64, 0);
    client.postSend([{ wrId: 5, opcode: 'SEND', sgl: [{ mr: tx, offset: 0, length: 8 }] }]);
    const [wc] = await c.completions(1);
    expect(wc).toMatchObject({ wrId: 5, status: 'RNR_RETRY_EXC_ERR' });
  });

  it('flushes posted receives when the peer disconnects, then completes the streams', async () => {
    const { client, server, s } = await pair();
    const rx = region(server, 4096, Access.LOCAL_WRITE);
    server.postRecv([0, 1, 2, 3].map((i) => ({ wrId: 100 + i, sgl: [{ mr: rx, offset: i * 1024, length: 1024 }] })));
    await client.disconnect();
    await s.until(() => s.completed, 'server completions to complete');
    expect(s.events[0]).toEqual({ type: 'disconnected' });
    expect(s.wcs.map((w) => [w.wrId, w.status, w.opcode])).toEqual(
      [100, 101, 102, 103].map((id) => [id, 'WR_FLUSH_ERR', 'RECV']),
    );
    expect(server.state).toBe('ERROR');
    expect(rx.valid).toBe(false);
    expect(() => {
      server.postRecv([{ wrId: 1, sgl: [] }]);
    }).toThrow(expect.objectContaining({ code: 'ERR_VERBS_CLOSED' }));
  });

  it('carries a reject’s private data to the connecting side', async () => {
    const listener = await listen();
    listener.connectRequests.subscribe((req) => {
      void req.reject(Buffer.from('go away'));
    });
    const err = await verbs()
      .connect(listener.address, { qp: QP, retryCount: 2 })
      .catch((e: unknown) => e);
    expect(isIserError(err, 'ERR_VERBS_REJECTED')).toBe(true);
    expect((err as { privateData?: Buffer }).privateData?.subarray(0, 7).toString()).toBe('go away');
  });

  it('reports ERR_VERBS_UNREACHABLE when nobody listens on the port', async () => {
    const listener = await listen();
    const port = listener.address.port;
    await listener.close();
    const err = await verbs()
      .connect({ host, port }, { qp: QP, retryCount: 2, timeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(isIserError(err, 'ERR_VERBS_UNREACHABLE')).toBe(true);
  });

  it('lets the peer invalidate an invalidatable region with SEND_WITH_INV', async () => {
    const { client, server, c, s } = await pair();
    expect(verbs().caps.sendWithInvalidate).toBe(true);
    const target = server.pd.register(Buffer.alloc(4096), Access.LOCAL_WRITE | Access.REMOTE_WRITE, {
      invalidatable: true,
    });
    const rx = region(server, 64, Access.LOCAL_WRITE);
    server.postRecv([{ wrId: 1, sgl: [{ mr: rx, offset: 0, length: 64 }] }]);
    const local = region(client, 64, Access.LOCAL_WRITE, 0x5a);
    client.postSend([
      {
        wrId: 1,
        opcode: 'RDMA_WRITE',
        sgl: [{ mr: local, offset: 0, length: 64 }],
        remoteAddr: target.addr,
        rkey: target.rkey,
      },
      { wrId: 2, opcode: 'SEND_WITH_INV', invalidateRkey: target.rkey, sgl: [{ mr: local, offset: 0, length: 4 }] },
    ]);
    expect((await c.completions(2)).map((w) => w.status)).toEqual(['SUCCESS', 'SUCCESS']);
    expect(target.buffer[63]).toBe(0x5a);
    const [recv] = await s.completions(1);
    expect(recv).toMatchObject({ wrId: 1, status: 'SUCCESS', invalidatedRkey: target.rkey });
    expect(target.valid).toBe(false);
    client.postSend([
      {
        wrId: 3,
        opcode: 'RDMA_WRITE',
        sgl: [{ mr: local, offset: 0, length: 8 }],
        remoteAddr: target.addr,
        rkey: target.rkey,
      },
    ]);
    expect(await c.completions(1)).toMatchObject([{ wrId: 3, status: 'REM_ACCESS_ERR' }]);
  });

  it('refuses bad registrations and bad work requests with typed errors', async () => {
    const { client } = await pair();
    const pooled = Buffer.from('small'); // a slice of Node's shared pool
    expect(() => client.pd.register(pooled, Access.LOCAL_WRITE)).toThrow(
      expect.objectContaining({ code: 'ERR_VERBS_REGISTER' }),
    );
    expect(() => client.pd.register(Buffer.alloc(0), Access.LOCAL_WRITE)).toThrow(
      expect.objectContaining({ code: 'ERR_VERBS_REGISTER' }),
    );
    const mr = region(client, 64, Access.LOCAL_WRITE);
    expect(() => {
      client.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr, offset: 60, length: 8 }] }]);
    }).toThrow(expect.objectContaining({ code: 'ERR_VERBS_INVALID_WR' }));
    // The device may round the queue up (rxe does): post far more than any rounding.
    const recvs = Array.from({ length: 1024 }, (_, i) => ({
      wrId: i,
      sgl: [{ mr, offset: 0, length: 64 }],
    }));
    expect(() => {
      client.postRecv(recvs);
    }).toThrow(expect.objectContaining({ code: 'ERR_VERBS_QUEUE_FULL', errno: 'ENOMEM' }));
    mr.deregister();
    expect(mr.valid).toBe(false);
    expect(() => {
      client.postSend([{ wrId: 2, opcode: 'SEND', sgl: [{ mr, offset: 0, length: 8 }] }]);
    }).toThrow(expect.objectContaining({ code: 'ERR_VERBS_INVALID_WR' }));
  });

  it('delivers more completions than one loop turn takes (256), in order', async () => {
    const qp = { maxSendWr: 1024, maxRecvWr: 16, maxSendSge: 1, maxRecvSge: 1 };
    const { client, server, c } = await pair({ qp });
    const remote = region(server, 4096, Access.LOCAL_WRITE | Access.REMOTE_WRITE);
    const local = region(client, 4096, Access.LOCAL_WRITE, 0x11);
    const n = 700;
    client.postSend(
      Array.from({ length: n }, (_, i) => ({
        wrId: i,
        opcode: 'RDMA_WRITE' as const,
        sgl: [{ mr: local, offset: i % 4096, length: 1 }],
        remoteAddr: remote.addr + BigInt(i % 4096),
        rkey: remote.rkey,
      })),
    );
    const wcs = await c.completions(n, 30_000);
    expect(wcs.map((w) => w.wrId)).toEqual([...Array(n).keys()]);
    expect(wcs.every((w) => w.status === 'SUCCESS')).toBe(true);
    expect(remote.buffer.subarray(0, n).equals(Buffer.alloc(n, 0x11))).toBe(true);
  });

  it('fails a SEND longer than the posted receive at both ends', async () => {
    const { client, server, c, s } = await pair();
    const rx = region(server, 8, Access.LOCAL_WRITE);
    server.postRecv([{ wrId: 20, sgl: [{ mr: rx, offset: 0, length: 8 }] }]);
    const tx = region(client, 64, 0);
    client.postSend([{ wrId: 2, opcode: 'SEND', sgl: [{ mr: tx, offset: 0, length: 64 }] }]);
    const [[sent], [received]] = await Promise.all([c.completions(1), s.completions(1)]);
    // The IB spec says REM_INV_REQ_ERR / LOC_LEN_ERR; rxe (6.1) reports REM_OP_ERR / LOC_QP_OP_ERR.
    expect(['REM_INV_REQ_ERR', 'REM_OP_ERR']).toContain(sent?.status);
    expect(received?.wrId).toBe(20);
    expect(['LOC_LEN_ERR', 'LOC_QP_OP_ERR']).toContain(received?.status);
  });

  it('accepts ready to receive before the peer can send, and holds its own sends until the RTU', async () => {
    const listener = await listen();
    const serverSide = new Promise<{ server: RdmaConnection; rx: MemoryRegion }>((resolve, reject) => {
      listener.connectRequests.subscribe((req) => {
        // rnrRetryCount 0 for the client's sends: one RNR NAK would fail them, so the receive must be there.
        req.accept({ qp: QP, rnrRetryCount: 0 }).then((server) => {
          const rx = server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
          server.postRecv([{ wrId: 1, sgl: [{ mr: rx, offset: 0, length: 64 }] }]);
          const tx = server.pd.register(Buffer.alloc(17), 0);
          tx.buffer.write('from the acceptor');
          server.postSend([{ wrId: 2, opcode: 'SEND', sgl: [{ mr: tx, offset: 0, length: 17 }] }]); // held
          resolve({ server, rx });
        }, reject);
      });
    });
    const client = await verbs().connect(listener.address, { qp: QP, retryCount: 2 });
    const c = new Recorder(client);
    const crx = region(client, 64, Access.LOCAL_WRITE);
    client.postRecv([{ wrId: 9, sgl: [{ mr: crx, offset: 0, length: 64 }] }]);
    const ctx = region(client, 64, 0);
    ctx.buffer.write('first words');
    client.postSend([{ wrId: 3, opcode: 'SEND', sgl: [{ mr: ctx, offset: 0, length: 11 }] }]);
    const { server, rx } = await serverSide;
    cleanups.push(
      () => client.disconnect(),
      () => server.disconnect(),
    );
    const s = new Recorder(server);
    await c.until(() => c.wcs.length >= 2, 'the client send and receive');
    expect(c.wcs.map((w) => [w.wrId, w.status]).sort()).toEqual([
      [3, 'SUCCESS'],
      [9, 'SUCCESS'],
    ]);
    expect(crx.buffer.subarray(0, 17).toString()).toBe('from the acceptor');
    await s.until(() => s.wcs.length >= 2, 'the server send and receive');
    expect(s.wcs.every((w) => w.status === 'SUCCESS')).toBe(true);
    expect(rx.buffer.subarray(0, 11).toString()).toBe('first words');
  });

  it('refuses arguments IB CM cannot carry with ERR_VERBS_INVALID_ARGUMENT', async () => {
    const listener = await listen();
    const requests: Promise<void>[] = [];
    listener.connectRequests.subscribe((req) => {
      requests.push(
        req.reject(Buffer.alloc(149)).catch((e: unknown) => {
          expect(isIserError(e, 'ERR_VERBS_INVALID_ARGUMENT')).toBe(true);
          return req.reject(Buffer.from('ok'));
        }),
      );
    });
    const tooMuch = await verbs()
      .connect(listener.address, { qp: QP, privateData: Buffer.alloc(57) })
      .catch((e: unknown) => e);
    expect(isIserError(tooMuch, 'ERR_VERBS_INVALID_ARGUMENT')).toBe(true);
    const badRetry = await verbs()
      .connect(listener.address, { qp: QP, retryCount: 8 })
      .catch((e: unknown) => e);
    expect(isIserError(badRetry, 'ERR_VERBS_INVALID_ARGUMENT')).toBe(true);
    const badQueue = await verbs()
      .connect(listener.address, { qp: { ...QP, maxSendWr: 0 } })
      .catch((e: unknown) => e);
    expect(isIserError(badQueue, 'ERR_VERBS_INVALID_ARGUMENT')).toBe(true);
    const rejected = await verbs()
      .connect(listener.address, { qp: QP, privateData: Buffer.alloc(56, 1) })
      .catch((e: unknown) => e);
    expect(isIserError(rejected, 'ERR_VERBS_REJECTED')).toBe(true);
    await Promise.all(requests);
    expect(requests).toHaveLength(1);
  });
});
