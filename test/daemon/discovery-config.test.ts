/**
 * `iser ctl -A -d -p <portal>` (discovery adds every target found) and `iser ctl -A -n <nick> -c iscsi.conf`
 * (a target block of FreeBSD's iscsi.conf(5), CHAP included), against our target and an in-process daemon.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../backends/memory.js';
import { IscsiDaemon } from '../../cli/daemon/daemon.js';
import { IscsiTarget } from '../../server/iscsi-target.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { iser, startTarget, TEST_IQN, type TestTarget } from '../cli/support.js';

const USER = 'conf-user';
const SECRET = 'conf-secret-0123456789';
const TARGET_SECRET = 'target-secret-9876543210';
const MUTUAL_IQN = 'iqn.2024-01.org.iser-test:mutual';

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

  it('mutual CHAP from tgtChapName/tgtChapSecret: the target must prove itself; a wrong one is refused', async () => {
    const mutualTarget = await IscsiTarget.listen(
      {
        targets: [
          {
            name: MUTUAL_IQN,
            luns: [{ lun: 0, backend: new MemoryBackend(2048) }],
            chap: { accounts: [{ user: USER, secret: SECRET }], mutual: { user: 'the-target', secret: TARGET_SECRET } },
          },
        ],
        portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 0 }] }],
      },
      { logoutDeadlineSeconds: 1 },
    );
    try {
      const port = mutualTarget.portals[0]?.address.port ?? 0;
      const block = (nick: string, targetSecret: string): string =>
        `${nick} {\n\tTargetAddress = 127.0.0.1:${port}\n\tTargetName = ${MUTUAL_IQN}\n\tchapIName = ${USER}\n` +
        `\tchapSecret = ${SECRET}\n\ttgtChapName = the-target\n\ttgtChapSecret = ${targetSecret}\n}\n`;
      const file = join(dir, 'mutual.conf');
      await writeFile(file, block('good', TARGET_SECRET) + block('liar', 'an-imposter-secret-99'));
      const liar = await iser(['ctl', '--socket', socket, '-A', '-n', 'liar', '-c', file]);
      expect(liar.code).toBe(2);
      expect(liar.stderr).not.toContain('an-imposter-secret-99');
      expect(liar.stderr).not.toContain(TARGET_SECRET);
      const good = await iser(['ctl', '--socket', socket, '-A', '-n', 'good', '-c', file]);
      expect(good.stderr).toBe('');
      expect(good.code).toBe(0);
      expect((await iser(['ctl', '--socket', socket, '-R', '-n', 'good'])).code).toBe(0);
    } finally {
      await mutualTarget.close();
    }
  });

  it('a malformed iscsi.conf is a usage error naming the file', async () => {
    const file = join(dir, 'broken.conf');
    await writeFile(file, 'disk {\n\tNoSuchKey = 1\n}\n');
    const result = await iser(['ctl', '--socket', socket, '-A', '-n', 'disk', '-c', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('broken.conf');
  });
});
