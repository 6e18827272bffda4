/**
 * `iser daemon --recovery-timeout`: a target that stays away longer than DefaultTime2Wait + DefaultTime2Retain (here
 * 2 + 0 s, negotiated down by the target) still gets its session back when the daemon was told to wait longer,
 * and an NBD read issued during the outage completes. (Without the option the same session fails after about
 * 2 s: test/daemon/modify.test.ts.) The outage is a relay that refuses every connection until the test lifts it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../backends/memory.js';
import { IscsiDaemon } from '../../cli/daemon/daemon.js';
import type { SessionInfo } from '../../cli/daemon/protocol.js';
import { Command } from '../../nbd/constants.js';
import { IscsiTarget } from '../../server/iscsi-target.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { iser, TEST_IQN } from '../cli/support.js';
import { ScriptedClient } from '../nbd/scripted-client.js';

/** A loopback relay to `port` that can be taken down: then every connection is reset at once. */
class Relay {
  down = false;
  refused = 0;
  readonly #live = new Set<Socket>();

  private constructor(readonly server: Server) {}

  static async start(port: number): Promise<Relay> {
    const relay: Relay = new Relay(
      createServer((client) => {
        client.on('error', () => undefined);
        if (relay.down) {
          relay.refused += 1;
          client.resetAndDestroy();
          return;
        }
        const upstream = createConnection({ host: '127.0.0.1', port });
        upstream.on('error', () => undefined);
        relay.#live.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        for (const socket of [client, upstream]) {
          socket.on('close', () => {
            relay.#live.delete(socket);
            client.destroy();
            upstream.destroy();
          });
        }
      }),
    );
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Resets what is connected and refuses new connections until `up()`. */
  takeDown(): void {
    this.down = true;
    for (const socket of this.#live) socket.resetAndDestroy();
    this.#live.clear();
  }

  up(): void {
    this.down = false;
  }

  close(): Promise<void> {
    this.takeDown();
    return new Promise((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}

describe('iser daemon --recovery-timeout', () => {
  const backend = new MemoryBackend(2048);
  let target: IscsiTarget;
  let relay: Relay;
  let dir: string;
  let socket: string;
  let daemon: IscsiDaemon;

  beforeAll(async () => {
    target = await IscsiTarget.listen(
      {
        targets: [{ name: TEST_IQN, luns: [{ lun: 0, backend }], negotiation: { defaultTime2Retain: 0 } }],
        portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 0 }] }],
      },
      { logoutDeadlineSeconds: 1 },
    );
    relay = await Relay.start(target.portals[0]?.address.port ?? 0);
    dir = await mkdtemp(join(tmpdir(), 'iser-recovery-'));
    socket = join(dir, 'iserd.sock');
    daemon = await IscsiDaemon.start({
      socketPath: socket,
      recoveryTimeoutMs: 60_000,
      transports: { tcp: () => new TcpConnector({ connectTimeoutMs: 5000 }) },
    });
  });
  afterAll(async () => {
    await daemon.close();
    await relay.close();
    await target.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('outlasts an outage longer than Time2Wait + Time2Retain; the waiting NBD read completes', async () => {
    const list = async (): Promise<SessionInfo[]> =>
      (JSON.parse((await iser(['ctl', '--socket', socket, '-L', '--json'])).stdout) as { sessions: SessionInfo[] })
        .sessions;
    const added = await iser(['ctl', '--socket', socket, '-A', '-t', TEST_IQN, '-p', `127.0.0.1:${relay.port}`]);
    expect(added.code).toBe(0);
    const path = new URL((await list())[0]?.luns[0]?.nbd ?? 'nbd+unix:///x').searchParams.get('socket') ?? '';
    const client = await ScriptedClient.connect(path);
    await client.go('lun0');
    const data = Buffer.alloc(4096, 0x3c);
    const write = await client.call({ flags: 0, type: Command.WRITE, handle: 1n, offset: 0n, length: 4096 }, data);
    expect(write.error).toBe(0);

    relay.takeDown();
    // Sent now, answered (its reply awaited, within the client's 5 s) once the target is back.
    client.send({ flags: 0, type: Command.READ, handle: 2n, offset: 0n, length: 4096 });
    // Down until the session has been refused twice (past the 2 s the negotiated times allow), bounded.
    for (let i = 0; i < 300 && relay.refused < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(relay.refused).toBeGreaterThanOrEqual(2);
    expect((await list())[0]?.state).toBe('recovering');
    relay.up();

    const reply = await client.reply();
    expect(reply.handle).toBe(2n);
    expect(reply.error).toBe(0);
    expect(reply.data.equals(data)).toBe(true);
    const [session] = await list();
    expect(session?.state).toBe('full-feature');
    expect(session?.reconnects).toBe(1);
    client.socket.destroy();
  });

  it('ctl -R of a session that is recovering answers its waiting NBD requests with an error, then closes', async () => {
    const list = await iser(['ctl', '--socket', socket, '-L', '--json']);
    const [session] = (JSON.parse(list.stdout) as { sessions: SessionInfo[] }).sessions;
    const path = new URL(session?.luns[0]?.nbd ?? 'nbd+unix:///x').searchParams.get('socket') ?? '';
    const client = await ScriptedClient.connect(path);
    await client.go('lun0');
    relay.takeDown();
    for (let i = 0; i < 200; i++) {
      const now = await iser(['ctl', '--socket', socket, '-L', '--json']);
      if ((JSON.parse(now.stdout) as { sessions: SessionInfo[] }).sessions[0]?.state === 'recovering') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    client.send({ flags: 0, type: Command.READ, handle: 3n, offset: 0n, length: 4096 });
    const removed = await iser(['ctl', '--socket', socket, '-R', '-i', String(session?.id ?? 0)]);
    expect(removed.code).toBe(0);
    const reply = await client.reply();
    expect(reply.handle).toBe(3n);
    expect(reply.error).not.toBe(0);
    await client.reader.waitClosed();
    relay.up();
  });
});
