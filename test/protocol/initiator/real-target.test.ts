/**
 * The initiator against this project's own target server (server/iscsi-target.ts) over in-memory Datamover pairs,
 * in virtual time: the two halves were written apart, so this is an interoperability test.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../backends/memory.js';
import { discover } from '../../../protocol/initiator/discover.js';
import { login, type LoginOptions } from '../../../protocol/initiator/login.js';
import type { DatamoverConnector } from '../../../protocol/datamover.js';
import type { TargetConfig } from '../../../protocol/target/config.js';
import { IscsiTarget } from '../../../server/iscsi-target.js';
import { VirtualScheduler } from '../../../sim/clock/virtual-scheduler.js';
import { createDatamoverPair, type MemoryDatamoverPair } from '../../support/datamover-pair.js';

const TARGET = 'iqn.2024-01.test.iser:real';
const INITIATOR = 'iqn.2024-01.test.iser:client';

async function drive<T>(scheduler: VirtualScheduler, promise: Promise<T>): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await scheduler.runUntil(() => settled, { maxEvents: 200_000 });
  return promise;
}

function setup(config: Partial<TargetConfig> = {}) {
  const scheduler = new VirtualScheduler();
  const backend = new MemoryBackend(128, { blockSize: 512 });
  const target = new IscsiTarget(
    {
      targets: [{ name: TARGET, luns: [{ lun: 0, backend }] }],
      portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 3260 }] }],
      ...config,
    },
    { scheduler, random: { bytes: (n) => Buffer.alloc(n, 0x42) } },
  );
  const pairs: MemoryDatamoverPair[] = [];
  const connector: DatamoverConnector = {
    kind: 'tcp',
    connect: () => {
      const pair = createDatamoverPair({ scheduler });
      pairs.push(pair);
      target.accept(pair.target, 1);
      return Promise.resolve(pair.initiator);
    },
  };
  const options: LoginOptions = {
    connector,
    portal: { host: '127.0.0.1', port: 3260 },
    targetName: TARGET,
    initiatorName: INITIATOR,
    scheduler,
    isid: { type: 2, a: 0, b: 7, c: 7, d: 7 },
  };
  return { scheduler, target, backend, pairs, options, connector };
}

describe('initiator against the project target server', () => {
  it('logs in, writes, reads back, and logs out', async () => {
    const { scheduler, target, backend, options } = setup();
    const session = await drive(scheduler, login(options));
    const lun = session.lun(0).promises;
    await drive(scheduler, lun.testUnitReady()).catch(() => undefined); // power-on unit attention
    const capacity = await drive(scheduler, lun.readCapacity());
    expect(capacity).toMatchObject({ blockSize: 512, blocks: 128n });
    const data = Buffer.alloc(8 * 512);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13 + 5) & 0xff;
    await drive(scheduler, lun.write(20, data));
    expect(Buffer.concat(await backend.read(20, 8))).toEqual(data);
    expect(await drive(scheduler, lun.read(20, 8))).toEqual(data);
    expect((await drive(scheduler, lun.inquiry())).deviceType).toBe(0);
    await drive(scheduler, session.logout());
    expect(session.state).toBe('logged-out');
    await drive(scheduler, target.close());
  });

  it('discovers the target', async () => {
    const { scheduler, target, connector } = setup();
    const targets = await drive(
      scheduler,
      discover({ host: '127.0.0.1', port: 3260 }, { connector, initiatorName: INITIATOR, scheduler }),
    );
    expect(targets.map((t) => t.name)).toEqual([TARGET]);
    await drive(scheduler, target.close());
  });

  it('reinstates the session after a connection loss and completes the reissued write', async () => {
    const { scheduler, target, backend, pairs, options } = setup();
    const session = await drive(scheduler, login(options));
    const lun = session.lun(0, { blockSize: 512 }).promises;
    await drive(scheduler, lun.testUnitReady()).catch(() => undefined);
    const firstTsih = session.tsih;
    const write = lun.write(5, Buffer.alloc(512, 0x77));
    pairs.at(-1)!.sever();
    await drive(scheduler, write);
    expect(pairs).toHaveLength(2);
    expect(session.state).toBe('full-feature');
    expect(session.tsih).not.toBe(firstTsih);
    expect(Buffer.concat(await backend.read(5, 1))).toEqual(Buffer.alloc(512, 0x77));
    await drive(scheduler, session.close());
    await drive(scheduler, target.close());
  });

  it('logs in with mutual CHAP', async () => {
    const { scheduler, target, options } = setup({
      targets: [
        {
          name: TARGET,
          luns: [{ lun: 0, backend: new MemoryBackend(8, { blockSize: 512 }) }],
          chap: {
            accounts: [{ user: 'alice', secret: 'alice-secret-123' }],
            mutual: { user: 'target', secret: 'target-secret-456' },
          },
        },
      ],
    });
    const session = await drive(
      scheduler,
      login({
        ...options,
        auth: {
          method: 'CHAP',
          credentials: { user: 'alice', secret: 'alice-secret-123' },
          mutual: { user: 'target', secret: 'target-secret-456' },
        },
      }),
    );
    expect(session.state).toBe('full-feature');
    await drive(scheduler, session.close());
    await drive(scheduler, target.close());
  });
});
