import diagnosticsChannel from 'node:diagnostics_channel';
import { lastValueFrom, timeout, TimeoutError, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { discover } from '../../../protocol/initiator/discover.js';
import { INITIATOR_CHANNEL } from '../../../protocol/initiator/diagnostics.js';
import { login, type LoginOptions } from '../../../protocol/initiator/login.js';
import type { Session, SessionState } from '../../../protocol/initiator/session.js';
import { LoginError } from '../../../protocol/login/errors.js';
import { AsyncEvent } from '../../../protocol/pdu/async-message.js';
import { RESERVED_TAG } from '../../../protocol/pdu/constants.js';
import type { TaskManagementRequestPdu } from '../../../protocol/pdu/index.js';
import { ScsiStatusError } from '../../../protocol/scsi/errors.js';
import { SenseKey } from '../../../protocol/scsi/sense-codes.js';
import { VirtualScheduler } from '../../../sim/clock/virtual-scheduler.js';
import { FakeTarget, TARGET_NAME } from './fake-target.js';

const INITIATOR_NAME = 'iqn.2024-01.test.iser:initiator';

/** Runs virtual time until `promise` settles, then returns (or throws) its outcome. */
async function drive<T>(scheduler: VirtualScheduler, promise: Promise<T>): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await scheduler.runUntil(() => settled, { maxEvents: 200_000 });
  return promise;
}

function setup(options: Partial<LoginOptions> = {}, target: Partial<ConstructorParameters<typeof FakeTarget>[0]> = {}) {
  const scheduler = new VirtualScheduler();
  const fake = new FakeTarget({ scheduler, ...target });
  const loginOptions: LoginOptions = {
    connector: fake.connector,
    portal: { host: '127.0.0.1', port: 3260 },
    targetName: TARGET_NAME,
    initiatorName: INITIATOR_NAME,
    scheduler,
    isid: { type: 2, a: 0, b: 0x1234, c: 0x56, d: 1 },
    ...options,
  };
  return { scheduler, fake, loginOptions };
}

/** Logs in and clears the power-on unit attention every new I_T nexus sees first. */
async function ready(
  scheduler: VirtualScheduler,
  loginOptions: LoginOptions,
): Promise<{ session: Session; states: SessionState[] }> {
  const session = await drive(scheduler, login(loginOptions));
  const states: SessionState[] = [];
  session.state$.subscribe((s) => states.push(s));
  await drive(scheduler, session.lun(0).promises.testUnitReady()).catch(() => undefined);
  return { session, states };
}

