/**
 * Must-show: bad input gets a clear error and changes nothing. Each case runs the real `iser` executable as a
 * child process against a daemon that is itself a child process holding one session, and checks the exit code,
 * the one-line message on stderr, and that afterwards `ctl -L` is identical and no NBD socket appeared or went.
 * Cases: unknown flags (ctl, daemon), an unreachable portal, a wrong CHAP secret, a malformed iscsi.conf (with its
 * line), an unknown session id for -M, a second daemon on the same socket; a malformed target.yaml when
 * `iser target -c` exists (the parser's own line:column errors are tested in test/config/target-config.test.ts).
 */
import { readdir, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iser, startTarget, TEST_IQN, type TestTarget } from '../cli/support.js';
import { signalChild } from '../support/peers/run-tool.js';
import { runIserProcess, startIser, stopAll, waitExit, type IserProcess } from './processes.js';

const USER = 'bad-input-user';
const SECRET = 'bad-input-secret-0123456789';

describe('bad input to the iser executable: a clear error, nothing changed', () => {
  let plain: TestTarget;
  let chap: TestTarget;
  let dir: string;
  let runDir: string;
  let socket: string;
  let daemon: IserProcess;
  let listing: string;
  let sockets: string[];

  /** What must not change: the session list (as JSON) and the sockets in the daemon's directory. */
  const state = async (): Promise<{ listing: string; sockets: string[] }> => {
    const listed = await iser(['ctl', '--socket', socket, '-L', '--json']);
    expect(listed.code).toBe(0);
    return { listing: listed.stdout, sockets: (await readdir(runDir)).sort() };
  };
  const expectUnchanged = async (): Promise<void> => {
    expect(await state()).toEqual({ listing, sockets });
  };

  beforeAll(async () => {
    plain = await startTarget({ digests: false });
    chap = await startTarget({ chap: { user: USER, secret: SECRET }, digests: false });
    dir = await mkdtemp(join(tmpdir(), 'iser-bad-input-'));
    runDir = join(dir, 'run');
    socket = join(runDir, 'iserd.sock');
    daemon = await startIser(['daemon', '--socket', socket], { readyOn: /listening on/u });
    const added = await iser(['ctl', '--socket', socket, '-A', '-t', TEST_IQN, '-p', `127.0.0.1:${plain.port}`]);
    expect(added.code).toBe(0);
    ({ listing, sockets } = await state());
    expect(sockets).toEqual(['iserd.sock', 'nbd-1.sock']);
  }, 60_000);
  afterAll(async () => {
    signalChild(daemon.pid, 'SIGTERM');
    await waitExit(daemon, 20_000);
    stopAll();
    await plain.close();
    await chap.close();
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('ctl with an unknown flag: exit 1, "unknown option"', async () => {
    const result = await runIserProcess(['ctl', '--socket', socket, '-A', '-Z', '-t', TEST_IQN, '-p', '127.0.0.1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/unknown option '-Z'/u);
    await expectUnchanged();
  });

  it('daemon with an unknown flag: exit 1, "unknown option", the running daemon untouched', async () => {
    const result = await runIserProcess(['daemon', '--socket', socket, '--frobnicate']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/unknown option '--frobnicate'/u);
    await expectUnchanged();
  });

  it('an unreachable portal: exit 2, the refusal named', async () => {
    const result = await runIserProcess(['ctl', '--socket', socket, '-A', '-t', TEST_IQN, '-p', '127.0.0.1:1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^iser ctl: .*(ECONNREFUSED|refused)/mu);
    await expectUnchanged();
  });

  it('a wrong CHAP secret: exit 2, login status 0x0201, the secret never printed', async () => {
    const wrong = 'wrong-secret-0123456789';
    const portal = `127.0.0.1:${chap.port}`;
    const result = await runIserProcess([
      'ctl',
      '--socket',
      socket,
      '-A',
      '-t',
      TEST_IQN,
      '-p',
      portal,
      '-u',
      USER,
      '-s',
      wrong,
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/0x0201/u);
    expect(result.stderr + result.stdout).not.toContain(wrong);
    expect(daemon.stderr()).not.toContain(wrong);
    await expectUnchanged();
  });

  it('a malformed iscsi.conf: exit 1, the file and the line of the mistake', async () => {
    const file = join(dir, 'broken.conf');
    await writeFile(file, `# a comment\ndisk {\n\tTargetAddress = 127.0.0.1:${plain.port}\n\tNoSuchKey = 1\n}\n`);
    const result = await runIserProcess(['ctl', '--socket', socket, '-A', '-n', 'disk', '-c', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^iser ctl: .*broken\.conf:4:\d+: .*NoSuchKey/mu);
    await expectUnchanged();
  });

  it('-M with an unknown session id: exit 1, "no session with id"', async () => {
    const result = await runIserProcess(['ctl', '--socket', socket, '-M', '-i', '7', '-p', '127.0.0.1:1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no session with id 7/u);
    await expectUnchanged();
  });

  it('a second daemon on the same socket: exit 2, "already running", the first one keeps serving', async () => {
    const result = await runIserProcess(['daemon', '--socket', socket]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/already running on .*iserd\.sock/u);
    expect(daemon.child.exitCode).toBeNull();
    await expectUnchanged();
  });

  it('a malformed target.yaml: exit 1 with file:line:column (once `iser target -c` exists)', async (context) => {
    const help = await runIserProcess(['target', '--help'], 30_000);
    if (!/-c, --config/u.test(help.stdout + help.stderr)) {
      console.warn('SKIP: iser target has no -c/--config yet (target.yaml parser errors: test/config)');
      context.skip();
      return;
    }
    const file = join(dir, 'target.yaml');
    await writeFile(file, 'targets:\n  - name: iqn.2024-01.org.example:disk\n    luns: [{ lun: x }]\n');
    const result = await runIserProcess(['target', '-c', file], 30_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/target\.yaml:3:\d+: /u);
  });
});
