/**
 * `ctl -A -T iser` when the daemon has an iSER provider: our target and the daemon on soft-RoCE over UDP on
 * loopback (127.0.0.2 and 127.0.0.1), a 1 MiB LUN exported over NBD, filled through it and read back.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { asyncScheduler } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../backends/memory.js';
import { IscsiDaemon } from '../../cli/daemon/daemon.js';
import { IscsiTarget } from '../../server/index.js';
import { IserConnector, IserListener } from '../../transports/iser/index.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { iser } from '../cli/support.js';
import { makeUdpEnv, type UdpEnv } from '../sim/roce/provider/udp-env.js';
import { missing } from '../support/tools.js';

const run = promisify(execFile);
const IQN = 'iqn.2024-01.org.iser-test:daemon-iser';

describe.skipIf(missing('nbdcopy', 'apt-get install libnbd-bin'))(
  'iser daemon over iSER (soft-RoCE on UDP loopback)',
  () => {
    let env: UdpEnv;
    let server: IscsiTarget;
    let listener: IserListener;
    let daemon: IscsiDaemon;
    let dir: string;
    let socket: string;

    beforeAll(async () => {
      env = await makeUdpEnv();
      server = new IscsiTarget(
        {
          targets: [{ name: IQN, luns: [{ lun: 0, backend: new MemoryBackend(2048) }] }],
          portalGroups: [{ tag: 1, portals: [{ host: env.b.address, port: 3260, transport: 'iser' }] }],
        },
        { scheduler: asyncScheduler, logoutDeadlineSeconds: 1 },
      );
      listener = await env.run(
        IserListener.listen(env.b, { host: env.b.address, port: 3260 }, { scheduler: asyncScheduler }),
      );
      server.serve(listener, 1);
      dir = await mkdtemp(join(tmpdir(), 'iser-daemon-iser-'));
      socket = join(dir, 'iserd.sock');
      daemon = await IscsiDaemon.start({
        socketPath: socket,
        transports: {
          tcp: () => new TcpConnector(),
          iser: () => new IserConnector(env.a, { scheduler: asyncScheduler, connectTimeoutMs: 5000 }),
        },
      });
    });
    afterAll(async () => {
      await daemon.close();
      await server.close();
      await listener.close();
      await env.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    it('adds an iSER session whose LUN takes 1 MiB through NBD and gives it back', async () => {
      const add = await iser([
        'ctl',
        '--socket',
        socket,
        '-A',
        '-t',
        IQN,
        '-p',
        `${env.b.address}:3260`,
        '-T',
        'iser',
        '--json',
      ]);
      expect(add.stderr).toBe('');
      expect(add.code).toBe(0);
      const session = (JSON.parse(add.stdout) as { sessions: { transport: string; luns: { nbd: string }[] }[] })
        .sessions[0];
      expect(session?.transport).toBe('iser');
      const uri = session?.luns[0]?.nbd ?? '';
      const source = join(dir, 'in.img');
      const back = join(dir, 'out.img');
      const data = randomBytes(1024 * 1024);
      await writeFile(source, data);
      await run('nbdcopy', [source, uri], { timeout: 60_000 });
      await run('nbdcopy', [uri, back], { timeout: 60_000 });
      expect((await readFile(back)).equals(data)).toBe(true);
      const verbose = await iser(['ctl', '--socket', socket, '-L', '-v']);
      expect(verbose.stdout).toContain('HeaderDigest=None');
      const removed = await iser(['ctl', '--socket', socket, '-R', '-t', IQN]);
      expect(removed.code).toBe(0);
    });
  },
);
