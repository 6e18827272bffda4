/**
 * softroce-initiator.ts — our iSER initiator over our soft-RoCE on real UDP against a kernel rxe + LIO isert
 * target (softroce-vs-rxe.sh runs it in guest B, or in the netns on the host with --where netns):
 * IB CM connect, iSER login (RDMAExtensions=Yes), verified random I/O of a few sizes, logout, DREQ/DREP.
 *
 *   node node_modules/tsx/dist/cli.mjs tools/rxevm/softroce-initiator.ts --local 10.99.0.3 --target 10.99.0.2
 *
 * Prints "softroce-initiator: <step> PASS|FAIL ..." per step, a JSON summary line "softroce-initiator-stats {…}",
 * and exits 0 only when every step passed. Every step is bounded in real time. The UDP socket gets
 * IP_PMTUDISC_DO from the native addon (IPv4 ID 0, which our ICRC covers); without the addon it fails at once.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { asyncScheduler } from 'rxjs';
import { setsockoptInt } from '../../native/sockets.js';
import { login, type Session } from '../../protocol/initiator/index.js';
import { UdpLink } from '../../sim/roce/link/udp-link.js';
import { PcapTap } from '../../sim/roce/link/pcap-tap.js';
import { SoftRoceProvider } from '../../sim/roce/provider/provider.js';
import { EventLog } from '../../sim/trace/event-log.js';
import { PcapngWriter } from '../../sim/trace/pcapng.js';
import { IserConnector } from '../../transports/iser/connector.js';

const { values: args } = parseArgs({
  options: {
    local: { type: 'string', default: '10.99.0.3' },
    target: { type: 'string', default: '10.99.0.2' },
    port: { type: 'string', default: '3260' },
    iqn: { type: 'string', default: 'iqn.2024-01.test.rxevm:tgt0' },
    mib: { type: 'string', default: '16' },
    /** Our own view of the wire (what we sent and received, pcapng), besides the host's capture. */
    pcap: { type: 'string' },
    /** Every CM event and packet we sent or received, as JSON lines. */
    events: { type: 'string' },
    'step-timeout': { type: 'string', default: '60' },
  },
});

const stepTimeoutMs = Number(args['step-timeout']) * 1000;
const totalBytes = Number(args.mib) * 1024 * 1024;
let passed = 0;
let failed = 0;

function say(line: string): void {
  process.stdout.write(`softroce-initiator: ${line}\n`);
}

/** Runs one step within the step timeout; prints PASS/FAIL; returns its value or undefined on failure. */
async function step<T>(name: string, work: () => Promise<T>, detail?: (value: T) => string): Promise<T | undefined> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no result within ${stepTimeoutMs / 1000} s`));
    }, stepTimeoutMs);
  });
  try {
    const value = await Promise.race([work(), deadline]);
    passed++;
    const extra = detail === undefined ? '' : ` ${detail(value)}`;
    say(`${name} PASS ${((performance.now() - t0) / 1000).toFixed(1)}s${extra}`);
    return value;
  } catch (error) {
    failed++;
    const why =
      error instanceof Error
        ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`
        : String(error);
    say(`${name} FAIL ${((performance.now() - t0) / 1000).toFixed(1)}s: ${why}`);
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

const writer = args.pcap === undefined ? undefined : new PcapngWriter('softroce-vs-rxe (our endpoint)');
const tap = writer === undefined ? undefined : new PcapTap(asyncScheduler, writer);
const link = new UdpLink({
  // Port 4791 must be ours: an ephemeral port would never receive the kernel's packets.
  fallbackToEphemeral: false,
  setsockoptInt,
  // Per-QP source ports as rxe sends them (0xC000 + hash), not 4791 on everything.
  sourcePorts: 'entropy',
  ...(tap === undefined ? {} : { tap, captureReceived: true }),
});
const events = new EventLog({ clock: asyncScheduler });
const provider = await step('open-device', () =>
  SoftRoceProvider.open({
    address: args.local,
    link,
    scheduler: asyncScheduler,
    eventLog: events,
    logPackets: args.events !== undefined,
    // The IPv4 ID of the kernel's packets is not visible on a UDP socket: the host checks them from its capture.
    icrc: 'tx-only',
    seed: `softroce-vs-rxe:${Date.now()}`,
  }),
);

let session: Session | undefined;
let mbps = 0;
let verified = 0;
if (provider !== undefined) {
  const connector = new IserConnector(provider, { connectTimeoutMs: stepTimeoutMs, scheduler: asyncScheduler });
  session = await step(
    'cm-connect-iser-login',
    () =>
      login({
        connector,
        portal: { host: args.target, port: Number(args.port) },
        targetName: args.iqn,
        initiatorName: 'iqn.2024-01.test.rxevm:softroce',
        loginTimeoutMs: stepTimeoutMs,
        session: { nopIntervalMs: 0 },
      }),
    (s) => `RDMAExtensions=${s.params.rdmaExtensions ? 'Yes' : 'No'}`,
  );
  if (session !== undefined && !session.params.rdmaExtensions) {
    failed++;
    say('rdma-extensions FAIL: the target did not agree to RDMAExtensions=Yes');
  }
}

