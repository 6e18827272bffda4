/**
 * End to end: our target on 127.0.0.1, `iser daemon` in-process on a socket in a temp dir, `iser ctl` adding a
 * session, 8 MiB copied onto the LUN through NBD by qemu-img and read back by nbdcopy, then removal; then bad input.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IscsiDaemon } from '../../cli/daemon/daemon.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { iser, startTarget, TEST_IQN, type TestTarget } from '../cli/support.js';
import { missing } from '../support/tools.js';

const run = promisify(execFile);

interface Listed {
  sessions: { target: string; portal: string; state: string; luns: { lun: number; nbd: string }[] }[];
}

function nbdSocketOf(uri: string): string {
  const path = new URL(uri).searchParams.get('socket');
  if (path === null) throw new Error(`no socket in ${uri}`);
  return path;
}

describe.skipIf(missing('qemu-img', 'apt-get install qemu-utils') ?? missing('nbdcopy', 'apt-get install libnbd-bin'))(
  'iser daemon + iser ctl, end to end',
  () => {
    let served: TestTarget;
    let dir: string;
    let socket: string;
    let daemon: IscsiDaemon;

    beforeAll(async () => {
      served = await startTarget({ digests: false });
      dir = await mkdtemp(join(tmpdir(), 'iser-daemon-'));
      socket = join(dir, 'run', 'iserd.sock');
      daemon = await IscsiDaemon.start({
        socketPath: socket,
        transports: { tcp: () => new TcpConnector({ connectTimeoutMs: 5000 }), iserUnavailable: 'test: no provider' },
      });
    });

    afterAll(async () => {
      await daemon.close();
      await served.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('serves an owner-only control socket in an owner-only directory', () => {
      expect(statSync(socket).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o700);
    });

    it('adds a session, copies 8 MiB through NBD and reads it back, then removes it', async () => {
      const portal = `127.0.0.1:${served.port}`;
      const add = await iser(['ctl', '--socket', socket, '-A', '-t', TEST_IQN, '-p', portal, '-T', 'tcp']);
      expect(add.stderr).toBe('');
      expect(add.code).toBe(0);

      const list = await iser(['ctl', '--socket', socket, '-L', '--json']);
      expect(list.code).toBe(0);
      const listed = JSON.parse(list.stdout) as Listed;
      expect(listed.sessions).toHaveLength(1);
      const session = listed.sessions[0];
      expect(session?.target).toBe(TEST_IQN);
      expect(session?.portal).toBe(portal);
      expect(session?.state).toBe('full-feature');
      const lun0 = session?.luns.find((l) => l.lun === 0);
      expect(lun0?.nbd).toMatch(/^nbd\+unix:\/\/\/lun0\?socket=/u);
      const uri = lun0?.nbd ?? '';
      const nbdSocket = nbdSocketOf(uri);
      expect(statSync(nbdSocket).mode & 0o777).toBe(0o600);

      const text = await iser(['ctl', '--socket', socket, '-L', '-v']);
      expect(text.stdout).toContain(TEST_IQN);
      expect(text.stdout).toContain(uri);
      expect(text.stdout).toContain('HeaderDigest=None');

      const source = join(dir, 'source.img');
      const back = join(dir, 'back.img');
      const data = randomBytes(8 * 1024 * 1024);
      await writeFile(source, data);
      await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', source, uri], { timeout: 60_000 });
      await run('nbdcopy', [uri, back], { timeout: 60_000 });
      expect((await readFile(back)).equals(data)).toBe(true);
      // And what the target holds is the same bytes (not just an NBD-side cache).
      const direct = await iser(['dd', '--if', served.url(0), '--of', '-', '--bs', '1M']);
      expect(direct.code).toBe(0);
      expect(direct.bytes.equals(data)).toBe(true);

      const removed = await iser(['ctl', '--socket', socket, '-R', '-t', TEST_IQN]);
      expect(removed.code).toBe(0);
      expect(existsSync(nbdSocket)).toBe(false);
      const after = await iser(['ctl', '--socket', socket, '-L', '--json']);
      expect((JSON.parse(after.stdout) as Listed).sessions).toHaveLength(0);
    });

    // An unreachable portal and a wrong CHAP secret: bad-input.test.ts, as processes, with the state checked after.
    it('an unknown flag is a usage error', async () => {
      const result = await iser(['ctl', '--socket', socket, '-Z']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/unknown option/u);
    });

    it('removing an unknown session says so', async () => {
      const result = await iser(['ctl', '--socket', socket, '-R', '-t', 'iqn.2024-01.org.nowhere:x']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/no session for iqn\.2024-01\.org\.nowhere:x/u);
    });

    it('-T iser without a provider is "iSER unavailable" (exit 2)', async () => {
      const result = await iser(['ctl', '--socket', socket, '-A', '-t', TEST_IQN, '-p', '127.0.0.1:1', '-T', 'iser']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/iSER unavailable: test: no provider/u);
    });

    it('a second daemon on the same socket refuses to start and leaves the first serving', async () => {
      const second = await iser(['daemon', '--socket', socket]);
      expect(second.code).toBe(2);
      expect(second.stderr).toMatch(/already running/u);
      const list = await iser(['ctl', '--socket', socket, '-L', '--json']);
      expect(list.code).toBe(0);
    });

    it('a daemon that is not running is named', async () => {
      const result = await iser(['ctl', '--socket', join(dir, 'nothing.sock'), '-L']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/daemon is not running/u);
    });
  },
);
