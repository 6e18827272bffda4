/**
 * Test helper: connects a pair of soft-RoCE devices and runs a small session (SEND, WRITE, READ, disconnect),
 * the same way every time, so captures and logs can be compared and dissected.
 */
import { Access } from '../../../../transports/verbs.js';
import type { ConnectRequest, QpCapabilities, RdmaConnection, WorkCompletion } from '../../../../transports/verbs.js';
import { Collector, type VerbsContractEnv } from '../../../support/verbs-contract.js';
import { encodeIserCmHeader } from '../../../../sim/roce/iser-cm-header.js';

/** The part of a contract environment the helpers use. */
export type VerbsContractEnvLike = Pick<VerbsContractEnv, 'a' | 'b' | 'addressOfB' | 'run'>;

/** Queue sizes used by the helpers. */
export const QP: QpCapabilities = { maxSendWr: 64, maxRecvWr: 64, maxSendSge: 4, maxRecvSge: 4 };

/** The iSER CM header an initiator sends (ZBVA and send-with-invalidate not supported). */
export const ISER_HDR = encodeIserCmHeader({ zbvaNotSupported: true, sendWithInvalidateNotSupported: true });

/** Deterministic bytes. */
export function pattern(size: number, salt: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 29 + salt * 17 + (i >> 9)) & 0xff;
  return b;
}

/** A connected pair. */
export interface Connected {
  readonly client: RdmaConnection;
  readonly server: RdmaConnection;
  readonly request: ConnectRequest;
  readonly port: number;
}

/** Listens on b (port 3260 unless given), connects a to it with iSER private data both ways. */
export async function connect(env: VerbsContractEnvLike, port = 3260): Promise<Connected> {
  const listener = await env.run(env.b.listen({ host: env.addressOfB, port }));
  let request: ConnectRequest | undefined;
  const accepted = new Promise<RdmaConnection>((resolve, reject) => {
    listener.connectRequests.subscribe((req) => {
      request = req;
      req.accept({ qp: QP, privateData: ISER_HDR }).then(resolve, reject);
    });
  });
  const [client, server] = await env.run(
    Promise.all([
      env.a.connect({ host: env.addressOfB, port: listener.address.port }, { qp: QP, privateData: ISER_HDR }),
      accepted,
    ]),
  );
  if (request === undefined) throw new Error('no connect request');
  return { client, server, request, port: listener.address.port };
}

/** What {@link runSession} moved, to check. */
export interface SessionResult {
  readonly sent: Buffer;
  readonly received: Buffer;
  readonly written: Buffer;
  readonly remote: Buffer;
  readonly readBack: Buffer;
  readonly expectedRead: Buffer;
}

/** SEND (300 B), RDMA WRITE (2500 B), RDMA READ (3000 B), then the client disconnects. */
export async function runSession(env: VerbsContractEnvLike, pair: Connected): Promise<SessionResult> {
  const { client, server } = pair;
  const clientWc = new Collector<WorkCompletion>(client.completions);
  const serverWc = new Collector<WorkCompletion>(server.completions);
  const rbuf = server.pd.register(Buffer.alloc(512), Access.LOCAL_WRITE);
  server.postRecv([{ wrId: 100, sgl: [{ mr: rbuf, offset: 0, length: 512 }] }]);
  const remote = server.pd.register(pattern(8192, 2), Access.LOCAL_WRITE | Access.REMOTE_WRITE | Access.REMOTE_READ);
  const sbuf = client.pd.register(pattern(300, 1), 0);
  const wbuf = client.pd.register(pattern(2500, 3), 0);
  const sink = client.pd.register(Buffer.alloc(3000), Access.LOCAL_WRITE);
  client.postSend([{ wrId: 1, opcode: 'SEND', sgl: [{ mr: sbuf, offset: 0, length: 300 }] }]);
  await env.run(Promise.all([clientWc.take(1), serverWc.take(1)]));
  client.postSend([
    {
      wrId: 2,
      opcode: 'RDMA_WRITE',
      remoteAddr: remote.addr,
      rkey: remote.rkey,
      sgl: [{ mr: wbuf, offset: 0, length: 2500 }],
    },
    {
      wrId: 3,
      opcode: 'RDMA_READ',
      remoteAddr: remote.addr + 4096n,
      rkey: remote.rkey,
      sgl: [{ mr: sink, offset: 0, length: 3000 }],
    },
  ]);
  const done = await env.run(clientWc.take(3));
  for (const wc of done) if (wc.status !== 'SUCCESS') throw new Error(`work request ${wc.wrId} failed: ${wc.status}`);
  await env.run(client.disconnect());
  await env.run(serverWc.end());
  return {
    sent: sbuf.buffer,
    received: rbuf.buffer.subarray(0, 300),
    written: wbuf.buffer,
    remote: remote.buffer,
    readBack: sink.buffer,
    expectedRead: pattern(8192, 2).subarray(4096, 7096),
  };
}
