/**
 * `iser ctl -A -d -p <portal>` (discovery adds every target found) and `iser ctl -A -n <nick> -c iscsi.conf`
 * (a target block of FreeBSD's iscsi.conf(5), CHAP included), against our target and an in-process daemon.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IscsiDaemon } from '../../cli/daemon/daemon.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { iser, startTarget, TEST_IQN, type TestTarget } from '../cli/support.js';

const USER = 'conf-user';
const SECRET = 'conf-secret-0123456789';

interface Listed {
  sessions: { target: string; nickname?: string; luns: { lun: number; nbd: string }[] }[];
}

describe('iser ctl discovery and iscsi.conf', () => {
  let plain: TestTarget;
  let chap: TestTarget;
  let dir: string;
  let socket: string;
  let daemon: IscsiDaemon;

  beforeAll(async () => {
    plain = await startTarget({ digests: false });
    chap = await startTarget({ chap: { user: USER, secret: SECRET }, digests: false });
    dir = await mkdtemp(join(tmpdir(), 'iser-ctl-conf-'));
    socket = join(dir, 'iserd.sock');
    daemon = await IscsiDaemon.start({ socketPath: socket, transports: { tcp: () => new TcpConnector() } });
  });
  afterAll(async () => {
    await daemon.close();
    await plain.close();
    await chap.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('-A -d -p adds a session to every target the portal reports; -R -a removes them all', async () => {
    const added = await iser(['ctl', '--socket', socket, '-A', '-d', '-p', `127.0.0.1:${plain.port}`, '--json']);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const sessions = (JSON.parse(added.stdout) as Listed).sessions;
    expect(sessions.map((s) => s.target)).toEqual([TEST_IQN]);
    expect(sessions[0]?.luns.map((l) => l.lun)).toEqual([0, 1]);
    // Discovery again adds nothing: the daemon already holds that session.
    const again = await iser(['ctl', '--socket', socket, '-A', '-d', '-p', `127.0.0.1:${plain.port}`, '--json']);
    expect((JSON.parse(again.stdout) as Listed).sessions).toEqual([]);
    const removed = await iser(['ctl', '--socket', socket, '-R', '-a']);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/^removed \d+ /u);
    const list = await iser(['ctl', '--socket', socket, '-L', '--json']);
    expect((JSON.parse(list.stdout) as Listed).sessions).toEqual([]);
  });

  it('-A -n <nick> -c <file> logs in with the block CHAP secret, never printed; -R -n removes it', async () => {
    const file = join(dir, 'iscsi.conf');
    await writeFile(
      file,
      `# test\ndisk {\n\tTargetAddress = 127.0.0.1:${chap.port}\n\tTargetName = ${TEST_IQN}\n` +
        `\tchapIName = ${USER}\n\tchapSecret = ${SECRET}\n}\nbad {\n\tTargetAddress = 127.0.0.1:${chap.port}\n` +
        `\tTargetName = ${TEST_IQN}\n\tchapIName = ${USER}\n\tchapSecret = not-the-secret-0123\n}\n`,
    );
    const added = await iser(['ctl', '--socket', socket, '-A', '-n', 'disk', '-c', file]);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).not.toContain(SECRET);
    const list = await iser(['ctl', '--socket', socket, '-L', '--json']);
    expect(list.stdout).not.toContain(SECRET);
    expect((JSON.parse(list.stdout) as Listed).sessions.map((s) => s.nickname)).toEqual(['disk']);

    const removed = await iser(['ctl', '--socket', socket, '-R', '-n', 'disk']);
    expect(removed.code).toBe(0);
    // The same target and portal again, with the wrong secret from the file's other block.
    const bad = await iser(['ctl', '--socket', socket, '-A', '-n', 'bad', '-c', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/0x0201/u);
    expect(bad.stderr).not.toContain('not-the-secret-0123');

    const missingNick = await iser(['ctl', '--socket', socket, '-A', '-n', 'nope', '-c', file]);
    expect(missingNick.code).toBe(1);
    expect(missingNick.stderr).toMatch(/no target named nope/u);
    const noFile = await iser(['ctl', '--socket', socket, '-A', '-n', 'disk', '-c', join(dir, 'absent.conf')]);
    expect(noFile.code).toBe(5);
  });

  it('a malformed iscsi.conf is a usage error naming the file', async () => {
    const file = join(dir, 'broken.conf');
    await writeFile(file, 'disk {\n\tNoSuchKey = 1\n}\n');
    const result = await iser(['ctl', '--socket', socket, '-A', '-n', 'disk', '-c', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('broken.conf');
  });
});
