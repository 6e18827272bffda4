/**
 * iser:// over soft-RoCE from the CLI (--iser-softroce, cli/softroce-endpoint.ts and cli/connectors.ts): ls, inq,
 * readcap, dd, perf and conformance reach our target's soft-RoCE device over UDP on loopback (127.x.y.1 → .2), and
 * --pcap writes their RoCEv2 datagrams, which tshark reads as RRoCE carrying iSER and iSCSI.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncScheduler } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../backends/memory.js';
import { takeOwnFlags } from '../../cli/commands/conformance.js';
import { softRoceTarget } from '../../cli/softroce-endpoint.js';
import { IscsiTarget } from '../../server/iscsi-target.js';
import { UdpLink } from '../../sim/roce/link/udp-link.js';
import { SoftRoceProvider } from '../../sim/roce/provider/provider.js';
import { IserListener } from '../../transports/iser/listener.js';
import { layers, runTshark } from '../support/tshark.js';
import { missing } from '../support/tools.js';
import { iser, TEST_IQN } from './support.js';

// A loopback net of its own per run, so parallel runs on this machine do not answer each other's port 4791.
const NET = `127.${randomInt(64, 250)}.${randomInt(1, 250)}`;
const CLI_ADDRESS = `${NET}.1`;
const TARGET_ADDRESS = `${NET}.2`;

describe('softRoceTarget (the --iser-softroce flags)', () => {
  it('takes a loopback address, and a peer port only off 4791', () => {
    expect(softRoceTarget(undefined, undefined, '127.0.0.2')).toBeUndefined();
    expect(softRoceTarget('127.0.0.1', undefined, '127.0.0.2')).toEqual({ address: '127.0.0.1', peerPorts: new Map() });
    expect(softRoceTarget('127.0.0.1', 4791, '127.0.0.2')?.peerPorts.size).toBe(0);
    expect(softRoceTarget('127.0.0.1', 5000, '127.0.0.2')?.peerPorts).toEqual(new Map([['127.0.0.2', 5000]]));
  });

  it('refuses a non-loopback address, a port without an address, and a portal that is no IP (usage)', () => {
    expect(() => softRoceTarget('10.0.0.1', undefined, '127.0.0.2')).toThrow(/only a 127\.x\.y\.z loopback/);
    expect(() => softRoceTarget(undefined, 5000, '127.0.0.2')).toThrow(/needs --iser-softroce/);
    expect(() => softRoceTarget('127.0.0.1', 5000, 'target.example')).toThrow(/must be an IP address/);
  });
});

describe('iser:// over soft-RoCE on UDP loopback', () => {
  let dir: string;
  let device: SoftRoceProvider | undefined;
  let target: IscsiTarget | undefined;
  let flags: string[] = [];
  const url = (lun: number): string => `iser://${TARGET_ADDRESS}:3260/${TEST_IQN}/${lun}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iser-cli-softroce-'));
    device = await SoftRoceProvider.open({ link: new UdpLink(), address: TARGET_ADDRESS, scheduler: asyncScheduler });
    target = new IscsiTarget({
      targets: [{ name: TEST_IQN, luns: [{ lun: 0, backend: new MemoryBackend(4096) }] }],
      portalGroups: [{ tag: 1, portals: [{ host: TARGET_ADDRESS, port: 3260, transport: 'iser' }] }],
    });
    target.serve(await IserListener.listen(device, { host: TARGET_ADDRESS, port: 3260 }), 1);
    // The target's device may have fallen back to an ephemeral UDP port: tell the CLI where it is.
    flags = ['--iser-softroce', CLI_ADDRESS, '--iser-softroce-port', String(device.port)];
  });

  afterAll(async () => {
    await target?.close();
    await device?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('ls discovers the target and its LUN over iSER, and --pcap writes RoCEv2 datagrams', async () => {
    const file = join(dir, 'ls.pcapng');
    const run = await iser(['ls', ...flags, '--pcap', file, `iser://${TARGET_ADDRESS}:3260`]);
    expect(run.stderr).toMatch(/^pcap: \d+ packets written to /m);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Target:${TEST_IQN} Portal:${TARGET_ADDRESS}:3260,1`);
    expect(run.stdout).toMatch(/Lun:0 +Type:DIRECT_ACCESS/);
    const packets = Number(/^pcap: (\d+) packets/m.exec(run.stderr)?.[1]);
    expect(packets).toBeGreaterThan(20);
    expect((await readFile(file)).readUInt32LE(0)).toBe(0x0a0d0d0a);
  });

  it('inq, readcap, dd and perf run over iSER on soft-RoCE', async () => {
    const inq = await iser(['inq', '--standard', ...flags, url(0)]);
    expect(inq.code, inq.stderr).toBe(0);
    expect(inq.stdout).toContain('Peripheral Device Type:DIRECT_ACCESS');
    const readcap = await iser(['readcap', ...flags, url(0)]);
    expect(readcap.code, readcap.stderr).toBe(0);
    expect(readcap.stdout).toContain('RETURNED LOGICAL BLOCK ADDRESS:4095');
    const image = join(dir, 'in.img');
    const data = Buffer.alloc(256 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    await writeFile(image, data);
    const dd = await iser(['dd', ...flags, '--if', image, '--of', url(0), '--bs', '64k']);
    expect(dd.code, dd.stderr).toBe(0);
    const back = await iser(['dd', ...flags, '--if', url(0), '--of', '-', '--bs', '64k', '--count', '4']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.bytes.equals(data)).toBe(true);
    const perf = await iser(['perf', ...flags, url(0), '--qd', '8', '--bs', '4k', '--count', '200']);
    expect(perf.code, perf.stderr).toBe(0);
    expect(perf.stdout).toMatch(/^IOPS: +\d+$/m);
  });

  it('conformance runs over soft-RoCE with --iser-softroce and captures the run with --pcap', async () => {
    const file = join(dir, 'conformance.pcapng');
    const run = await iser([
      'conformance',
      ...flags,
      '--pcap',
      file,
      url(0),
      '--only',
      'negotiation',
      '--budget',
      '30',
      '--seed',
      '1',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('over iSER');
    expect(Number(/^pcap: (\d+) packets written to /m.exec(run.stderr)?.[1])).toBeGreaterThan(20);
  });

  it('conformance: takeOwnFlags splits the CLI flags from the suite arguments', () => {
    expect(takeOwnFlags(['--iser-softroce', '127.0.0.1', 'iser://h/iqn.x/0', '--pcap=f', '--only', 'data'])).toEqual({
      own: { '--iser-softroce': '127.0.0.1', '--pcap': 'f' },
      rest: ['iser://h/iqn.x/0', '--only', 'data'],
    });
    expect(() => takeOwnFlags(['--pcap'])).toThrow(/needs a value/);
  });

  it('says so when UDP 4791 on its address is taken (the target cannot answer another port)', async () => {
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      squatter.once('error', reject);
      squatter.bind(4791, CLI_ADDRESS, resolve);
    });
    try {
      const run = await iser(['readcap', ...flags, '--login-timeout', '1s', url(0)]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`^note: UDP 4791 on ${CLI_ADDRESS.replaceAll('.', '\\.')} is taken`, 'm'));
    } finally {
      await new Promise<void>((resolve) => {
        squatter.close(resolve);
      });
    }
  });

  it('exits 1 for a non-loopback --iser-softroce', async () => {
    const run = await iser(['readcap', '--iser-softroce', '192.0.2.1', url(0)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('only a 127.x.y.z loopback address');
  });

  it.skipIf(missing('tshark', 'apt-get install tshark') !== undefined)(
    'writes a capture tshark reads as RRoCE, with IB CM and iSCSI over iSER',
    async () => {
      const file = join(dir, 'readcap.pcapng');
      const run = await iser(['readcap', ...flags, '--pcap', file, url(0)]);
      expect(run.code).toBe(0);
      const prefs = device?.port === 4791 ? [] : [`infiniband.rroce.port:${device?.port ?? 4791}`];
      const packets = await runTshark(file, { prefs, timeoutMs: 60_000 });
      expect(packets.length).toBeGreaterThan(10);
      for (const p of packets) expect(layers(p).slice(0, 5)).toEqual(['eth', 'ethertype', 'ip', 'udp', 'infiniband']);
      const iscsi = packets.filter((p) => layers(p).includes('iscsi'));
      expect(iscsi.length, 'iSCSI PDUs inside iSER').toBeGreaterThanOrEqual(4);
      expect(packets.filter((p) => layers(p).includes('_ws.malformed'))).toEqual([]);
    },
  );
});
