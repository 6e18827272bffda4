/**
 * The control socket under hostile input (each gets a typed error reply and the daemon keeps serving), and the real
 * executable: `iser daemon` as a child holds a session, and SIGTERM logs it out, removes its sockets and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IscsiDaemon } from '../../cli/daemon/daemon.js';
import { MAX_REQUEST_BYTES } from '../../cli/daemon/protocol.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { signalChild } from '../support/peers/run-tool.js';
import { iser, startTarget, TEST_IQN, type TestTarget } from '../cli/support.js';

/** Sends raw bytes and resolves with the reply's first line (bounded). */
function exchange(socket: string, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = createConnection(socket);
    let text = '';
    const timer = setTimeout(() => {
      client.destroy();
      reject(new Error(`no reply within 10 s (got ${JSON.stringify(text)})`));
    }, 10_000);
    client.on('connect', () => client.write(bytes));
    client.on('data', (chunk: Buffer) => (text += chunk.toString()));
    client.on('error', () => undefined);
    client.on('close', () => {
      clearTimeout(timer);
      resolve(text.split('\n')[0] ?? '');
    });
  });
}

describe('the control socket refuses hostile requests with typed errors', () => {
  let dir: string;
  let socket: string;
  let daemon: IscsiDaemon;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iser-ctl-'));
    socket = join(dir, 'iserd.sock');
    daemon = await IscsiDaemon.start({ socketPath: socket, transports: { tcp: () => new TcpConnector() } });
  });
  afterAll(async () => {
    await daemon.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['not JSON', '{nope\n', /request is not JSON/u],
    ['an unknown op', '{"op":"format-disk"}\n', /bad request/u],
    ['an extra key', '{"op":"list","rm":"-rf"}\n', /bad request/u],
    ['a wrong type', '{"op":"add","target":1,"portal":"x"}\n', /target/u],
    ['a wrong transport', '{"op":"add","target":"iqn.x","portal":"127.0.0.1","transport":"udp"}\n', /transport/u],
    ['a bad portal', '{"op":"add","target":"iqn.x","portal":"127.0.0.1:99999"}\n', /expected host\[:port\]/u],
    ['a JSON array', '[1,2]\n', /bad request/u],
  ])('%s', async (_what, line, message) => {
    const reply = JSON.parse(await exchange(socket, line)) as { ok: boolean; code: string; message: string };
    expect(reply.ok).toBe(false);
    expect(reply.code).toBe('ERR_DAEMON_BAD_REQUEST');
    expect(reply.message).toMatch(message);
  });

  it('an over-long line', async () => {
    const reply = JSON.parse(await exchange(socket, Buffer.alloc(MAX_REQUEST_BYTES + 10, 0x41))) as {
      code: string;
    };
    expect(reply.code).toBe('ERR_DAEMON_BAD_REQUEST');
  });

  it('iser daemon --iser-softroce refuses a non-loopback address', async () => {
    const result = await iser(['daemon', '--socket', join(dir, 'other.sock'), '--iser-softroce', '10.0.0.1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/only a 127\.x\.y\.z loopback address/u);
  });

  it('still serves afterwards', async () => {
    const reply = JSON.parse(await exchange(socket, '{"op":"list"}\n')) as { ok: boolean; sessions: unknown[] };
    expect(reply).toEqual({ ok: true, sessions: [] });
  });
});

describe('the iser daemon executable', () => {
  const children: ChildProcess[] = [];
  let served: TestTarget;
  let dir: string;

  beforeAll(async () => {
    served = await startTarget({ digests: false });
    dir = await mkdtemp(join(tmpdir(), 'iser-daemon-proc-'));
  });
  afterEach(() => {
    for (const child of children.splice(0)) signalChild(child.pid, 'SIGKILL');
  });
  afterAll(async () => {
    await served.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('on SIGTERM logs out, removes its sockets and exits 0', async () => {
    const socket = join(dir, 'd', 'iserd.sock');
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'daemon', '--socket', socket], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => {
        reject(new Error(`no "listening" line within 30 s: ${text}`));
      }, 30_000);
      child.stderr.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const add = await iser(['ctl', '--socket', socket, '-A', '-t', TEST_IQN, '-p', `127.0.0.1:${served.port}`]);
    expect(add.code).toBe(0);
    const nbd = /socket=(\S+)/u.exec(add.stdout)?.[1] ?? '';
    expect(existsSync(nbd)).toBe(true);
    expect(served.target.stats.sessions).toBe(1);

    signalChild(child.pid, 'SIGTERM');
    const bound = new Promise<'timeout'>((resolve) =>
      setTimeout(() => {
        resolve('timeout');
      }, 30_000),
    );
    expect(await Promise.race([exited, bound])).toBe(0);
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(nbd)).toBe(false);
    // The target drops the session once the connection has closed behind the logout: give it a bounded moment.
    for (let i = 0; i < 100 && served.target.stats.sessions !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(served.target.stats.sessions).toBe(0);
    expect(served.target.stats.sessionsEnded).toBe(1);
  });
});
