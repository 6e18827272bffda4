/** Bad input and failed logins: one clear line, the documented exit code, never a secret or a stack. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/peers/free-port.js';
import { iser, startTarget, TEST_IQN, type TestTarget } from './support.js';

const USER = 'alice';
const SECRET = 'correct-horse-battery';
const WRONG = 'wrong-secret-value-42';

let served: TestTarget;
let dir: string;

beforeAll(async () => {
  served = await startTarget({ chap: { user: USER, secret: SECRET }, digests: false });
  dir = await mkdtemp(join(tmpdir(), 'iser-cli-fail-'));
});

afterAll(async () => {
  await served.close();
  await rm(dir, { recursive: true, force: true });
});

function expectOneLine(stderr: string): void {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('usage errors exit 1', () => {
  it('names an unknown flag', async () => {
    const run = await iser(['readcap', '--frobnicate', served.url(0)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("unknown option '--frobnicate'");
  });

  it('names an unknown command and prints help when there is none', async () => {
    expect((await iser(['frob'])).code).toBe(1);
    const empty = await iser([]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('Usage: iser');
  });

  it('says why a URL is malformed', async () => {
    const run = await iser(['inq', 'iscsi://127.0.0.1:3260/not-a-lun']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^iser: invalid iSCSI URL: /);
    expectOneLine(run.stderr);
  });

  it('rejects bad flag values', async () => {
    const run = await iser(['perf', '--bs', 'lots', served.url(0)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("option '--bs <bytes>' argument 'lots' is invalid");
  });

  it('documents the exit codes in --help (exit 0)', async () => {
    const run = await iser(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Exit codes:\n\s+0 +success\n\s+1 +usage/);
    for (const command of ['ls', 'inq', 'readcap', 'dd', 'perf', 'target']) {
      expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
  });
});

describe('connection and login failures exit 2', () => {
  it('explains an unreachable portal', async () => {
    const port = await freePort();
    const run = await iser(['readcap', `iscsi://127.0.0.1:${port}/${TEST_IQN}/0`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^iser: connect to 127\\.0\\.0\\.1:${port} failed: .*ECONNREFUSED`));
    expectOneLine(run.stderr);
  });

  it('names login status 0x0201 for a wrong CHAP secret in the URL, without printing it', async () => {
    const run = await iser(['readcap', served.url(0, `${USER}%${WRONG}`)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('0x0201');
    expect(run.stderr).toContain('AuthenticationFailure');
    expect(run.stderr + run.stdout).not.toContain(WRONG);
    expectOneLine(run.stderr);
  });

  it('names login status 0x0201 for a wrong secret in --chap-secret-file', async () => {
    const file = join(dir, 'wrong');
    await writeFile(file, `${WRONG}\n`);
    const run = await iser(['ls', '--chap-user', USER, '--chap-secret-file', file, served.portalUrl]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('0x0201');
    expect(run.stderr + run.stdout).not.toContain(WRONG);
  });

  it('logs in with the right secret from a file', async () => {
    const file = join(dir, 'right');
    await writeFile(file, `${SECRET}\n`);
    const run = await iser(['readcap', '--size', '--chap-user', USER, '--chap-secret-file', file, served.url(1)]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${2048 * 512}\n`);
  });

  it('says so when the target refuses a digest the user insisted on', async () => {
    const url = served.url(1, `${USER}%${SECRET}`);
    const run = await iser(['readcap', '--size', '--header-digest', 'crc32c', url]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('note: the target refused HeaderDigest=CRC32C; running with HeaderDigest=None\n');
    expect((await iser(['readcap', '--size', '--header-digest', 'crc32c-none', url])).stderr).toBe('');
  });

  it('refuses CHAP given twice (exit 1)', async () => {
    const file = join(dir, 'right2');
    await writeFile(file, SECRET);
    const run = await iser([
      'readcap',
      '--chap-user',
      USER,
      '--chap-secret-file',
      file,
      served.url(0, `${USER}%${SECRET}`),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain(SECRET);
  });

  it('explains that iser:// needs an RDMA device', async () => {
    const run = await iser(['inq', `iser://127.0.0.1:${served.port}/${TEST_IQN}/0`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^iser: iser:\/\/ needs an RDMA device/);
  });
});