if (session !== undefined) {
  const lun = session.lun(0);
  const capacity = await step(
    'read-capacity',
    () => lun.promises.readCapacity(),
    (c) => `${c.blocks} blocks of ${c.blockSize}`,
  );
  if (capacity !== undefined) {
    const blockSize = capacity.blockSize;
    // A few sizes (one block to past the 512 KiB FirstBurst/MaxBurst defaults), at random offsets, covering
    // totalBytes; written, then read back and compared byte for byte.
    const sizes = [blockSize, 8192, 65536, 262144, 1048576, 4 * 1048576];
    const lunBytes = Number(capacity.blocks) * blockSize;
    const plan: { lba: number; data: Buffer }[] = [];
    let planned = 0;
    let offset = 0;
    for (let i = 0; planned < totalBytes && i < 10_000; i++) {
      const size = sizes[i % sizes.length] ?? blockSize;
      if (offset + size > lunBytes) break;
      plan.push({ lba: offset / blockSize, data: randomBytes(size) });
      planned += size;
      offset += size + blockSize * (1 + (i % 7));
    }
    const t0 = performance.now();
    const wrote = await step(
      'write',
      async () => {
        for (const { lba, data } of plan) await lun.promises.write(lba, data);
        return planned;
      },
      (n) => `${plan.length} writes, ${(n / 1048576).toFixed(1)} MiB`,
    );
    if (wrote !== undefined) {
      const read = await step(
        'read-verify',
        async () => {
          for (const { lba, data } of plan) {
            const back = await lun.promises.read(lba, data.length / blockSize);
            if (!back.equals(data)) throw new Error(`LBA ${lba}: ${data.length} bytes read back differ`);
            verified += data.length;
          }
          return verified;
        },
        (n) => `${(n / 1048576).toFixed(1)} MiB identical`,
      );
      if (read !== undefined) mbps = (2 * planned) / 1e6 / ((performance.now() - t0) / 1000);
    }
  }
  const loggedIn = session;
  await step('logout', async () => {
    await loggedIn.logout();
    await loggedIn.close();
  });
}

if (provider !== undefined) {
  // DREQ/DREP: whichever side starts it (LIO isert disconnects after the logout), both must be seen.
  await step(
    'cm-disconnect',
    async () => {
      for (let i = 0; i < 100; i++) {
        if (cmSeen('DREQ') && cmSeen('DREP')) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      if (!(cmSeen('DREQ') && cmSeen('DREP'))) throw new Error(`no DREQ/DREP exchange (${cmSummary()})`);
      if (cmSeen('REJ')) throw new Error(`a REJ was exchanged (${cmSummary()})`);
      return cmSummary();
    },
    (s) => s,
  );
  const snapshot = provider.snapshot();
  await provider.close();
  const stats = {
    sentPackets: snapshot.sent.packets,
    receivedPackets: snapshot.received.packets,
    retransmittedPackets: snapshot.retransmittedPackets,
    retries: snapshot.retries,
    timeouts: snapshot.timeouts,
    rnrNaksReceived: snapshot.rnrNaksReceived,
    rnrNaksSent: snapshot.rnrNaksSent,
    seqNaksReceived: snapshot.seqNaksReceived,
    seqNaksSent: snapshot.seqNaksSent,
    duplicateRequests: snapshot.duplicateRequests,
    drops: snapshot.icrcDrops + snapshot.malformedDrops + snapshot.unknownQpDrops,
    verifiedBytes: verified,
    mbps: Number(mbps.toFixed(2)),
    sentByOpcode: Object.fromEntries(Object.entries(snapshot.sent.byOpcode).map(([k, v]) => [k, v.packets])),
    receivedByOpcode: Object.fromEntries(Object.entries(snapshot.received.byOpcode).map(([k, v]) => [k, v.packets])),
  };
  process.stdout.write(`softroce-initiator-stats ${JSON.stringify(stats)}\n`);
}
if (writer !== undefined && args.pcap !== undefined) writeFileSync(args.pcap, writer.toBuffer());
if (args.events !== undefined) writeFileSync(args.events, events.toJsonLines());
say(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);

function cmSeen(kind: string): boolean {
  return events.events.some((e) => (e.type === 'recv' || e.type === 'send') && e.fields['kind'] === kind);
}

function cmSummary(): string {
  return events.events
    .filter((e) => e.type === 'recv' || e.type === 'send')
    .flatMap((e) => {
      const kind = e.fields['kind'];
      return typeof kind === 'string' ? [`${e.type === 'send' ? '>' : '<'}${kind}`] : [];
    })
    .join(' ');
}
