/**
 * Soft-RoCE throughput over real UDP on loopback (127.0.0.1 ↔ 127.0.0.2, real time), side by side with raw
 * node:dgram between the same addresses carrying the same payload per datagram. Run: `npx tsx bench/softroce.ts`.
 *
 * Raw UDP gets the flow control RoCE has (at most 128 datagrams in flight, like rxe's 128-PSN window) so it
 * measures what the machine's UDP path delivers, not how many datagrams the kernel drops. Soft-RoCE keeps 16
 * work requests outstanding. Each measurement runs ~0.4 s after a short warm-up; the whole bench under ten
 * seconds. Prints MB/s of payload and the ratio soft-RoCE / raw UDP, and the load average: on a busy machine
 * the absolute numbers mean little, the ratio measured in the same run a bit more.
 */
import { createSocket, type Socket } from 'node:dgram';
import { cpus, loadavg } from 'node:os';
import { asyncScheduler } from 'rxjs';
import { Access, type RdmaConnection, type WorkCompletion } from '../transports/verbs.js';
import type { PathMtu } from '../sim/roce/rc/attributes.js';
import { UdpLink } from '../sim/roce/link/udp-link.js';
import { SoftRoceProvider } from '../sim/roce/provider/provider.js';

const A = '127.0.0.1';
const B = '127.0.0.2';
const DURATION_MS = 400;
const WINDOW = 128;
const OUTSTANDING = 16;
const QP = { maxSendWr: 64, maxRecvWr: 64, maxSendSge: 1, maxRecvSge: 1 };

