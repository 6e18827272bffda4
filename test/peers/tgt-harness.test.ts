/**
 * The tgt harness itself: instances are isolated from each other, stop() leaves nothing behind, bad options are
 * refused before anything starts, a taken port is reported, and tools/peers/tgt.sh does the same for people and CI.
 */
import { createServer, type Server } from 'node:net';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isIserError } from '../../protocol/errors.js';
import { PeerErrorCode } from '../support/peers/errors.js';
import { canConnect, freePort } from '../support/peers/free-port.js';
import { iscsiLs, iscsiLunSize } from '../support/peers/libiscsi.js';
import { runTool, runToolChecked } from '../support/peers/run-tool.js';
import { startTgt, type TgtOptions } from '../support/peers/tgt.js';
import { missing } from '../support/tools.js';

const skip = missing('tgtd', 'apt-get install tgt') ?? missing('iscsi-ls', 'apt-get install libiscsi-bin');
const TGT_SH = fileURLToPath(new URL('../../tools/peers/tgt.sh', import.meta.url));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A process's command line ('' for a zombie or a process that is gone). */
function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** Pids of live processes with `arg` among their arguments. */
function processesWithArgument(arg: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => cmdlineOf(pid).split('\0').includes(arg));
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('startTgt refuses bad options before starting anything', () => {
  const cases: [string, TgtOptions][] = [
    ['no LUN', { luns: [] }],
    ['LUN 0 (tgt owns it)', { luns: [{ lun: 0, sizeBytes: 1 << 20 }] }],
    [
      'a LUN twice',
      {
        luns: [
          { lun: 1, sizeBytes: 1 << 20 },
          { lun: 1, sizeBytes: 1 << 20 },
        ],
      },
    ],
    ['a size that is not whole blocks', { luns: [{ lun: 1, sizeBytes: 1000 }] }],
    ['mutual CHAP alone', { luns: [{ lun: 1, sizeBytes: 1 << 20 }], mutualChap: { user: 'a', secret: 'b' } }],
    [
      'one name for both CHAP directions',
      {
        luns: [{ lun: 1, sizeBytes: 1 << 20 }],
        chap: { user: 'a', secret: 'b' },
        mutualChap: { user: 'a', secret: 'c' },
      },
    ],
  ];
  it.each(cases)('%s', async (_name, opts) => {
    expect(isIserError(await rejection(startTgt(opts)), PeerErrorCode.BadOption)).toBe(true);
  });
});

describe.skipIf(skip)('tgt instances', () => {
  it('two instances run side by side on their own ports, sockets and dirs; stopping one leaves the other', async () => {
    const [a, b] = await Promise.all([
      startTgt({ luns: [{ lun: 1, sizeBytes: 1 << 20 }], iqn: 'iqn.2024-01.org.iser-test:a' }),
      startTgt({ luns: [{ lun: 1, sizeBytes: 2 << 20 }], iqn: 'iqn.2024-01.org.iser-test:b' }),
    ]);
    try {
      expect(a.portal.port).not.toBe(b.portal.port);
      expect(a.dir).not.toBe(b.dir);
      expect(a.env.TGT_IPC_SOCKET).not.toBe(b.env.TGT_IPC_SOCKET);
      // Each tgtadm talks to its own daemon only.
      expect(await a.show()).toContain('iqn.2024-01.org.iser-test:a');
      expect(await a.show()).not.toContain('iqn.2024-01.org.iser-test:b');
      expect((await iscsiLs(b.portalUrl())).map((t) => t.name)).toEqual(['iqn.2024-01.org.iser-test:b']);
      // The LUN file is sparse: no data blocks until written.
      expect(statSync(a.luns[0]!.path).blocks).toBe(0);
      await a.stop();
      expect(await iscsiLunSize(b.url(1))).toBe(2n << 20n);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('stop() ends the process, frees the port, removes the dir, and may be called twice', async () => {
    const t = await startTgt({ luns: [{ lun: 1, sizeBytes: 1 << 20 }] });
    expect(t.running()).toBe(true);
    expect(pidAlive(t.pid)).toBe(true);
    expect(await canConnect(t.portal.host, t.portal.port)).toBe(true);
    await t.stop();
    await t.stop();
    expect(t.running()).toBe(false);
    expect(pidAlive(t.pid)).toBe(false);
    expect(existsSync(t.dir)).toBe(false);
    expect(await canConnect(t.portal.host, t.portal.port)).toBe(false);
  });

  it('a port someone else holds is reported as a bind failure, and the tgtd we started is gone', async () => {
    const port = await freePort();
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const e = await rejection(startTgt({ port, luns: [{ lun: 1, sizeBytes: 1 << 20 }], timeoutMs: 5000 }));
      expect(isIserError(e, PeerErrorCode.Start)).toBe(true);
      expect((e as Error).message).toMatch(/failed to create\/bind to portal/);
      expect(processesWithArgument(`portal=127.0.0.1:${port}`)).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => {
        holder.close(() => {
          resolve();
        });
      });
    }
  });

  it('digest and other target keys reach tgt, and libiscsi logs in with a CRC32C header digest', async () => {
    const t = await startTgt({
      luns: [{ lun: 1, sizeBytes: 1 << 20 }],
      headerDigest: 'CRC32C',
      dataDigest: 'CRC32C',
      params: { MaxRecvDataSegmentLength: '65536', ImmediateData: 'No' },
    });
    try {
      const params = await t.tgtadm(['--mode', 'target', '--op', 'show', '--tid', '1']);
      expect(params).toMatch(/^HeaderDigest=CRC32C$/m);
      expect(params).toMatch(/^DataDigest=CRC32C$/m);
      expect(params).toMatch(/^MaxRecvDataSegmentLength=65536$/m);
      expect(params).toMatch(/^ImmediateData=No$/m);
      expect(await iscsiLunSize(t.url(1, { headerDigest: 'crc32c' }))).toBe(1n << 20n);
    } finally {
      await t.stop();
    }
  });

  it('tools/peers/tgt.sh starts a CHAP target that libiscsi can use, and stops it by its pidfile', async () => {
    const dir = `/tmp/iser-tgt-sh-test-${process.pid}-${Date.now()}`;
    const started = await runToolChecked(
      'bash',
      [TGT_SH, 'start', dir, '--size', String(8 << 20), '--chap', 'shuser:sh-secret-123'],
      { timeoutMs: 30_000 },
    );
    const info = Object.fromEntries(
      started.stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const pid = Number(info.pid);
    try {
      expect(info.dir).toBe(dir);
      expect(info.url).toMatch(/^iscsi:\/\/shuser%sh-secret-123@127\.0\.0\.1:\d+\/iqn\.[^/]+\/1$/);
      expect(await iscsiLunSize(info.url!)).toBe(8n << 20n);
      expect((await runTool('bash', [TGT_SH, 'status', dir], { timeoutMs: 15_000 })).exitCode).toBe(0);
    } finally {
      await runToolChecked('bash', [TGT_SH, 'stop', dir], { timeoutMs: 15_000 });
    }
    expect(existsSync(dir)).toBe(false);
    // The script's tgtd is not our child: once it exits it may linger as a zombie until init reaps it, which
    // `kill -0` still sees. A zombie has an empty /proc/PID/cmdline.
    expect(cmdlineOf(pid)).toBe('');
  });
});
