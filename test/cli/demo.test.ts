/**
 * The demo (`npm start`): completes and verifies over iSER on the simulated fabric, on soft-RoCE (in-memory link and
 * UDP loopback) and over TCP; one seed gives one event log byte for byte; another seed, with the demo link's jitter,
 * gives another; a corrupted LUN fails it; --pcap on soft-RoCE writes RoCEv2 frames tshark dissects.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_LINK } from '../../cli/demo/environment.js';
import { runDemo, type DemoHooks } from '../../cli/demo/run.js';
import type { CliIo } from '../../cli/io.js';
import { field, layers, runTshark } from '../support/tshark.js';
import { missing } from '../support/tools.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iser-demo-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function demo(argv: readonly string[], hooks?: DemoHooks) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    writeStdout: () => Promise.resolve(),
    stdin: Readable.from([]),
    progress: () => undefined,
  };
  const code = await runDemo(argv, io, hooks);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** A small run: the same story with 512 KiB. */
const SMALL = ['--bytes', '512k'];

describe('the demo', () => {
  it('runs over iSER on the fabric to completion and verifies the data', async () => {
    const run = await demo(SMALL);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('simulated RDMA fabric, in virtual time (seed 1)');
    expect(run.stdout).toMatch(/login +TSIH \d+, RDMAExtensions=Yes/);
    expect(run.stdout).toMatch(/read \+ verify +512 KiB in 8 commands: identical/);
    expect(run.stdout).toMatch(/abort +READ unsubscribed -> ABORT TASK -> /);
    expect(run.stdout).toMatch(/after abort +TEST UNIT READY and READ: session fine/);
    expect(run.stdout).toMatch(/RDMA ops +SEND \d+, RDMA WRITE [1-9]\d*, RDMA READ [1-9]\d*/);
    expect(run.stdout).toMatch(/payload copies +\d+ /);
    expect(run.stdout).toMatch(/IOPS +[\d,]+ +[\d,]+/);
  });

  it('writes the same event log, byte for byte, for the same seed', async () => {
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    const first = await demo([...SMALL, '--seed', '7', '--trace', a]);
    const second = await demo([...SMALL, '--seed', '7', '--trace', b]);
    expect([first.code, second.code]).toEqual([0, 0]);
    const hash = await sha256(a);
    expect(await sha256(b)).toBe(hash);
    // The report's hash is the file's.
    expect(first.stdout).toContain(`sha256 ${hash.slice(0, 16)}`);
    expect((await readFile(a, 'utf8')).split('\n').length).toBeGreaterThan(100);
  });

  it('writes a different event log for a different seed (the link has jitter)', async () => {
    expect(DEMO_LINK.jitterMs).toBeGreaterThan(0);
    const a = join(dir, 's1.jsonl');
    const b = join(dir, 's2.jsonl');
    expect((await demo([...SMALL, '--seed', '1', '--trace', a])).code).toBe(0);
    expect((await demo([...SMALL, '--seed', '2', '--trace', b])).code).toBe(0);
    expect(await sha256(a)).not.toBe(await sha256(b));
  });

  it('fails with exit code 4 when the data read back differs', async () => {
    const run = await demo(SMALL, {
      afterWrite: (env) => env.backend.write(3, [Buffer.alloc(512, 0xee)], { fua: false }),
    });
    expect(run.code).toBe(4);
    expect(run.stdout).toMatch(/read \+ verify +MISMATCH in 1 commands \(first at byte 1536\)/);
    expect(run.stderr).toContain('verification FAILED');
  });

  it('runs the same story over TCP on 127.0.0.1', async () => {
    const run = await demo([...SMALL, '--transport', 'tcp', '--pcap', join(dir, 'x.pcap')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^iser demo: iSCSI over TCP on 127\.0\.0\.1:\d+, in real time/);
    expect(run.stdout).toMatch(/RDMAExtensions=No/);
    expect(run.stdout).toContain('identical');
    expect(run.stderr).toMatch(/^pcap: \d+ packets written to .*x\.pcap/m);
    expect((await readFile(join(dir, 'x.pcap'))).readUInt32LE(0)).toBe(0x0a0d0d0a);
  });

  it('runs the same story over iSER on soft-RoCE (in-memory link, virtual time) and captures RoCEv2', async () => {
    const file = join(dir, 'softroce.pcapng');
    const run = await demo([...SMALL, '--transport', 'softroce', '--pcap', file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('soft-RoCE (RoCEv2 on an in-memory link), in virtual time (seed 1)');
    expect(run.stdout).toMatch(/login +TSIH \d+, RDMAExtensions=Yes/);
    expect(run.stdout).toMatch(/read \+ verify +512 KiB in 8 commands: identical/);
    expect(run.stdout).toMatch(/after abort +TEST UNIT READY and READ: session fine/);
    expect(run.stdout).toMatch(/RoCEv2 packets +[\d,]+ /);
    expect(run.stdout).toMatch(/by kind +SEND [1-9][\d,]*, RDMA WRITE [1-9][\d,]*, READ response [1-9][\d,]*/);
    expect(run.stdout).toMatch(/IOPS +[\d,]+ +[\d,]+/);
    const packets = Number(/^pcap: (\d+) packets written to /m.exec(run.stderr)?.[1]);
    expect(packets).toBeGreaterThan(500);
    expect(run.stderr).toContain(`(read it with: tshark -r ${file})`);
    expect((await readFile(file)).readUInt32LE(0)).toBe(0x0a0d0d0a);
  });

  it('on soft-RoCE in virtual time, writes the same event log for the same seed, with the devices’ CM events', async () => {
    const a = join(dir, 'sr-a.jsonl');
    const b = join(dir, 'sr-b.jsonl');
    const first = await demo([...SMALL, '--transport', 'softroce', '--seed', '5', '--trace', a]);
    const second = await demo([...SMALL, '--transport', 'softroce', '--seed', '5', '--trace', b]);
    expect([first.code, second.code]).toEqual([0, 0]);
    expect(await sha256(b)).toBe(await sha256(a));
    const lines = (await readFile(a, 'utf8')).split('\n');
    expect(lines.some((l) => l.includes('"source":"softroce/10.0.0.1/cm"') && l.includes('"type":"established"'))).toBe(
      true,
    );
  });

  it.skipIf(missing('tshark', 'apt-get install tshark') !== undefined)(
    'writes a soft-RoCE capture tshark reads as RRoCE, with the CM handshake and iSCSI over iSER inside',
    async () => {
      const file = join(dir, 'softroce-tshark.pcapng');
      expect((await demo([...SMALL, '--transport', 'softroce', '--pcap', file])).code).toBe(0);
      const packets = await runTshark(file, { timeoutMs: 60_000 });
      expect(packets.length).toBeGreaterThan(500);
      // Every frame is RoCEv2 (UDP 4791 → InfiniBand); none is malformed.
      for (const p of packets) expect(layers(p).slice(0, 5)).toEqual(['eth', 'ethertype', 'ip', 'udp', 'infiniband']);
      expect(packets.filter((p) => layers(p).includes('_ws.malformed'))).toEqual([]);
      const iscsi = packets.filter((p) => layers(p).includes('iscsi'));
      expect(iscsi.length).toBeGreaterThan(10);
      // The IB CM REQ for port 3260 (0x0cbc) opens the capture; the Login Command follows the RTU.
      const first = packets[0];
      expect(first === undefined ? undefined : field(first, 'infiniband.cm.req.serviceid.dport')).toBe('0x0cbc');
      expect(JSON.stringify(iscsi[0])).toContain('"iscsi.opcode"');
    },
  );

  it('runs the same story over iSER on soft-RoCE over UDP on loopback, and captures it', async () => {
    const file = join(dir, 'softroce-udp.pcapng');
    const run = await demo([...SMALL, '--transport', 'softroce-udp', '--pcap', file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^iser demo: iSCSI over iSER on soft-RoCE over UDP to 127\.0\.0\.2, in real time/);
    expect(run.stdout).toMatch(/discovery +iqn\.2024-01\.org\.iser:demo at 127\.0\.0\.2:3260/);
    expect(run.stdout).toContain('identical');
    expect(run.stdout).toMatch(/RoCEv2 packets +[\d,]+ /);
    expect(Number(/^pcap: (\d+) packets written to /m.exec(run.stderr)?.[1])).toBeGreaterThan(500);
  });

  it('explains that the fabric has no packets for --pcap', async () => {
    const run = await demo([...SMALL, '--pcap', join(dir, 'fabric.pcap')]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/--pcap .*moves messages, not packets/);
  });

  it('rejects unknown flags and bad values (exit 1)', async () => {
    expect((await demo(['--frob'])).code).toBe(1);
    const pigeon = await demo(['--transport', 'carrier-pigeon']);
    expect(pigeon.code).toBe(1);
    expect(pigeon.stderr).toContain('fabric, softroce, softroce-udp, tcp');
    expect((await demo(['--bytes', '100k'])).code).toBe(1);
  });
});
