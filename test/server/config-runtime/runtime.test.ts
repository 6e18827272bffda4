/**
 * TargetRuntime: target.yaml served over real TCP on loopback (and iSER on a soft-RoCE device over UDP loopback),
 * reloaded by calling reload() — unchanged targets keep their sessions doing I/O, removed ones are asked out,
 * added targets and portals serve at once, removed portals close, a reload that fails anywhere changes nothing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncScheduler } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../config/errors.js';
import { parseTargetConfig, type TargetFileConfig } from '../../../config/target-config.js';
import type { Isid } from '../../../protocol/pdu/index.js';
import { read10, write10 } from '../../../protocol/scsi/cdb/build.js';
import { ScsiStatus } from '../../../protocol/scsi/status.js';
import { loadTargetFile, TargetRuntime } from '../../../server/config-runtime/runtime.js';
import { UdpLink } from '../../../sim/roce/link/udp-link.js';
import { SoftRoceProvider } from '../../../sim/roce/provider/provider.js';
import { IserConnector } from '../../../transports/iser/index.js';
import { TcpConnector } from '../../../transports/tcp/index.js';
import { within } from '../../sim/roce/provider/udp-env.js';
import { ScriptedInitiator } from '../scripted-initiator.js';

const A = 'iqn.2024-01.org.example:a';
const B = 'iqn.2024-01.org.example:b';
const C = 'iqn.2024-01.org.example:c';
const HOST = 'iqn.2024-01.org.example:host';

function yaml(targets: readonly string[], portals = ['{ transport: tcp, host: 127.0.0.1, port: 0 }']): string {
  return [
    'portals:',
    ...portals.map((p) => `  - ${p}`),
    'targets:',
    ...targets.flatMap((iqn) => [`  - iqn: ${iqn}`, '    luns:', '      0: mem:1M']),
    '',
  ].join('\n');
}

function parse(text: string): TargetFileConfig {
  const { warnings: _warnings, ...config } = parseTargetConfig(text);
  return config;
}

async function login(runtime: TargetRuntime, portal: number, targetName: string, d: number) {
  const listener = runtime.portals[portal]?.listener;
  if (listener === undefined) throw new Error(`no portal ${portal}`);
  const initiator = new ScriptedInitiator(await new TcpConnector().connect(listener.address));
  const isid: Isid = { type: 2, a: 0, b: 9, c: 9, d };
  await initiator.login({ initiatorName: HOST, targetName, isid, transport: 'tcp' });
  return initiator;
}

/** Writes a block of `byte` and reads it back (the first command meets the power-on unit attention). */
async function io(initiator: ScriptedInitiator, byte: number): Promise<boolean> {
  const block = Buffer.alloc(512, byte);
  let write = await initiator.command(write10({ lba: 3, blocks: 1 }), { write: block });
  if (write.response.status === ScsiStatus.CheckCondition) {
    write = await initiator.command(write10({ lba: 3, blocks: 1 }), { write: block });
  }
  const read = await initiator.command(read10({ lba: 3, blocks: 1 }), { readLength: 512 });
  return write.response.status === ScsiStatus.Good && read.data.equals(block);
}

