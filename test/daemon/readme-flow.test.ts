/**
 * Must-show: README's "LUNs as block devices" section, step by step, as a new user runs it: `iser target`,
 * `iser daemon`, `iser ctl -A`, `iser ctl -L` (the NBD address read from its text), `qemu-img convert -n -O raw
 * disk.img <address>`, `qemu-img compare` and `nbdcopy` back (identical), `iser ctl -R` (the export disappears),
 * SIGINT to the daemon (exit 0, sockets removed). Every `iser` is a child process. Over TCP, and over iSER with
 * the target's portal and the daemon on soft-RoCE (UDP on loopback), the target from a target.yaml (skipped with
 * the reason while `iser target -c` does not exist). Only the control socket is not the default one (tests must not
 * touch a user's daemon), and the soft-RoCE devices use uncommon 127/8 addresses so parallel tests keep off them.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/peers/free-port.js';
import { signalChild } from '../support/peers/run-tool.js';
import { missing } from '../support/tools.js';
import { runIserProcess, startIser, stopAll, waitExit } from './processes.js';

const run = promisify(execFile);
const IQN = 'iqn.2024-01.org.example:disk';
const MIB = 1024 * 1024;

const tools = missing('qemu-img', 'apt-get install qemu-utils') ?? missing('nbdcopy', 'apt-get install libnbd-bin');

describe.skipIf(tools)("README's daemon/ctl flow, as written", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iser-readme-'));
  });
  afterAll(async () => {
    stopAll();
    await rm(dir, { recursive: true, force: true });
  });

  /** The flow once the target serves `portal`; the daemon gets `daemonFlags`. */
  async function flow(name: string, portal: string, transport: 'tcp' | 'iser', daemonFlags: string[]): Promise<void> {
    const runDir = join(dir, `${name}-run`);
    const socket = join(runDir, 'iserd.sock');
    const daemon = await startIser(['daemon', '--socket', socket, ...daemonFlags], { readyOn: /listening on/u });
    const ctl = (...args: string[]): ReturnType<typeof runIserProcess> =>
      runIserProcess(['ctl', '--socket', socket, ...args]);

    const added = await ctl('-A', '-t', IQN, '-p', portal, '-T', transport);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);

    const listed = await ctl('-L');
    expect(listed.code).toBe(0);
    const line = new RegExp(
      `^1\\s+${IQN}\\s+${portal.replaceAll('.', '\\.')}\\s+${transport}\\s+full-feature\\s+0$`,
      'mu',
    );
    expect(listed.stdout).toMatch(line);
    const uri = /^\s+lun 0 \S+\s+(nbd\+unix:\/\/\/lun0\?socket=\S+)$/mu.exec(listed.stdout)?.[1] ?? '';
    expect(uri).toBe(`nbd+unix:///lun0?socket=${join(runDir, 'nbd-1.sock')}`);

    const disk = join(dir, `${name}-disk.img`);
    const back = join(dir, `${name}-back.img`);
    const data = randomBytes(8 * MIB);
    await writeFile(disk, data);
    await run('qemu-img', ['convert', '-n', '-O', 'raw', disk, uri], { timeout: 120_000 });
    const compared = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', disk, uri], { timeout: 120_000 });
    expect(compared.stdout).toMatch(/Images are identical/u);
    await run('nbdcopy', [uri, back], { timeout: 120_000 });
    expect((await readFile(back)).subarray(0, data.length).equals(data)).toBe(true);

    const removed = await ctl('-R', '-t', IQN);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(new RegExp(`^removed 1 ${IQN}$`, 'mu'));
    expect(existsSync(join(runDir, 'nbd-1.sock'))).toBe(false);
    const gone = await run('nbdinfo', ['--list', uri], { timeout: 30_000 }).then(
      () => 'answered',
      () => 'refused',
    );
    expect(gone).toBe('refused');
    const empty = await ctl('-L');
    expect(empty.stdout.trim().split('\n')).toHaveLength(1); // the header only

    signalChild(daemon.pid, 'SIGINT');
    expect(await waitExit(daemon, 20_000)).toBe(0);
    expect(await readdir(runDir)).toEqual([]);
  }

  it('over TCP: iser target --portal ... --lun 0=mem:...', async () => {
    const port = await freePort();
    const target = await startIser(['target', '--portal', `127.0.0.1:${port}`, '--iqn', IQN, '--lun', '0=mem:64M'], {
      readyOn: /serving \S+ on 127\.0\.0\.1/u,
    });
    try {
      await flow('tcp', `127.0.0.1:${port}`, 'tcp', []);
    } finally {
      signalChild(target.pid, 'SIGINT');
      await waitExit(target, 20_000);
    }
  }, 240_000);

  it('over iSER on soft-RoCE: iser target -c target.yaml (an iser portal), iser daemon --iser-softroce', async (context) => {
    const help = await runIserProcess(['target', '--help'], 30_000);
    if (!/-c, --config/u.test(help.stdout + help.stderr)) {
      console.warn('SKIP: iser target has no -c/--config yet, so no iSER target from the command line');
      context.skip();
      return;
    }
    const net = `127.${randomInt(64, 250)}.${randomInt(1, 250)}`;
    const port = await freePort();
    const yaml = join(dir, 'target.yaml');
    await writeFile(
      yaml,
      `portals:\n  - transport: iser\n    host: ${net}.2\n    port: ${port}\n    provider: softroce-udp\n` +
        `targets:\n  - iqn: ${IQN}\n    luns:\n      0: mem:16M\n`,
    );
    const target = await startIser(['target', '-c', yaml], { readyOn: /serving .* \(iser\)/u });
    try {
      await flow('iser', `${net}.2:${port}`, 'iser', ['--iser-softroce', `${net}.1`]);
    } finally {
      signalChild(target.pid, 'SIGINT');
      await waitExit(target, 20_000);
    }
  }, 300_000);
});
