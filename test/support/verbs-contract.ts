/**
 * The Verbs contract: what every provider of transports/verbs.ts must do, as vitest blocks that any provider's
 * test file declares with {@link verbsContract}. The same suite runs on the in-memory fabric (virtual time), the
 * soft-RoCE engine and the native addon (real time), so it never assumes how time passes: it asks the
 * environment to drive time until a promise settles ({@link VerbsContractEnv.run}).
 *
 * Each test gets a fresh environment: two providers `a` (the connecting side) and `b` (the listening side).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Access, VerbsError } from '../../transports/verbs.js';
import type {
  AcceptOptions,
  ConnectOptions,
  ConnectRequest,
  ConnectionEvent,
  MemoryRegion,
  QpCapabilities,
  RdmaConnection,
  RdmaListener,
  SendWorkRequest,
  VerbsErrorCode,
  VerbsProvider,
  WcStatus,
  WorkCompletion,
} from '../../transports/verbs.js';

/** True when `data` begins with `prefix` (private data may come back zero-padded). */
function startsWith(data: Buffer, prefix: Buffer): boolean {
  return data.length >= prefix.length && data.subarray(0, prefix.length).equals(prefix);
}

/** Fault injection an environment may offer (see {@link VerbsContractOptions.faults}). */
export interface ContractFaults {
  /** From now on, requests and CM messages arriving at `host` are dropped (the peer hangs). */
  stopAnswering(host: string): void;
  /** Pulls the cable under every connection of the environment, now. */
  pullCable(): void;
}

/** Two providers and a way to drive their time. */
export interface VerbsContractEnv {
  /** The connecting side. */
  readonly a: VerbsProvider;
  /** The listening side. */
  readonly b: VerbsProvider;
  /** The host `b` listens on and `a` connects to. */
  readonly addressOfB: string;
  /** Drives time until `work` settles and returns its outcome (virtual time: run the clock; real time: wait, bounded). */
  run<T>(work: Promise<T>): Promise<T>;
  /** Lets everything in flight finish (virtual time: until idle; real time: a short bounded wait). */
  settle(): Promise<void>;
  /** Present when the provider can inject faults. */
  readonly faults?: ContractFaults;
  /** Releases the environment. */
  dispose(): Promise<void>;
}

/** What the suite may exercise. */
export interface VerbsContractOptions {
  /** Run the fault tests (a hung peer, a pulled cable): needs `env.faults`. */
  readonly faults?: boolean;
}

const QP: QpCapabilities = { maxSendWr: 64, maxRecvWr: 64, maxSendSge: 4, maxRecvSge: 4 };
const RW = Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ;

/** Deterministic, position- and salt-dependent bytes (so a misplaced or stale byte shows). */
function pattern(size: number, salt: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 7 + salt * 13 + (i >>> 8) * 3 + 1) & 0xff;
  return buffer;
}

/** Collects a stream's values and lets a test wait for some count of them, or for its end. */
export class Collector<T> {
  readonly values: T[] = [];
  ended = false;
  readonly #waiters: (() => void)[] = [];

  constructor(source: { subscribe(observer: { next(v: T): void; complete(): void }): unknown }) {
    source.subscribe({
      next: (value) => {
        this.values.push(value);
        this.#wake();
      },
      complete: () => {
        this.ended = true;
        this.#wake();
      },
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  #until(ready: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (ready()) resolve();
        else this.#waiters.push(check);
      };
      check();
    });
  }

  /** Resolves with the first `n` values once there are that many. */
  async take(n: number): Promise<T[]> {
    await this.#until(() => this.values.length >= n);
    return this.values.slice(0, n);
  }

  /** Resolves once the stream has completed. */
  async end(): Promise<T[]> {
    await this.#until(() => this.ended);
    return this.values;
  }
}

/** A connected pair with its logs. */
interface Pair {
  readonly client: RdmaConnection;
  readonly server: RdmaConnection;
  readonly request: ConnectRequest;
  readonly listener: RdmaListener;
  readonly clientWc: Collector<WorkCompletion>;
  readonly serverWc: Collector<WorkCompletion>;
  readonly clientEvents: Collector<ConnectionEvent>;
  readonly serverEvents: Collector<ConnectionEvent>;
}