function bind(address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    socket.once('error', reject);
    socket.bind({ address, port: 0 }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** Raw UDP: `payload`-byte datagrams from A to B with at most WINDOW in flight; returns payload MB/s received. */
async function rawUdp(payload: number): Promise<number> {
  const tx = await bind(A);
  const rx = await bind(B);
  const port = rx.address().port;
  const data = Buffer.alloc(payload, 0x5a);
  let sent = 0;
  let received = 0;
  let wake: (() => void) | undefined;
  rx.on('message', (msg) => {
    received++;
    if (msg.length !== payload) throw new Error('short datagram');
    wake?.();
  });
  const start = performance.now();
  const end = start + DURATION_MS;
  let lastProgress = start;
  while (performance.now() < end) {
    if (sent - received < WINDOW) {
      sent++;
      tx.send(data, port, B);
      if (sent % 32 === 0) await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    // Window full: wait for the receiver, or (after a loss) let the window slide after 5 ms.
    const progressed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        resolve(false);
      }, 5);
      wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    wake = undefined;
    if (progressed) lastProgress = performance.now();
    else if (performance.now() - lastProgress > 5) sent = received;
  }
  const seconds = (performance.now() - start) / 1000;
  await new Promise<void>((resolve) =>
    tx.close(() => {
      resolve();
    }),
  );
  await new Promise<void>((resolve) =>
    rx.close(() => {
      resolve();
    }),
  );
  return (received * payload) / seconds / 1e6;
}

interface Pair {
  readonly a: SoftRoceProvider;
  readonly b: SoftRoceProvider;
  readonly client: RdmaConnection;
  readonly server: RdmaConnection;
}

const MAX_MESSAGE = 1024 * 1024;
const RECEIVES = 2 * OUTSTANDING;

async function softRocePair(mtu: PathMtu): Promise<Pair> {
  const link = new UdpLink();
  const common = { link, scheduler: asyncScheduler, mtu, minRnrTimer: 1 };
  const a = await SoftRoceProvider.open({ ...common, address: A });
  const b = await SoftRoceProvider.open({ ...common, address: B });
  const listener = await b.listen({ host: B, port: 0 });
  const accepted = new Promise<RdmaConnection>((resolve, reject) => {
    listener.connectRequests.subscribe((req) => {
      req.accept({ qp: QP }).then(resolve, reject);
    });
  });
  const [client, server] = await Promise.all([
    a.connect({ host: B, port: listener.address.port }, { qp: QP }),
    accepted,
  ]);
  await listener.close();
  // Receives for every SEND measurement: slots of the largest message, re-posted as they complete.
  const slots = server.pd.register(Buffer.alloc(MAX_MESSAGE * RECEIVES), Access.LOCAL_WRITE);
  const slot = (i: number) => ({ wrId: i, sgl: [{ mr: slots, offset: i * MAX_MESSAGE, length: MAX_MESSAGE }] });
  server.completions.subscribe((wc: WorkCompletion) => {
    if (wc.status === 'SUCCESS') server.postRecv([slot(wc.wrId)]);
  });
  server.postRecv([...Array(RECEIVES).keys()].map(slot));
  return { a, b, client, server };
}

/** Keeps OUTSTANDING work requests of `size` bytes going for DURATION_MS; returns payload MB/s completed. */
async function softRoce(
  pair: Pair,
  opcode: 'RDMA_WRITE' | 'SEND',
  size: number,
  durationMs = DURATION_MS,
): Promise<number> {
  const { client, server } = pair;
  const source = client.pd.register(Buffer.alloc(size, 0xa5), 0);
  const sink = server.pd.register(Buffer.alloc(size * OUTSTANDING), Access.LOCAL_WRITE | Access.REMOTE_WRITE);
  let completed = 0;
  let failed: string | undefined;
  const start = performance.now();
  const end = start + durationMs;
  const post = (i: number): void => {
    const sgl = [{ mr: source, offset: 0, length: size }];
    client.postSend([
      opcode === 'SEND'
        ? { wrId: i, opcode: 'SEND', sgl }
        : { wrId: i, opcode: 'RDMA_WRITE', remoteAddr: sink.addr + BigInt(i * size), rkey: sink.rkey, sgl },
    ]);
  };
  await new Promise<void>((resolve) => {
    let inFlight = 0;
    const subscription = client.completions.subscribe((wc) => {
      inFlight--;
      if (wc.status !== 'SUCCESS') failed ??= wc.status;
      else completed++;
      if (failed === undefined && performance.now() < end) {
        post(wc.wrId);
        inFlight++;
      } else if (inFlight === 0) {
        subscription.unsubscribe();
        resolve();
      }
    });
    for (let i = 0; i < OUTSTANDING; i++) {
      post(i);
      inFlight++;
    }
  });
  const seconds = (performance.now() - start) / 1000;
  if (failed !== undefined) throw new Error(`${opcode} failed: ${failed}`);
  source.deregister();
  sink.deregister();
  return (completed * size) / seconds / 1e6;
}

async function main(): Promise<void> {
  const rows: string[] = [];
  const header = ['MTU', 'message', 'raw UDP', 'WRITE', 'SEND', 'WRITE/UDP', 'SEND/UDP', 'retransmits'];
  for (const mtu of [1024, 4096] as const) {
    const udp = await rawUdp(mtu);
    const pair = await softRocePair(mtu);
    await softRoce(pair, 'RDMA_WRITE', 64 * 1024, 200); // warm-up: let the JIT see the hot path
    for (const size of [mtu, 64 * 1024, MAX_MESSAGE]) {
      const write = await softRoce(pair, 'RDMA_WRITE', size);
      const send = await softRoce(pair, 'SEND', size);
      rows.push(
        [
          String(mtu),
          size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`,
          udp.toFixed(1),
          write.toFixed(1),
          send.toFixed(1),
          (write / udp).toFixed(2),
          (send / udp).toFixed(2),
          String(pair.a.snapshot().retransmittedPackets),
        ].join('\t'),
      );
    }
    await pair.client.disconnect();
    await pair.a.close();
    await pair.b.close();
  }
  const load = loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  console.log(`soft-RoCE over UDP loopback vs raw node:dgram (payload MB/s), Node ${process.version}, ${process.arch}`);
  console.log(`${cpus().length} CPUs, load average ${load}`);
  console.log(
    `raw UDP: datagrams of MTU bytes, ≤${WINDOW} in flight; soft-RoCE: ${OUTSTANDING} work requests outstanding`,
  );
  console.log(header.join('\t'));
  for (const row of rows) console.log(row);
}

await main();
