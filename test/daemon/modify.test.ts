/**
 * `iser ctl -M -i <id>`: modify a session. Two (three, with CHAP) of our targets serve the same memory LUN, as a
 * target that moved between portals would; an NBD client stays connected throughout. A new portal logs the
 * session in again under the same id and NBD address; a request waiting on a session whose portal died completes
 * on the new one; every refusal (unknown id, unreachable portal, wrong secret, a taken target/portal, nothing to
 * change) names why and changes nothing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../backends/memory.js';
import { IscsiDaemon } from '../../cli/daemon/daemon.js';
import type { SessionInfo } from '../../cli/daemon/protocol.js';
import { Command } from '../../nbd/constants.js';
import type { ChapAccount } from '../../protocol/target/config.js';
import { IscsiTarget } from '../../server/iscsi-target.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { iser, TEST_IQN } from '../cli/support.js';
import { ScriptedClient } from '../nbd/scripted-client.js';
import { TcpProxy } from '../support/session-suite/tcp-proxy.js';

const BLOCKS = 2048;
const USER = 'modify-user';
const SECRET = 'modify-secret-0123456789';
const OTHER_IQN = 'iqn.2024-01.org.iser-test:other';

async function serve(backend: MemoryBackend, chap?: ChapAccount, name = TEST_IQN): Promise<IscsiTarget> {
  return IscsiTarget.listen(
    {
      targets: [{ name, luns: [{ lun: 0, backend }], ...(chap === undefined ? {} : { chap: { accounts: [chap] } }) }],
      portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 0 }] }],
    },
    { logoutDeadlineSeconds: 1 },
  );
}

const portOf = (target: IscsiTarget): number => target.portals[0]?.address.port ?? 0;

/** Polls `ok` (bounded: 200 tries, 50 ms apart). */
async function until(what: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await ok()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what}: not within 10 s`);
}

describe('iser ctl -M', () => {
  const backend = new MemoryBackend(BLOCKS);
  let first: IscsiTarget;
  let second: IscsiTarget;
  let chap: IscsiTarget;
  let other: IscsiTarget;
  let proxy: TcpProxy;
  let dir: string;
  let socket: string;
  let daemon: IscsiDaemon;
  let handle = 1n;

  const ctl = (...args: string[]): ReturnType<typeof iser> => iser(['ctl', '--socket', socket, ...args]);
  const list = async (): Promise<SessionInfo[]> => {
    const listed = await ctl('-L', '--json');
    expect(listed.code).toBe(0);
    return (JSON.parse(listed.stdout) as { sessions: SessionInfo[] }).sessions;
  };
  const nbdPathOf = (session: SessionInfo | undefined): string =>
    new URL(session?.luns[0]?.nbd ?? 'nbd+unix:///x').searchParams.get('socket') ?? '';
  async function nbdWrite(client: ScriptedClient, block: number, fill: number): Promise<void> {
    const data = Buffer.alloc(4096, fill);
    const reply = await client.call(
      { flags: 0, type: Command.WRITE, handle: handle++, offset: BigInt(block * 512), length: data.length },
      data,
    );
    expect(reply.error).toBe(0);
  }
  async function nbdRead(client: ScriptedClient, block: number): Promise<Buffer> {
    const reply = await client.call({
      flags: 0,
      type: Command.READ,
      handle: handle++,
      offset: BigInt(block * 512),
      length: 4096,
    });
    expect(reply.error).toBe(0);
    return reply.data;
  }

  beforeAll(async () => {
    first = await serve(backend);
    second = await serve(backend);
    chap = await serve(backend, { user: USER, secret: SECRET });
    other = await serve(new MemoryBackend(BLOCKS), undefined, OTHER_IQN);
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: portOf(first) });
    dir = await mkdtemp(join(tmpdir(), 'iser-modify-'));
    socket = join(dir, 'iserd.sock');
    daemon = await IscsiDaemon.start({
      socketPath: socket,
      transports: { tcp: () => new TcpConnector({ connectTimeoutMs: 5000 }), iserUnavailable: 'test: no provider' },
    });
  });
  afterAll(async () => {
    await daemon.close();
    await proxy.close();
    for (const target of [first, second, chap, other]) await target.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('moves a session to a new portal under the same id and NBD address; a waiting NBD request completes there', async () => {
    const viaProxy = `127.0.0.1:${proxy.address.port}`;
    const added = await ctl('-A', '-t', TEST_IQN, '-p', viaProxy, '-n', 'disk');
    expect(added.code).toBe(0);
    const [before] = await list();
    expect(before?.id).toBe(1);
    const nbdPath = nbdPathOf(before);

    const client = await ScriptedClient.connect(nbdPath);
    await client.go('lun0');
    await nbdWrite(client, 8, 0xa1);

    // The portal dies (connections reset, new ones refused): the session recovers in vain, and a read waits.
    await proxy.close();
    await until('recovering', async () => (await list())[0]?.state === 'recovering');
    const waiting = nbdRead(client, 8);

    const moved = await ctl('-M', '-i', '1', '-p', `127.0.0.1:${portOf(second)}`);
    expect(moved.stderr).toBe('');
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/^modified 1 .* full-feature$/mu);
    expect((await waiting).equals(Buffer.alloc(4096, 0xa1))).toBe(true);

    const [after] = await list();
    expect(after).toMatchObject({ id: 1, nickname: 'disk', portal: `127.0.0.1:${portOf(second)}` });
    expect(after?.state).toBe('full-feature');
    expect(after?.luns).toEqual(before?.luns);
    // The same NBD connection goes on working, now through the second portal.
    await nbdWrite(client, 16, 0xb2);
    expect((await nbdRead(client, 16)).equals(Buffer.alloc(4096, 0xb2))).toBe(true);
    expect(second.stats.sessions).toBe(1);
    client.socket.destroy();
  });

  it('changes CHAP credentials: a wrong secret is refused and changes nothing; the right one logs in again', async () => {
    const portal = `127.0.0.1:${portOf(chap)}`;
    const before = await list();
    const wrong = 'wrong-secret-0123456789';
    const refused = await ctl('-M', '-i', '1', '-p', portal, '-u', USER, '-s', wrong);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/0x0201/u);
    expect(refused.stderr).not.toContain(wrong);
    expect(await list()).toEqual(before);

    const client = await ScriptedClient.connect(nbdPathOf(before[0]));
    await client.go('lun0');
    const ok = await ctl('-M', '-i', '1', '-p', portal, '-u', USER, '-s', SECRET);
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain(SECRET);
    expect((await list())[0]?.portal).toBe(portal);
    expect((await nbdRead(client, 16)).equals(Buffer.alloc(4096, 0xb2))).toBe(true);
    // The old session logged out of the second target.
    await until('old session gone', () => second.stats.sessions === 0);
    client.socket.destroy();
  });

  it('a nickname alone renames without logging in again', async () => {
    const tsihBefore = (await ctl('-L', '-v')).stdout.match(/TSIH=(\d+)/u)?.[1];
    const renamed = await ctl('-M', '-i', '1', '-n', 'renamed');
    expect(renamed.code).toBe(0);
    expect((await list())[0]?.nickname).toBe('renamed');
    expect((await ctl('-L', '-v')).stdout.match(/TSIH=(\d+)/u)?.[1]).toBe(tsihBefore);
    expect(chap.stats.sessions).toBe(1);
  });

  it.each([
    [['-M', '-i', '99', '-n', 'x'], 1, /no session with id 99/u],
    [['-M', '-i', '1', '-p', '127.0.0.1:1'], 2, /ECONNREFUSED|refused/u],
    [['-M', '-i', '1', '-t', 'iqn.2024-01.org.nowhere:x'], 2, /0x0203 NotFound/u],
    [['-M', '-i', '1'], 1, /needs something to change/u],
    [['-M', '-p', '127.0.0.1:1'], 1, /-M needs -i <session-id>/u],
    [['-M', '-i', 'one', '-n', 'x'], 1, /-i one: a session id is a positive integer/u],
    [['-M', '-i', '0', '-n', 'x'], 1, /a session id is a positive integer/u],
    [['-M', '-i', '1', '-u', USER], 1, /-u and -s go together/u],
    [['-M', '-i', '1', '-T', 'iser'], 2, /iSER unavailable: test: no provider/u],
    [['-M', '-a', '-i', '1', '-n', 'x'], 1, /not -a/u],
    [['-L', '-i', '1'], 1, /-i <id> goes with -M or -R/u],
  ])('ctl %j exits %i, says why and changes nothing', async (args, code, message) => {
    const before = await list();
    const result = await ctl(...args);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(await list()).toEqual(before);
    expect(chap.stats.sessions).toBe(1);
  });

  it('a second -M while the first is still logging in is refused (busy); the first fails and changes nothing', async () => {
    // A portal that accepts and never answers: the first -M waits in its login until the test closes the socket.
    const held = new Set<Socket>();
    const silent = createServer((socket) => {
      held.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    try {
      const before = await list();
      const first = ctl('-M', '-i', '1', '-p', `127.0.0.1:${silentPort}`);
      await until('the login reaches the silent portal', () => held.size > 0);
      const busy = await ctl('-M', '-i', '1', '-p', `127.0.0.1:${portOf(second)}`);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/session 1 is being modified already/u);
      for (const socket of held) socket.destroy();
      const failed = await first;
      expect(failed.stderr).toMatch(/the connection ended during login.*ERR_INITIATOR_CONNECTION_CLOSED/u);
      expect(failed.code).toBe(2);
      expect(await list()).toEqual(before);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) =>
        silent.close(() => {
          resolve();
        }),
      );
    }
  });

  it('refuses to make a session the twin of another (same target and portal, or a taken nickname)', async () => {
    const added = await ctl('-A', '-t', OTHER_IQN, '-p', `127.0.0.1:${portOf(other)}`, '-n', 'other');
    expect(added.code).toBe(0);
    const before = await list();
    const twin = await ctl('-M', '-i', '2', '-t', TEST_IQN, '-p', `127.0.0.1:${portOf(chap)}`);
    expect(twin.code).toBe(1);
    expect(twin.stderr).toMatch(/a session to .* exists/u);
    const nick = await ctl('-M', '-i', '2', '-n', 'renamed');
    expect(nick.code).toBe(1);
    expect(nick.stderr).toMatch(/nickname renamed is taken/u);
    expect(await list()).toEqual(before);
  });

  it('-R -i removes one session by id', async () => {
    const removed = await ctl('-R', '-i', '2');
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/^removed 2 iqn\.2024-01\.org\.iser-test:other$/mu);
    expect((await list()).map((s) => s.id)).toEqual([1]);
    const again = await ctl('-R', '-i', '2');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no session with id 2/u);
  });

  it('logs in again a session whose recovery gave up (state failed), at the same NBD address', async () => {
    // DefaultTime2Retain 0 (the minimum of both offers): recovery gives up after Time2Wait.
    const quick = await IscsiTarget.listen(
      {
        targets: [{ name: OTHER_IQN, luns: [{ lun: 0, backend }], negotiation: { defaultTime2Retain: 0 } }],
        portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 0 }] }],
      },
      { logoutDeadlineSeconds: 1 },
    );
    const cut = await TcpProxy.start({ host: '127.0.0.1', port: portOf(quick) });
    try {
      const added = await ctl('-A', '-t', OTHER_IQN, '-p', `127.0.0.1:${cut.address.port}`, '--json');
      expect(added.code).toBe(0);
      const id = (JSON.parse(added.stdout) as { sessions: SessionInfo[] }).sessions[0]?.id ?? 0;
      const byId = async (): Promise<SessionInfo | undefined> => (await list()).find((s) => s.id === id);
      const nbdPath = nbdPathOf(await byId());
      await cut.close();
      await until('failed', async () => (await byId())?.state === 'failed');
      const dead = await ScriptedClient.connect(nbdPath);
      await dead.go('lun0');
      const refused = await dead.call({ flags: 0, type: Command.READ, handle: handle++, offset: 0n, length: 512 });
      expect(refused.error).not.toBe(0);
      dead.socket.destroy();

      const revived = await ctl('-M', '-i', String(id), '-p', `127.0.0.1:${portOf(quick)}`);
      expect(revived.stderr).toBe('');
      expect(revived.code).toBe(0);
      expect((await byId())?.state).toBe('full-feature');
      expect(nbdPathOf(await byId())).toBe(nbdPath);
      const client = await ScriptedClient.connect(nbdPath);
      await client.go('lun0');
      expect((await nbdRead(client, 16)).equals(Buffer.alloc(4096, 0xb2))).toBe(true);
      client.socket.destroy();
      expect((await ctl('-R', '-i', String(id))).code).toBe(0);
    } finally {
      await cut.close();
      await quick.close();
    }
  });

  it('-M -i <id> -c <file> -n <nick> takes the whole session from an iscsi.conf block (CHAP dropped when absent)', async () => {
    const file = join(dir, 'iscsi.conf');
    const portal = `127.0.0.1:${portOf(second)}`;
    await writeFile(file, `back {\n\tTargetAddress = ${portal}\n\tTargetName = ${TEST_IQN}\n}\n`);
    const before = await list();
    const missingNick = await ctl('-M', '-i', '1', '-c', file);
    expect(missingNick.code).toBe(1);
    expect(missingNick.stderr).toMatch(/-M -c <file> needs -i <id> and -n <nickname>/u);
    expect(await list()).toEqual(before);
    const moved = await ctl('-M', '-i', '1', '-c', file, '-n', 'back');
    expect(moved.stderr).toBe('');
    expect(moved.code).toBe(0);
    const [after] = await list();
    expect(after).toMatchObject({ id: 1, nickname: 'back', portal, state: 'full-feature', luns: before[0]?.luns });
    await until('the CHAP target forgets the old session', () => chap.stats.sessions === 0);
    expect(second.stats.sessions).toBe(1);
  });
});
