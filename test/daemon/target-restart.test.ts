/**
 * Must-show: the daemon survives a target restart mid-copy. `iser target` (file LUN, so the data outlives the
 * process) and `iser daemon` run as child processes; `iser ctl -A` logs in; qemu-img copies 48 MiB of random data
 * onto the LUN through NBD; the target is SIGKILLed mid-copy and started again on the same port and file after a
 * pause. The copy must end with exit 0 and the file must hold the data; `ctl -L` must show the session logged in
 * again, with its reconnect count and the same NBD address. Then the target restarts once more while the session
 * is idle, and qemu-img compare reads the LUN back through NBD: identical.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../cli/daemon/protocol.js';
import { iser } from '../cli/support.js';
import { freePort } from '../support/peers/free-port.js';
import { signalChild } from '../support/peers/run-tool.js';
import { missing } from '../support/tools.js';
import { startIser, stopAll, waitExit, type IserProcess } from './processes.js';

const run = promisify(execFile);
const IQN = 'iqn.2024-01.org.iser-test:restart';
const MIB = 1024 * 1024;
const SIZE = 48 * MIB;
/** Progress (percent) at which the target is killed. */
const KILL_AT = 15;
/** How long the target stays dead. */
const OUTAGE_MS = 2000;

describe.skipIf(missing('qemu-img', 'apt-get install qemu-utils'))('the daemon survives a target restart', () => {
  let dir: string;
  let socket: string;
  let lunFile: string;
  let port: number;
  let daemon: IserProcess;

  const startTarget = (): Promise<IserProcess> =>
    startIser(['target', '--portal', `127.0.0.1:${port}`, '--iqn', IQN, '--lun', `0=file:${lunFile}:48M`], {
      readyOn: /serving \S+ on 127\.0\.0\.1/u,
    });
  const list = async (): Promise<SessionInfo[]> => {
    const listed = await iser(['ctl', '--socket', socket, '-L', '--json']);
    expect(listed.code).toBe(0);
    return (JSON.parse(listed.stdout) as { sessions: SessionInfo[] }).sessions;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iser-restart-'));
    socket = join(dir, 'run', 'iserd.sock');
    lunFile = join(dir, 'lun0.img');
    port = await freePort();
    daemon = await startIser(['daemon', '--socket', socket], { readyOn: /listening on/u });
  }, 60_000);
  afterAll(async () => {
    signalChild(daemon.pid, 'SIGTERM');
    await waitExit(daemon, 20_000);
    stopAll();
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('a copy through NBD completes with identical data across a SIGKILL and restart of the target', async () => {
    const began = performance.now();
    let target = await startTarget();
    const added = await iser(['ctl', '--socket', socket, '-A', '-t', IQN, '-p', `127.0.0.1:${port}`, '-T', 'tcp']);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const [before] = await list();
    const uri = before?.luns[0]?.nbd ?? '';
    expect(uri).toMatch(/^nbd\+unix:\/\/\/lun0\?socket=/u);
    expect(before?.reconnects).toBe(0);

    const source = join(dir, 'source.img');
    const data = randomBytes(SIZE);
    await writeFile(source, data);

    // qemu-img prints "(NN.NN/100%)" progress on stdout: the kill waits for KILL_AT percent.
    const copy = spawn('qemu-img', ['convert', '-p', '-n', '-f', 'raw', '-O', 'raw', source, uri], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let copyErr = '';
    copy.stderr.on('data', (chunk: Buffer) => (copyErr += chunk.toString()));
    const copied = new Promise<number | null>((resolve) => copy.once('exit', resolve));
    const reached = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`qemu-img made no ${KILL_AT}% progress within 60 s: ${copyErr}`));
      }, 60_000);
      copy.stdout.on('data', (chunk: Buffer) => {
        const percents = [...chunk.toString().matchAll(/\((\d+(?:\.\d+)?)\/100%\)/gu)].map((m) => Number(m[1]));
        const last = percents.at(-1) ?? 0;
        if (last >= KILL_AT) {
          clearTimeout(timer);
          resolve(last);
        }
      });
      void copied.then((code) => {
        clearTimeout(timer);
        reject(new Error(`qemu-img exited ${String(code)} before ${KILL_AT}%: ${copyErr}`));
      });
    });

    signalChild(target.pid, 'SIGKILL');
    expect(await waitExit(target, 10_000)).toBeNull();
    // The kill really was mid-copy: qemu-img is still waiting for the LUN.
    expect(copy.exitCode).toBeNull();
    const killedAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    expect(copy.exitCode).toBeNull();
    target = await startTarget();

    const bound = setTimeout(() => {
      signalChild(copy.pid, 'SIGKILL');
    }, 60_000);
    const copyCode = await copied;
    clearTimeout(bound);
    const recoveredMs = performance.now() - killedAt;
    expect(copyErr).toBe('');
    expect(copyCode).toBe(0);

    expect((await readFile(lunFile)).equals(data)).toBe(true);
    const [after] = await list();
    expect(after?.id).toBe(before?.id);
    expect(after?.state).toBe('full-feature');
    expect(after?.reconnects).toBeGreaterThanOrEqual(1);
    expect(after?.luns).toEqual(before?.luns);

    // Again while idle: nothing in flight absorbs the new nexus's UNIT ATTENTION, so the first NBD read after the
    // reconnection meets it (it used to reach the client as EIO).
    signalChild(target.pid, 'SIGKILL');
    expect(await waitExit(target, 10_000)).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    target = await startTarget();
    const reconnects = after?.reconnects ?? 0;
    for (let i = 0; i < 200; i++) {
      const [now] = await list();
      if (now?.state === 'full-feature' && now.reconnects > reconnects) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const [idle] = await list();
    expect(idle?.state).toBe('full-feature');
    expect(idle?.reconnects).toBe(reconnects + 1);
    const compared = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', source, uri], { timeout: 60_000 });
    expect(compared.stdout).toMatch(/Images are identical/u);
    const text = await iser(['ctl', '--socket', socket, '-L']);
    expect(text.stdout).toMatch(new RegExp(`^${before?.id ?? 0}\\s+${IQN}.*full-feature\\s+${reconnects + 1}$`, 'mu'));
    expect(daemon.stderr()).toMatch(/session \d+: connection lost/u);
    expect(daemon.stderr()).toMatch(/session \d+: reconnected/u);

    const removed = await iser(['ctl', '--socket', socket, '-R', '-t', IQN]);
    expect(removed.code).toBe(0);
    signalChild(target.pid, 'SIGTERM');
    expect(await waitExit(target, 20_000)).toBe(0);
    console.info(
      `target restart: ${SIZE / MIB} MiB copied, killed at ${reached}%, outage ${OUTAGE_MS} ms, ` +
        `copy done ${Math.round(recoveredMs)} ms after the kill, reconnects ${idle?.reconnects ?? 0}, ` +
        `test ${Math.round(performance.now() - began)} ms`,
    );
  }, 150_000);
});
