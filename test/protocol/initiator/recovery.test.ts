import fc from 'fast-check';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { login, type LoginOptions } from '../../../protocol/initiator/login.js';
import type { Session } from '../../../protocol/initiator/session.js';
import type { SessionEvent } from '../../../protocol/session/initiator-types.js';
import { InitiatorSessionError } from '../../../protocol/session/initiator-errors.js';
import { VirtualScheduler } from '../../../sim/clock/virtual-scheduler.js';
import { FakeTarget, TARGET_NAME, type CommandFault } from './fake-target.js';

const BLOCK = 512;
const LBAS = 16;

async function drive<T>(scheduler: VirtualScheduler, promise: Promise<T>): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await scheduler.runUntil(() => settled, { maxEvents: 500_000 });
  return promise;
}

async function start(options: Partial<LoginOptions> = {}): Promise<{
  scheduler: VirtualScheduler;
  fake: FakeTarget;
  session: Session;
  events: Promise<SessionEvent[]>;
}> {
  const scheduler = new VirtualScheduler();
  const fake = new FakeTarget({ scheduler, blocks: 64 });
  const session = await drive(
    scheduler,
    login({
      connector: fake.connector,
      portal: { host: '127.0.0.1', port: 3260 },
      targetName: TARGET_NAME,
      initiatorName: 'iqn.2024-01.test.iser:initiator',
      isid: { type: 2, a: 0, b: 1, c: 2, d: 3 },
      scheduler,
      ...options,
    }),
  );
  const events = lastValueFrom(session.events.pipe(toArray()));
  await drive(scheduler, session.lun(0).promises.testUnitReady()).catch(() => undefined); // power-on UA
  return { scheduler, fake, session, events };
}

function block(fill: number): Buffer {
  return Buffer.alloc(BLOCK, fill);
}

describe('ERL 0 session recovery over the RxJS layer', () => {
  it('reconnects after Time2Wait, reinstates the session, reissues, and loses no acknowledged write', async () => {
    const { scheduler, fake, session, events } = await start();
    const lun = session.lun(0, { blockSize: BLOCK }).promises;
    const first = fake.commands.length;
    const faults = new Map<number, CommandFault>([
      [first + 2, 'drop-after'], // executed, status lost: reissued and written again
      [first + 5, 'drop-before'], // lost on the way: reissued
    ]);
    fake.onCommand = (_cmd, index) => faults.get(index) ?? 'execute';
    const lostAt: number[] = [];
    const backAt: number[] = [];
    session.events.subscribe((event) => {
      if (event.kind === 'connection-lost') lostAt.push(scheduler.now());
      if (event.kind === 'reconnected') backAt.push(scheduler.now());
    });

    for (let i = 0; i < 8; i++) await drive(scheduler, lun.write(i, block(i + 1)));

    expect(lostAt).toHaveLength(2);
    expect(backAt).toHaveLength(2);
    lostAt.forEach((at, i) => {
      expect(backAt[i]! - at).toBeGreaterThanOrEqual(2000); // DefaultTime2Wait
    });
    expect(fake.logins).toBe(3);
    for (let i = 0; i < 8; i++) expect(await fake.contents(i, 1)).toEqual(block(i + 1));
    for (let i = 0; i < 8; i++) expect(await drive(scheduler, lun.read(i, 1))).toEqual(block(i + 1));

    // Every reissued command went out on a later connection, with the same ITT and a new CmdSN.
    const byItt = new Map<number, number[]>();
    for (const { pdu, connection } of fake.commands.slice(first)) {
      const list = byItt.get(pdu.itt) ?? [];
      list.push(connection);
      byItt.set(pdu.itt, list);
    }
    expect([...byItt.values()].filter((c) => c.length > 1).every((c) => c[1]! > c[0]!)).toBe(true);
    await drive(scheduler, session.close());
    const seen = (await events).map((e) => e.kind);
    expect(seen).toContain('reissue-unit-attention'); // I_T NEXUS LOSS after reinstatement, retried
    expect(session.state).toBe('logged-out');
  });

  it('never loses an acknowledged write, whatever the connection drops (model check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(fc.record({ lba: fc.integer({ min: 0, max: LBAS - 1 }), fill: fc.integer({ min: 1, max: 255 }) }), {
            minLength: 1,
            maxLength: 4,
          }),
          { minLength: 1, maxLength: 5 },
        ),
        fc.array(fc.constantFrom<CommandFault>('execute', 'execute', 'execute', 'drop-before', 'drop-after'), {
          maxLength: 30,
        }),
        async (batches, script) => {
          const { scheduler, fake, session } = await start();
          const lun = session.lun(0, { blockSize: BLOCK }).promises;
          const base = fake.commands.length;
          fake.onCommand = (_cmd, index) => script[index - base] ?? 'execute';
          const model = new Map<number, number>();
          for (const batch of batches) {
            // Concurrent writes to distinct blocks: the order among them does not matter.
            const distinct = [...new Map(batch.map((w) => [w.lba, w])).values()];
            await drive(scheduler, Promise.all(distinct.map((w) => lun.write(w.lba, block(w.fill)))));
            for (const w of distinct) model.set(w.lba, w.fill);
          }
          fake.onCommand = () => 'execute';
          for (let lba = 0; lba < LBAS; lba++) {
            const expected = block(model.get(lba) ?? 0);
            expect(await fake.contents(lba, 1)).toEqual(expected);
            expect(await drive(scheduler, lun.read(lba, 1))).toEqual(expected);
          }
          await drive(scheduler, session.close());
        },
      ),
      { numRuns: 25 },
    );
  });

  it('fails what waits with ERR_SESSION_RECOVERY_TIMEOUT when the target stays away past Time2Retain', async () => {
    const { scheduler, fake, session } = await start();
    fake.onCommand = () => 'drop-before';
    fake.refuseConnections = 1_000;
    const lostAt = scheduler.now();
    const error = await drive(scheduler, session.lun(0, { blockSize: BLOCK }).promises.write(0, block(9))).catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(InitiatorSessionError);
    expect((error as InitiatorSessionError).code).toBe('ERR_SESSION_RECOVERY_TIMEOUT');
    expect(scheduler.now() - lostAt).toBeGreaterThanOrEqual(22_000); // Time2Wait + Time2Retain
    expect(session.state).toBe('failed');
    const refused = await drive(scheduler, session.lun(0).promises.testUnitReady()).catch((err: unknown) => err);
    expect((refused as InitiatorSessionError).code).toBe('ERR_SESSION_CLOSED');
  });

  it('keeps retrying refused connections until one succeeds', async () => {
    const { scheduler, fake, session } = await start();
    fake.refuseConnections = 3;
    const base = fake.commands.length;
    fake.onCommand = (_cmd, index) => (index === base ? 'drop-before' : 'execute');
    await drive(scheduler, session.lun(0, { blockSize: BLOCK }).promises.write(3, block(3)));
    expect(fake.connectionCount).toBe(2); // refused attempts open no connection
    expect(fake.logins).toBe(2);
    expect(await fake.contents(3, 1)).toEqual(block(3));
    await drive(scheduler, session.close());
  });
});