describe('Session over an in-memory connection (virtual time)', () => {
  it('logs in, writes, reads back, and logs out', async () => {
    const { scheduler, fake, loginOptions } = setup();
    const session = await drive(scheduler, login(loginOptions));
    expect(session.state).toBe('full-feature');
    expect(session.targetName).toBe(TARGET_NAME);
    const states: SessionState[] = [];
    session.state$.subscribe((s) => states.push(s));
    const lun = session.lun(0).promises;

    // The first command of a new I_T nexus meets the power-on unit attention, as a typed error.
    const attention = await drive(scheduler, lun.testUnitReady()).catch((err: unknown) => err);
    expect(attention).toBeInstanceOf(ScsiStatusError);
    expect((attention as ScsiStatusError).sense?.key).toBe(SenseKey.UnitAttention);
    await drive(scheduler, lun.testUnitReady());

    const capacity = await drive(scheduler, lun.readCapacity());
    expect(capacity).toMatchObject({ blockSize: 512, blocks: 256n, lastLba: 255n });
    const data = Buffer.alloc(4 * 512);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    await drive(scheduler, lun.write(10, data, { fua: true }));
    expect(await fake.contents(10, 4)).toEqual(data);
    expect(await drive(scheduler, lun.read(10, 4))).toEqual(data);
    expect(await drive(scheduler, lun.read(11, 2))).toEqual(data.subarray(512, 1536));

    const inquiry = await drive(scheduler, lun.inquiry());
    expect(inquiry.deviceType).toBe(0);
    expect((await drive(scheduler, lun.reportLuns())).luns).toEqual([0]);
    await drive(scheduler, lun.sync());

    const result = await drive(scheduler, session.logout());
    expect(result).toEqual({ time2Wait: 2, time2Retain: 20 });
    expect(states).toEqual(['full-feature', 'logging-out', 'logged-out']);
    await drive(scheduler, session.ended);
  });

  it('runs the block commands: WRITE SAME, UNMAP, COMPARE AND WRITE (and its MISCOMPARE), MODE SENSE, REQUEST SENSE', async () => {
    const { scheduler, loginOptions, fake } = setup();
    const { session } = await ready(scheduler, loginOptions);
    const lun = session.lun(0, { blockSize: 512 }).promises;
    await drive(scheduler, lun.writeSame(0, 8, { data: Buffer.alloc(512, 0xab) }));
    expect(await fake.contents(0, 8)).toEqual(Buffer.alloc(8 * 512, 0xab));
    await drive(scheduler, lun.unmap([{ lba: 2, blocks: 2 }]));
    expect(await fake.contents(2, 2)).toEqual(Buffer.alloc(1024));
    await drive(scheduler, lun.compareAndWrite(0, Buffer.alloc(512, 0xab), Buffer.alloc(512, 0xcd)));
    expect(await fake.contents(0, 1)).toEqual(Buffer.alloc(512, 0xcd));
    const miscompare = await drive(
      scheduler,
      lun.compareAndWrite(0, Buffer.alloc(512, 0xab), Buffer.alloc(512, 1)),
    ).catch((err: unknown) => err);
    expect(miscompare).toBeInstanceOf(ScsiStatusError);
    expect((miscompare as ScsiStatusError).sense?.key).toBe(SenseKey.Miscompare);
    const mode = await drive(scheduler, lun.modeSense(0x3f));
    expect(mode.pages.length).toBeGreaterThan(0);
    const sense = await drive(scheduler, lun.requestSense());
    expect(sense.key).toBe(SenseKey.NoSense);
    await drive(scheduler, session.close());
  });

  it('refuses data that is not whole blocks before sending anything', async () => {
    const { scheduler, loginOptions, fake } = setup();
    const { session } = await ready(scheduler, loginOptions);
    const before = fake.commands.length;
    const error = await drive(scheduler, session.lun(0, { blockSize: 512 }).promises.write(0, Buffer.alloc(100))).catch(
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ code: 'ERR_INITIATOR_BAD_ARGUMENT' });
    expect(fake.commands.length).toBe(before);
    await drive(scheduler, session.close());
  });

  it('aborts a command with ABORT TASK when its subscriber unsubscribes', async () => {
    const { scheduler, loginOptions, fake } = setup();
    const { session } = await ready(scheduler, loginOptions);
    fake.onCommand = () => 'hold';
    const subscription = session.lun(0, { blockSize: 512 }).read(0, 1).subscribe();
    await scheduler.advanceBy(100);
    const held = fake.commands.at(-1)!.pdu;
    subscription.unsubscribe();
    await scheduler.advanceBy(100);
    const tmf = fake.pdus.filter((p): p is TaskManagementRequestPdu => p.kind === 'task-management-request');
    expect(tmf).toHaveLength(1);
    expect(tmf[0]).toMatchObject({ function: 1, referencedTaskTag: held.itt, refCmdSN: held.cmdSN, immediate: true });
    fake.onCommand = () => 'execute';
    await drive(scheduler, session.close());
  });

  it('bounds a command with RxJS timeout(), which aborts it', async () => {
    const { scheduler, loginOptions, fake } = setup();
    const { session } = await ready(scheduler, loginOptions);
    fake.onCommand = () => 'hold';
    const started = scheduler.now();
    const outcome = drive(
      scheduler,
      lastValueFrom(
        session
          .lun(0, { blockSize: 512 })
          .read(0, 1)
          .pipe(timeout({ first: 5000, scheduler })),
      ),
    ).catch((err: unknown) => err);
    expect(await outcome).toBeInstanceOf(TimeoutError);
    expect(scheduler.now() - started).toBeGreaterThanOrEqual(5000);
    await scheduler.advanceBy(10);
    expect(fake.pdus.some((p) => p.kind === 'task-management-request' && p.function === 1)).toBe(true);
    fake.onCommand = () => 'execute';
    await drive(scheduler, session.close());
  });

  it('discovers targets with SendTargets=All and logs out of the discovery session', async () => {
    const { scheduler, fake } = setup();
    const targets = await drive(
      scheduler,
      discover(
        { host: '127.0.0.1', port: 3260 },
        { connector: fake.connector, initiatorName: INITIATOR_NAME, scheduler },
      ),
    );
    expect(targets).toEqual([
      { name: TARGET_NAME, addresses: [{ host: '127.0.0.1', port: 3260, portalGroupTag: 1 }] },
      { name: 'iqn.2024-01.test.iser:other', addresses: [{ host: 'fe80::1', port: 3261, portalGroupTag: 2 }] },
    ]);
    expect(fake.pdus.some((p) => p.kind === 'logout-request')).toBe(true);
  });

  it('rejects a login to an unknown target with the typed login error', async () => {
    const { scheduler, loginOptions } = setup();
    const error = await drive(scheduler, login({ ...loginOptions, targetName: 'iqn.2024-01.test:nobody' })).catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(LoginError);
    expect((error as LoginError).code).toBe('ERR_LOGIN_TARGET_NOT_FOUND');
  });

  it('refuses a connector of the wrong transport', async () => {
    const { loginOptions } = setup();
    await expect(login({ ...loginOptions, transport: 'iser' })).rejects.toMatchObject({
      code: 'ERR_INITIATOR_BAD_OPTIONS',
    });
  });

  it('keeps the connection alive with NOP-Outs on the virtual clock', async () => {
    const { scheduler, loginOptions, fake } = setup({ session: { nopIntervalMs: 1000 } });
    const { session } = await ready(scheduler, loginOptions);
    const before = fake.pdus.filter((p) => p.kind === 'nop-out').length;
    await scheduler.advanceBy(5500);
    expect(fake.pdus.filter((p) => p.kind === 'nop-out').length - before).toBe(5);
    expect(session.state).toBe('full-feature');
    await drive(scheduler, session.close());
  });

  it('logs out when the target asks with an Async Message', async () => {
    const { scheduler, loginOptions, fake } = setup();
    const { session } = await ready(scheduler, loginOptions);
    const events = lastValueFrom(session.events.pipe(toArray()));
    fake.sendRaw((numbers) => ({
      kind: 'async-message',
      lun: 0n,
      asyncEvent: AsyncEvent.LogoutRequest,
      asyncVCode: 0,
      parameter1: 0,
      parameter2: 0,
      parameter3: 10,
      data: [],
      ...numbers,
    }));
    await drive(scheduler, session.ended);
    expect(session.state).toBe('logged-out');
    expect(await events).toContainEqual({ kind: 'logout-requested', withinSeconds: 10 });
  });

  it('publishes on iser:initiator without ever including a CHAP secret', async () => {
    const secret = 'correct-horse-battery';
    const { scheduler, loginOptions } = setup(
      { auth: { method: 'CHAP', credentials: { user: 'alice', secret } } },
      { chap: { user: 'alice', secret } },
    );
    const messages: unknown[] = [];
    const listener = (message: unknown): void => {
      messages.push(message);
    };
    diagnosticsChannel.subscribe(INITIATOR_CHANNEL, listener);
    try {
      const { session } = await ready(scheduler, loginOptions);
      await drive(scheduler, session.close());
    } finally {
      diagnosticsChannel.unsubscribe(INITIATOR_CHANNEL, listener);
    }
    const text = JSON.stringify(messages, (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : value,
    );
    expect(messages.length).toBeGreaterThan(3);
    expect(text).toContain('"phase":"succeeded"');
    expect(text).toContain('"state":"logged-out"');
    expect(text).not.toContain(secret);
  });

  it('answers the target ping it receives', async () => {
    const { scheduler, loginOptions, fake } = setup();
    const { session } = await ready(scheduler, loginOptions);
    fake.sendRaw((numbers) => ({ kind: 'nop-in', lun: 0n, itt: RESERVED_TAG, ttt: 77, data: [], ...numbers }));
    await scheduler.advanceBy(10);
    expect(fake.pdus.some((p) => p.kind === 'nop-out' && p.ttt === 77 && p.itt === RESERVED_TAG)).toBe(true);
    await drive(scheduler, session.close());
  });
});