describe('TargetRuntime', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iser-runtime-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reload keeps unchanged targets serving, asks removed ones out, opens and closes portals', async () => {
    const runtime = await TargetRuntime.start(parse(yaml([A, B])), { logoutDeadlineSeconds: 1 });
    try {
      const a = await login(runtime, 0, A, 1);
      const b = await login(runtime, 0, B, 2);
      expect(await io(a, 1)).toBe(true);
      const oldPortal = runtime.portals[0]!;

      const report = await runtime.reload(
        parse(
          yaml(
            [A, C],
            ['{ transport: tcp, host: 127.0.0.1, port: 0 }', '{ transport: tcp, host: 127.0.0.2, port: 0 }'],
          ),
        ),
      );
      expect(report).toMatchObject({
        added: [C],
        removed: [B],
        replaced: [],
        unchanged: [A],
        portalsOpened: ['tcp 127.0.0.2:0'],
        portalsClosed: [],
      });
      // B is asked to log out; A goes on as if nothing happened.
      await b.next((p) => p.kind === 'async-message');
      await b.logout();
      await report.settled;
      expect(await io(a, 2)).toBe(true);
      expect(a.closed).toBe(false);
      expect(runtime.portals[0]).toBe(oldPortal);
      // C is served on the new portal.
      const c = await login(runtime, 1, C, 3);
      expect(await io(c, 3)).toBe(true);

      // Dropping the first portal closes it; sessions through it stay.
      const second = await runtime.reload(parse(yaml([A, C], ['{ transport: tcp, host: 127.0.0.2, port: 0 }'])));
      expect(second).toMatchObject({ portalsClosed: ['tcp 127.0.0.1:0'], portalsOpened: [], unchanged: [A, C] });
      await expect(new TcpConnector({ connectTimeoutMs: 2000 }).connect(oldPortal.listener.address)).rejects.toThrow();
      expect(await io(a, 4)).toBe(true);
      void a.next((p) => p.kind === 'async-message').then(() => a.logout());
      void c.next((p) => p.kind === 'async-message').then(() => c.logout());
    } finally {
      await runtime.close();
    }
  });

  it('a changed target is replaced and keeps its data; a failing reload changes nothing', async () => {
    const runtime = await TargetRuntime.start(parse(yaml([A])), { logoutDeadlineSeconds: 1 });
    try {
      const a = await login(runtime, 0, A, 1);
      expect(await io(a, 7)).toBe(true);
      const before = runtime.file;
      // A file backend in a directory that does not exist: the build fails, nothing changes.
      const broken = yaml([A]).replace('0: mem:1M', `0: file:${join(dir, 'missing', 'x.img')}:1M`);
      await expect(runtime.reload(parse(broken))).rejects.toThrow();
      // A portal that cannot be opened (not a local address): nothing changes either.
      await expect(
        runtime.reload(parse(yaml([A, B], ['{ transport: tcp, host: 192.0.2.1, port: 3260 }']))),
      ).rejects.toMatchObject({ code: 'ERR_SERVER_TRANSPORT' });
      expect(runtime.file).toBe(before);
      expect(runtime.target.config.targets.has(B)).toBe(false);
      expect(await io(a, 8)).toBe(true);

      const aliased = yaml([A]).replace(`iqn: ${A}`, `iqn: ${A}\n    alias: renamed`);
      const report = await runtime.reload(parse(aliased));
      expect(report).toMatchObject({ replaced: [A], unchanged: [] });
      await a.next((p) => p.kind === 'async-message');
      await a.logout();
      await report.settled;
      // Same LUN spec: the same memory backend, so the data written before is still there.
      const again = await login(runtime, 0, A, 2);
      await again.command(Buffer.alloc(6)); // the new node's power-on unit attention
      const read = await again.command(read10({ lba: 3, blocks: 1 }), { readLength: 512 });
      expect(read.data.equals(Buffer.alloc(512, 8))).toBe(true);
      void again.next((p) => p.kind === 'async-message').then(() => again.logout());
    } finally {
      await runtime.close();
    }
  });

  it('serves an iSER portal on a soft-RoCE device over UDP loopback', async () => {
    const link = new UdpLink();
    const text = yaml([A], ['{ transport: iser, host: 127.0.0.1, port: 0, provider: softroce-udp }']);
    const devices: unknown[] = [];
    const runtime = await TargetRuntime.start(parse(text), {
      logoutDeadlineSeconds: 1,
      portals: { roceLink: link, onProvider: (opened) => devices.push(opened) },
    });
    expect(devices).toEqual([{ provider: 'softroce-udp', device: '127.0.0.1', udpPort: expect.any(Number) as number }]);
    const device = await SoftRoceProvider.open({ link, address: '127.0.0.2', scheduler: asyncScheduler });
    try {
      const address = runtime.portals[0]!.listener.address;
      const connection = await within(
        new IserConnector(device, { scheduler: asyncScheduler, connectTimeoutMs: 5000 }).connect(address),
        20_000,
        'iSER connect',
      );
      const initiator = new ScriptedInitiator(connection);
      await within(
        initiator.login({
          initiatorName: HOST,
          targetName: A,
          isid: { type: 2, a: 0, b: 1, c: 1, d: 1 },
          transport: 'iser',
        }),
        20_000,
        'iSER login',
      );
      expect(await within(io(initiator, 0x66), 20_000, 'I/O over iSER')).toBe(true);
      await initiator.logout();
    } finally {
      await runtime.close();
      await device.close();
    }
  });

  it('refuses provider sim in a target process, naming why', async () => {
    const text = yaml([A], ['{ transport: iser, host: 127.0.0.1, port: 0, provider: sim }']);
    await expect(TargetRuntime.start(parse(text))).rejects.toThrow(/provider sim is the in-process simulated fabric/);
  });

  it('loadTargetFile points server-side validation errors at the target', async () => {
    const path = join(dir, 'mutual.yaml');
    const text = [
      'portals:',
      '  - { transport: tcp, host: 127.0.0.1, port: 0 }',
      'targets:',
      `  - iqn: ${A}`,
      '    luns: { 0: mem:1M }',
      `  - iqn: ${B}`,
      '    luns: { 0: mem:1M }',
      '    chap: { user: u, secret: same-secret-123 }',
      '    mutualChap: { user: t, secret: same-secret-123 }',
      '',
    ].join('\n');
    await writeFile(path, text);
    const error = await loadTargetFile(path).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(new RegExp(`^${path}:6:5: target ${B}: the mutual CHAP secret`));
  });

  it('loadTargetFile refuses a file over 1 MiB without reading it all', async () => {
    const path = join(dir, 'huge.yaml');
    await writeFile(path, `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    await expect(loadTargetFile(path)).rejects.toMatchObject({ code: 'ERR_CONFIG_TOO_LARGE', line: 1 });
  });

  it('a reload opens an iSER portal (soft-RoCE over UDP loopback) and a later one closes it', async () => {
    const link = new UdpLink();
    const runtime = await TargetRuntime.start(parse(yaml([A])), {
      logoutDeadlineSeconds: 1,
      portals: { roceLink: link },
    });
    const device = await SoftRoceProvider.open({ link, address: '127.0.0.3', scheduler: asyncScheduler });
    try {
      const iser = '{ transport: iser, host: 127.0.0.1, port: 0, provider: softroce-udp }';
      const tcp = '{ transport: tcp, host: 127.0.0.1, port: 0 }';
      const opened = await runtime.reload(parse(yaml([A], [tcp, iser])));
      expect(opened).toMatchObject({ portalsOpened: ['iser/softroce-udp 127.0.0.1:0'], unchanged: [A] });
      const address = runtime.portals[1]!.listener.address;
      const connector = new IserConnector(device, { scheduler: asyncScheduler, connectTimeoutMs: 5000 });
      const initiator = new ScriptedInitiator(await within(connector.connect(address), 20_000, 'iSER connect'));
      const isid = { type: 2, a: 0, b: 2, c: 2, d: 2 } as const;
      await within(initiator.login({ initiatorName: HOST, targetName: A, isid, transport: 'iser' }), 20_000, 'login');
      expect(await within(io(initiator, 0x77), 20_000, 'I/O over iSER')).toBe(true);
      const closed = await runtime.reload(parse(yaml([A], [tcp])));
      expect(closed).toMatchObject({ portalsClosed: ['iser/softroce-udp 127.0.0.1:0'], portalsOpened: [] });
      // The session through the closed portal stays until it logs out.
      expect(await within(io(initiator, 0x78), 20_000, 'I/O after the portal closed')).toBe(true);
      await within(initiator.logout(), 20_000, 'logout');
    } finally {
      await runtime.close();
      await device.close();
    }
  });
});