function statuses(wcs: readonly WorkCompletion[]): [number, WcStatus][] {
  return wcs.map((wc) => [wc.wrId, wc.status]);
}

/** Expects `work` to reject with a VerbsError of `code`; returns it. */
async function expectVerbsError(work: Promise<unknown>, code: VerbsErrorCode): Promise<VerbsError> {
  const error: unknown = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerbsError);
  expect((error as VerbsError).code).toBe(code);
  return error as VerbsError;
}

function expectThrowsVerbs(action: () => void, code: VerbsErrorCode): void {
  let thrown: unknown;
  try {
    action();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(VerbsError);
  expect((thrown as VerbsError).code).toBe(code);
}

/** Declares the Verbs contract tests for one provider. */
export function verbsContract(
  name: string,
  makeEnv: () => Promise<VerbsContractEnv>,
  opts: VerbsContractOptions = {},
): void {
  describe(`Verbs contract: ${name}`, () => {
    let env: VerbsContractEnv;
    let connections: RdmaConnection[] = [];
    let listeners: RdmaListener[] = [];

    beforeEach(async () => {
      env = await makeEnv();
      connections = [];
      listeners = [];
    });

    afterEach(async () => {
      await env.run(Promise.all(connections.map((c) => c.disconnect())));
      await env.run(Promise.all(listeners.map((l) => l.close())));
      await env.dispose();
    });

    async function listen(): Promise<RdmaListener> {
      const listener = await env.run(env.b.listen({ host: env.addressOfB, port: 0 }));
      listeners.push(listener);
      return listener;
    }

    /** Connects a to b; `answer` decides what the listener does with the request (default: accept). */
    async function connectPair(
      options: { connect?: Partial<ConnectOptions>; accept?: Partial<AcceptOptions> } = {},
    ): Promise<Pair> {
      const listener = await listen();
      let request: ConnectRequest | undefined;
      const accepted = new Promise<RdmaConnection>((resolve, reject) => {
        listener.connectRequests.subscribe((req) => {
          request = req;
          req.accept({ qp: QP, ...options.accept }).then(resolve, reject);
        });
      });
      const connecting = env.a.connect(
        { host: env.addressOfB, port: listener.address.port },
        { qp: QP, ...options.connect },
      );
      const [client, server] = await env.run(Promise.all([connecting, accepted]));
      connections.push(client, server);
      if (request === undefined) throw new Error('accepted without a request');
      return {
        client,
        server,
        request,
        listener,
        clientWc: new Collector(client.completions),
        serverWc: new Collector(server.completions),
        clientEvents: new Collector(client.events),
        serverEvents: new Collector(server.events),
      };
    }

    describe('connection management', () => {
      it('connects, carrying private data both ways', async () => {
        const reqData = Buffer.from('iser-req:0123456789');
        const repData = Buffer.from('iser-rep:abcdef');
        const pair = await connectPair({ connect: { privateData: reqData }, accept: { privateData: repData } });
        // IB CM zero-pads private data to the message's size, so only a prefix is guaranteed.
        expect(startsWith(pair.request.privateData, reqData)).toBe(true);
        expect(startsWith(pair.client.peerPrivateData, repData)).toBe(true);
        expect(startsWith(pair.server.peerPrivateData, reqData)).toBe(true);
        expect(pair.client.remote).toEqual({ host: env.addressOfB, port: pair.listener.address.port });
        expect(pair.server.local.port).toBe(pair.listener.address.port);
        await env.settle();
        expect(pair.client.state).toBe('RTS');
        expect(pair.server.state).toBe('RTS');
      });

      it('a reject reaches the connecting side with its private data', async () => {
        const listener = await listen();
        const reason = Buffer.from([0xde, 0xad, 0x01]);
        listener.connectRequests.subscribe((req) => {
          void req.reject(reason);
        });
        const error = await expectVerbsError(
          env.run(env.a.connect({ host: env.addressOfB, port: listener.address.port }, { qp: QP })),
          'ERR_VERBS_REJECTED',
        );
        expect(error.privateData !== undefined && startsWith(error.privateData, reason)).toBe(true);
      });

      it('connecting where nobody listens fails ERR_VERBS_UNREACHABLE', async () => {
        const listener = await listen();
        const port = listener.address.port;
        await env.run(listener.close());
        await expectVerbsError(
          env.run(env.a.connect({ host: env.addressOfB, port }, { qp: QP })),
          'ERR_VERBS_UNREACHABLE',
        );
      });

      it('a second listener on a bound port fails ERR_VERBS_ADDRESS_IN_USE', async () => {
        const listener = await listen();
        await expectVerbsError(
          env.run(env.b.listen({ host: env.addressOfB, port: listener.address.port })),
          'ERR_VERBS_ADDRESS_IN_USE',
        );
      });
    });

    describe('SEND / RECV', () => {
      it('delivers SENDs into posted receives in order, across several SGEs', async () => {
        const { client, server, clientWc, serverWc } = await connectPair();
        // Receives: three SGEs each, in two regions, at odd offsets.
        const r1 = server.pd.register(Buffer.alloc(4096), Access.LOCAL_WRITE);
        const r2 = server.pd.register(Buffer.alloc(4096), Access.LOCAL_WRITE);
        const recvSgl = (i: number) => [
          { mr: r1, offset: i * 1000 + 3, length: 5 },
          { mr: r2, offset: i * 1000 + 1, length: 300 },
          { mr: r1, offset: i * 1000 + 100, length: 600 },
        ];
        server.postRecv([0, 1, 2].map((i) => ({ wrId: 100 + i, sgl: recvSgl(i) })));
        // Sends: different sizes, gathered from two regions.
        const s1 = client.pd.register(pattern(8192, 1), Access.LOCAL_WRITE);
        const s2 = client.pd.register(pattern(8192, 2), 0);
        const sendSgls = [
          [
            { mr: s1, offset: 0, length: 1 },
            { mr: s2, offset: 17, length: 400 },
          ],
          [
            { mr: s2, offset: 1000, length: 2 },
            { mr: s1, offset: 2000, length: 3 },
            { mr: s2, offset: 3000, length: 4 },
          ],
          [{ mr: s1, offset: 5000, length: 905 }],
        ];
        client.postSend(sendSgls.map((sgl, i) => ({ wrId: i + 1, opcode: 'SEND', sgl })));
        const [sent, received] = await env.run(Promise.all([clientWc.take(3), serverWc.take(3)]));
        expect(statuses(sent)).toEqual([
          [1, 'SUCCESS'],
          [2, 'SUCCESS'],
          [3, 'SUCCESS'],
        ]);
        expect(sent.map((wc) => wc.opcode)).toEqual(['SEND', 'SEND', 'SEND']);
        expect(statuses(received)).toEqual([
          [100, 'SUCCESS'],
          [101, 'SUCCESS'],
          [102, 'SUCCESS'],
        ]);
        sendSgls.forEach((sgl, i) => {
          const expected = Buffer.concat(sgl.map((s) => s.mr.buffer.subarray(s.offset, s.offset + s.length)));
          const wc = received[i]!;
          expect(wc.opcode).toBe('RECV');
          expect(wc.byteLen).toBe(expected.length);
          const landed = Buffer.concat(recvSgl(i).map((s) => s.mr.buffer.subarray(s.offset, s.offset + s.length)));
          expect(landed.subarray(0, expected.length).equals(expected)).toBe(true);
          expect(landed.subarray(expected.length).equals(Buffer.alloc(landed.length - expected.length))).toBe(true);
        });
      });

      it('unsignaled sends complete silently', async () => {
        const { client, server, clientWc, serverWc } = await connectPair();
        const rbuf = server.pd.register(Buffer.alloc(256), Access.LOCAL_WRITE);
        server.postRecv([0, 1, 2].map((i) => ({ wrId: 10 + i, sgl: [{ mr: rbuf, offset: i * 64, length: 64 }] })));
        const sbuf = client.pd.register(pattern(64, 3), 0);
        const sgl = [{ mr: sbuf, offset: 0, length: 64 }];
        client.postSend([
          { wrId: 1, opcode: 'SEND', sgl, signaled: false },
          { wrId: 2, opcode: 'SEND', sgl, signaled: false },
          { wrId: 3, opcode: 'SEND', sgl },
        ]);
        const received = await env.run(serverWc.take(3));
        expect(statuses(received)).toEqual([
          [10, 'SUCCESS'],
          [11, 'SUCCESS'],
          [12, 'SUCCESS'],
        ]);
        await env.run(clientWc.take(1));
        await env.settle();
        expect(statuses(clientWc.values)).toEqual([[3, 'SUCCESS']]);
      });

      it('a SEND with no posted receive fails RNR_RETRY_EXC_ERR after the RNR retries', async () => {
        const { client, clientWc, clientEvents } = await connectPair({
          connect: { rnrRetryCount: 1 },
          accept: { rnrRetryCount: 1 },
        });
        const sbuf = client.pd.register(pattern(32, 4), 0);
        client.postSend([{ wrId: 7, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 32 }] }]);
        const [wc] = await env.run(clientWc.take(1));
        expect(wc?.wrId).toBe(7);
        expect(wc?.status).toBe('RNR_RETRY_EXC_ERR');
        expect(client.state).toBe('ERROR');
        expect(clientEvents.values).toContainEqual({ type: 'qp-error', status: 'RNR_RETRY_EXC_ERR' });
      });

      it('a receive too small fails both sides (LOC_LEN_ERR at the receiver)', async () => {
        const { client, server, clientWc, serverWc } = await connectPair();
        const rbuf = server.pd.register(Buffer.alloc(8), Access.LOCAL_WRITE);
        server.postRecv([{ wrId: 20, sgl: [{ mr: rbuf, offset: 0, length: 8 }] }]);
        const sbuf = client.pd.register(pattern(64, 5), 0);
        client.postSend([{ wrId: 2, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 64 }] }]);
        const [[sent], [received]] = await env.run(Promise.all([clientWc.take(1), serverWc.take(1)]));
        // The sender learns it from the responder's NAK: invalid request per the IB spec (sim), remote operational
        // error on rxe (Linux 6.1). The receiver: LOC_LEN_ERR per spec and hardware, LOC_QP_OP_ERR on rxe.
        expect(['REM_INV_REQ_ERR', 'REM_OP_ERR']).toContain(sent?.status);
        expect(received?.wrId).toBe(20);
        expect(['LOC_LEN_ERR', 'LOC_QP_OP_ERR']).toContain(received?.status);
        await env.settle();
        expect(client.state).toBe('ERROR');
        expect(server.state).toBe('ERROR');
      });

      it('SEND_WITH_INV invalidates the named rkey and the RECV completion reports it', async (ctx) => {
        if (!env.a.caps.sendWithInvalidate || !env.b.caps.sendWithInvalidate) {
          ctx.skip(`${name} does not do SEND_WITH_INV`);
        }
        const { client, server, clientWc, serverWc } = await connectPair();
        const target = server.pd.register(Buffer.alloc(4096), RW, { invalidatable: true });
        const rbuf = server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
        server.postRecv([{ wrId: 30, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]);
        const sbuf = client.pd.register(pattern(48, 6), 0);
        client.postSend([
          {
            wrId: 3,
            opcode: 'SEND_WITH_INV',
            invalidateRkey: target.rkey,
            sgl: [{ mr: sbuf, offset: 0, length: 48 }],
          },
        ]);
        const [[sent], [received]] = await env.run(Promise.all([clientWc.take(1), serverWc.take(1)]));
        expect(sent?.status).toBe('SUCCESS');
        expect(received).toMatchObject({ wrId: 30, status: 'SUCCESS', opcode: 'RECV', byteLen: 48 });
        expect(received?.invalidatedRkey).toBe(target.rkey);
        expect(rbuf.buffer.subarray(0, 48).equals(sbuf.buffer)).toBe(true);
        expect(target.valid).toBe(false);
      });
    });

    describe('RDMA WRITE / READ', () => {
      it.each([1, 4096, 1 << 20])('moves exactly %i bytes each way', async (size) => {
        const { client, server, clientWc } = await connectPair();
        const offset = 7;
        const remote = server.pd.register(Buffer.alloc(size + 2 * offset), RW);
        const source = client.pd.register(pattern(size, 7), 0);
        client.postSend([
          {
            wrId: 1,
            opcode: 'RDMA_WRITE',
            remoteAddr: remote.addr + BigInt(offset),
            rkey: remote.rkey,
            sgl: [{ mr: source, offset: 0, length: size }],
          },
        ]);
        const [written] = await env.run(clientWc.take(1));
        expect(written).toMatchObject({ wrId: 1, status: 'SUCCESS', opcode: 'RDMA_WRITE' });
        expect(remote.buffer.subarray(offset, offset + size).equals(source.buffer)).toBe(true);
        expect(remote.buffer.subarray(0, offset).equals(Buffer.alloc(offset))).toBe(true);
        expect(remote.buffer.subarray(offset + size).equals(Buffer.alloc(offset))).toBe(true);

        // The server changes its bytes; the client reads them back into a fresh region.
        pattern(size, 8).copy(remote.buffer, offset);
        const sink = client.pd.register(Buffer.alloc(size + 2), Access.LOCAL_WRITE);
        client.postSend([
          {
            wrId: 2,
            opcode: 'RDMA_READ',
            remoteAddr: remote.addr + BigInt(offset),
            rkey: remote.rkey,
            sgl: [{ mr: sink, offset: 1, length: size }],
          },
        ]);
        const [, read] = await env.run(clientWc.take(2));
        expect(read).toMatchObject({ wrId: 2, status: 'SUCCESS', opcode: 'RDMA_READ' });
        expect(sink.buffer.subarray(1, 1 + size).equals(pattern(size, 8))).toBe(true);
        expect(sink.buffer[0]).toBe(0);
        expect(sink.buffer[size + 1]).toBe(0);
      });

      it('several READs and WRITEs in flight complete in order', async () => {
        const { client, server, clientWc } = await connectPair({ connect: { initiatorDepth: 2 } });
        const remote = server.pd.register(pattern(64 * 1024, 9), RW);
        const local = client.pd.register(Buffer.alloc(64 * 1024), Access.LOCAL_WRITE);
        const wrs: SendWorkRequest[] = [];
        for (let i = 0; i < 16; i++) {
          const chunk = { mr: local, offset: i * 4096, length: 4096 };
          const remoteAddr = remote.addr + BigInt(i * 4096);
          wrs.push({ wrId: i, opcode: 'RDMA_READ', remoteAddr, rkey: remote.rkey, sgl: [chunk] });
        }
        client.postSend(wrs);
        const done = await env.run(clientWc.take(16));
        expect(done.map((wc) => wc.wrId)).toEqual([...Array(16).keys()]);
        expect(done.every((wc) => wc.status === 'SUCCESS')).toBe(true);
        expect(local.buffer.equals(remote.buffer)).toBe(true);
      });

      type Violation = (server: RdmaConnection) => {
        mr: MemoryRegion;
        opcode: 'RDMA_WRITE' | 'RDMA_READ';
        addr?: bigint;
        rkey?: number;
        length?: number;
      };
      const violations: [string, Violation][] = [
        ['an unknown rkey', (s) => ({ mr: s.pd.register(Buffer.alloc(64), RW), opcode: 'RDMA_WRITE', rkey: -1 })],
        [
          'an address beyond the region',
          (s) => {
            const mr = s.pd.register(Buffer.alloc(64), RW);
            return { mr, opcode: 'RDMA_WRITE', addr: mr.addr + 62n, length: 4 };
          },
        ],
        [
          'an address before the region',
          (s) => {
            const mr = s.pd.register(Buffer.alloc(64), RW);
            return { mr, opcode: 'RDMA_READ', addr: mr.addr - 1n, length: 4 };
          },
        ],
        [
          'a WRITE without REMOTE_WRITE',
          (s) => ({
            mr: s.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE | Access.REMOTE_READ),
            opcode: 'RDMA_WRITE',
          }),
        ],
        [
          'a READ without REMOTE_READ',
          (s) => ({
            mr: s.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE | Access.REMOTE_WRITE),
            opcode: 'RDMA_READ',
          }),
        ],
        [
          'a deregistered region',
          (s) => {
            const mr = s.pd.register(Buffer.alloc(64), RW);
            mr.deregister();
            expect(mr.valid).toBe(false);
            return { mr, opcode: 'RDMA_WRITE' };
          },
        ],
      ];

      it.each(violations)('%s: REM_ACCESS_ERR, then every later work request flushes', async (_label, make) => {
        const { client, server, clientWc, serverWc, clientEvents } = await connectPair();
        const rbuf = server.pd.register(Buffer.alloc(128), Access.LOCAL_WRITE);
        server.postRecv([
          { wrId: 50, sgl: [{ mr: rbuf, offset: 0, length: 64 }] },
          { wrId: 51, sgl: [{ mr: rbuf, offset: 64, length: 64 }] },
        ]);
        const v = make(server);
        const length = v.length ?? 16;
        const local = client.pd.register(pattern(64, 10), Access.LOCAL_WRITE);
        const rkey = v.rkey === -1 ? (v.mr.rkey ^ 0x80000000) >>> 0 : v.mr.rkey;
        client.postSend([
          { wrId: 1, opcode: v.opcode, remoteAddr: v.addr ?? v.mr.addr, rkey, sgl: [{ mr: local, offset: 0, length }] },
          { wrId: 2, opcode: 'SEND', sgl: [{ mr: local, offset: 0, length: 8 }] },
        ]);
        const first = await env.run(clientWc.take(2));
        expect(statuses(first)).toEqual([
          [1, 'REM_ACCESS_ERR'],
          [2, 'WR_FLUSH_ERR'],
        ]);
        expect(client.state).toBe('ERROR');
        expect(clientEvents.values).toContainEqual({ type: 'qp-error', status: 'REM_ACCESS_ERR' });
        client.postSend([{ wrId: 3, opcode: 'SEND', sgl: [{ mr: local, offset: 0, length: 8 }] }]);
        const later = await env.run(clientWc.take(3));
        expect(statuses(later.slice(2))).toEqual([[3, 'WR_FLUSH_ERR']]);
        // The responder's QP went to ERROR too: its receives flush.
        const flushed = await env.run(serverWc.take(2));
        expect(statuses(flushed)).toEqual([
          [50, 'WR_FLUSH_ERR'],
          [51, 'WR_FLUSH_ERR'],
        ]);
      });

      it('an invalidated region: REM_ACCESS_ERR', async (ctx) => {
        if (!env.a.caps.sendWithInvalidate || !env.b.caps.sendWithInvalidate) {
          ctx.skip(`${name} does not do SEND_WITH_INV`);
        }
        const { client, server, clientWc } = await connectPair();
        const target = server.pd.register(Buffer.alloc(64), RW, { invalidatable: true });
        const rbuf = server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
        server.postRecv([{ wrId: 60, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]);
        const local = client.pd.register(pattern(64, 11), 0);
        client.postSend([
          { wrId: 1, opcode: 'SEND_WITH_INV', invalidateRkey: target.rkey, sgl: [{ mr: local, offset: 0, length: 8 }] },
          {
            wrId: 2,
            opcode: 'RDMA_WRITE',
            remoteAddr: target.addr,
            rkey: target.rkey,
            sgl: [{ mr: local, offset: 0, length: 8 }],
          },
        ]);
        const done = await env.run(clientWc.take(2));
        expect(statuses(done)).toEqual([
          [1, 'SUCCESS'],
          [2, 'REM_ACCESS_ERR'],
        ]);
        expect(target.buffer.equals(Buffer.alloc(64))).toBe(true);
      });
    });

    describe('posting', () => {
      it('rejects malformed work requests at once with ERR_VERBS_INVALID_WR', async () => {
        const { client } = await connectPair();
        const mr = client.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
        const sge = { mr, offset: 0, length: 8 };
        expectThrowsVerbs(() => {
          client.postSend([{ wrId: 1, opcode: 'SEND', sgl: Array<typeof sge>(QP.maxSendSge + 1).fill(sge) }]);
        }, 'ERR_VERBS_INVALID_WR');
        expectThrowsVerbs(() => {
          client.postRecv([{ wrId: 1, sgl: [{ mr, offset: 60, length: 8 }] }]);
        }, 'ERR_VERBS_INVALID_WR');
        const gone = client.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
        gone.deregister();
        expectThrowsVerbs(() => {
          client.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: gone, offset: 0, length: 8 }] }]);
        }, 'ERR_VERBS_INVALID_WR');
      });
    });

    describe('disconnect', () => {
      it('flushes every outstanding receive on both sides and completes the streams', async () => {
        const { client, server, clientWc, serverWc, serverEvents, clientEvents } = await connectPair();
        const sbuf = server.pd.register(Buffer.alloc(256), Access.LOCAL_WRITE);
        server.postRecv([0, 1, 2, 3].map((i) => ({ wrId: 70 + i, sgl: [{ mr: sbuf, offset: i * 64, length: 64 }] })));
        const cbuf = client.pd.register(Buffer.alloc(128), Access.LOCAL_WRITE);
        client.postRecv([0, 1].map((i) => ({ wrId: 80 + i, sgl: [{ mr: cbuf, offset: i * 64, length: 64 }] })));
        await env.run(client.disconnect());
        const [clientAll, serverAll] = await env.run(Promise.all([clientWc.end(), serverWc.end()]));
        expect(statuses(clientAll)).toEqual([
          [80, 'WR_FLUSH_ERR'],
          [81, 'WR_FLUSH_ERR'],
        ]);
        expect(statuses(serverAll)).toEqual([
          [70, 'WR_FLUSH_ERR'],
          [71, 'WR_FLUSH_ERR'],
          [72, 'WR_FLUSH_ERR'],
          [73, 'WR_FLUSH_ERR'],
        ]);
        expect(serverAll.every((wc) => wc.opcode === 'RECV')).toBe(true);
        await env.run(serverEvents.end());
        expect(serverEvents.values).toContainEqual({ type: 'disconnected' });
        await env.run(clientEvents.end());
        expect(client.state).toBe('ERROR');
        expect(server.state).toBe('ERROR');
        expectThrowsVerbs(() => {
          client.postRecv([{ wrId: 1, sgl: [{ mr: cbuf, offset: 0, length: 8 }] }]);
        }, 'ERR_VERBS_CLOSED');
      });
    });

    describe.skipIf(opts.faults !== true)('faults', () => {
      function faults(): ContractFaults {
        if (env.faults === undefined) throw new Error(`${name}: opts.faults is set but the env has no faults`);
        return env.faults;
      }

      it('a peer that stops answering: RETRY_EXC_ERR after the retries', async () => {
        const { client, server, clientWc } = await connectPair({ connect: { retryCount: 1 } });
        const rbuf = server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
        server.postRecv([{ wrId: 90, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]);
        faults().stopAnswering(env.addressOfB);
        const sbuf = client.pd.register(pattern(16, 12), 0);
        client.postSend([
          { wrId: 1, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 16 }] },
          { wrId: 2, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 16 }] },
        ]);
        const done = await env.run(clientWc.take(2));
        expect(statuses(done)).toEqual([
          [1, 'RETRY_EXC_ERR'],
          [2, 'WR_FLUSH_ERR'],
        ]);
        expect(rbuf.buffer.equals(Buffer.alloc(64))).toBe(true);
      });

      it('a pulled cable: both sides flush and see disconnected', async () => {
        const { client, server, clientWc, serverWc, clientEvents, serverEvents } = await connectPair();
        const rbuf = server.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
        server.postRecv([{ wrId: 91, sgl: [{ mr: rbuf, offset: 0, length: 64 }] }]);
        const cbuf = client.pd.register(Buffer.alloc(64), Access.LOCAL_WRITE);
        client.postRecv([{ wrId: 92, sgl: [{ mr: cbuf, offset: 0, length: 64 }] }]);
        faults().pullCable();
        const [c, s] = await env.run(Promise.all([clientWc.end(), serverWc.end()]));
        expect(statuses(c)).toEqual([[92, 'WR_FLUSH_ERR']]);
        expect(statuses(s)).toEqual([[91, 'WR_FLUSH_ERR']]);
        await env.run(Promise.all([clientEvents.end(), serverEvents.end()]));
        expect(clientEvents.values).toContainEqual({ type: 'disconnected' });
        expect(serverEvents.values).toContainEqual({ type: 'disconnected' });
      });
    });
  });
}
