import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../backends/memory.js';
import {
  AsyncEvent,
  LogoutResponse,
  TaskManagementFunction,
  type AsyncMessagePdu,
  type TaskManagementResponsePdu,
  type Isid,
  type TextResponsePdu,
} from '../../protocol/pdu/index.js';
import { inquiry, read10, write10 } from '../../protocol/scsi/cdb/build.js';
import { ScsiStatus } from '../../protocol/scsi/status.js';
import type { TargetConfig } from '../../protocol/target/index.js';
import { decodeText, parseSendTargetsResponse } from '../../protocol/text/index.js';
import { IscsiTarget, type TargetServerEvent } from '../../server/iscsi-target.js';
import { VirtualScheduler } from '../../sim/clock/virtual-scheduler.js';
import { createDatamoverPair } from '../support/datamover-pair.js';
import { ScriptedInitiator } from './scripted-initiator.js';

const TARGET = 'iqn.2024-01.org.example:disk';
const INITIATOR = 'iqn.2024-01.org.example:host';
const ISID: Isid = { type: 2, a: 0, b: 0x1111, c: 0x22, d: 1 };

function config(overrides: Partial<TargetConfig> = {}): TargetConfig {
  return {
    targets: [{ name: TARGET, luns: [{ lun: 0, backend: new MemoryBackend(2048) }] }],
    portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 3260 }] }],
    ...overrides,
  };
}

/** A target plus a way to open initiator connections to it over the in-memory pair. */
function serve(cfg: TargetConfig = config(), scheduler?: VirtualScheduler) {
  const events: TargetServerEvent[] = [];
  const target = new IscsiTarget(cfg, {
    onEvent: (e) => events.push(e),
    logoutDeadlineSeconds: 1,
    ...(scheduler === undefined ? {} : { scheduler }),
  });
  const connect = (): ScriptedInitiator => {
    const pair = createDatamoverPair();
    target.accept(pair.target, 1);
    return new ScriptedInitiator(pair.initiator);
  };
  return { target, events, connect };
}

function loginConfig(overrides: Record<string, unknown> = {}) {
  return { initiatorName: INITIATOR, targetName: TARGET, isid: ISID, transport: 'tcp' as const, ...overrides };
}

describe('IscsiTarget over an in-memory Datamover pair', () => {
  it('login → INQUIRY → WRITE → READ verify → logout', async () => {
    const { target, connect, events } = serve();
    const initiator = connect();
    const login = await initiator.login(loginConfig());
    expect(login.tsih).toBeGreaterThan(0);
    expect(target.stats).toMatchObject({ sessions: 1, logins: 1 });

    const inq = await initiator.command(inquiry({ allocationLength: 96 }), { readLength: 96 });
    expect(inq.response.status).toBe(ScsiStatus.Good);
    expect(inq.data.subarray(8, 12).toString('latin1')).toBe('ISER');

    // The first command after INQUIRY meets the power-on unit attention, as every initiator expects.
    const tur = await initiator.command(Buffer.alloc(6));
    expect(tur.response.status).toBe(ScsiStatus.CheckCondition);
    expect((await initiator.command(Buffer.alloc(6))).response.status).toBe(ScsiStatus.Good);

    const pattern = Buffer.alloc(1024);
    for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 7) & 0xff;
    const write = await initiator.command(write10({ lba: 10, blocks: 2 }), { write: pattern });
    expect(write.response).toMatchObject({ status: ScsiStatus.Good, residualCount: 0 });

    const read = await initiator.command(read10({ lba: 10, blocks: 2 }), { readLength: 1024 });
    expect(read.response.status).toBe(ScsiStatus.Good);
    expect(read.data).toEqual(pattern);

    const logout = await initiator.logout();
    expect(logout).toMatchObject({ kind: 'logout-response', response: LogoutResponse.ClosedSuccessfully });
    await initiator.whenClosed();
    expect(target.stats).toMatchObject({ sessions: 0, sessionsEnded: 1, commands: 5 });
    expect(events.map((e) => e.kind)).toContain('session-ended');
    await target.close();
  });

  it('answers SendTargets in a discovery session', async () => {
    const { target, connect } = serve();
    const initiator = connect();
    await initiator.login({ initiatorName: INITIATOR, isid: ISID, transport: 'tcp', sessionType: 'Discovery' });
    const response = (await initiator.text([{ key: 'SendTargets', value: 'All' }])) as TextResponsePdu;
    const found = parseSendTargetsResponse(decodeText(response.data, { allowDuplicateKeys: true }));
    expect(found).toEqual([{ name: TARGET, addresses: [{ host: '127.0.0.1', port: 3260, portalGroupTag: 1 }] }]);
    await initiator.logout();
    await target.close();
  });

  it('refuses a login to an unknown target with 0x0203 and counts it', async () => {
    const { target, connect } = serve();
    const initiator = connect();
    await expect(initiator.login(loginConfig({ targetName: 'iqn.2024-01.org.example:none' }))).rejects.toMatchObject({
      status: 0x0203,
    });
    await initiator.whenClosed();
    expect(target.stats.loginFailures).toBe(1);
    await target.close();
  });

  it('checks CHAP: the right secret logs in, a wrong one is refused with 0x0201', async () => {
    const chap = { accounts: [{ user: 'host', secret: 'a-good-long-secret' }] };
    const { target, connect } = serve(config({ targets: [{ name: TARGET, luns: [], chap }] }));
    const good = connect();
    await good.login(
      loginConfig({ auth: { method: 'CHAP', credentials: { user: 'host', secret: 'a-good-long-secret' } } }),
    );
    const bad = connect();
    await expect(
      bad.login(
        loginConfig({
          isid: { ...ISID, d: 2 },
          auth: { method: 'CHAP', credentials: { user: 'host', secret: 'the-wrong-secret!' } },
        }),
      ),
    ).rejects.toMatchObject({ status: 0x0201 });
    await good.logout();
    await target.close();
  });

  it('reinstates a session: a new login with the same ISID and TSIH 0 closes the old one', async () => {
    const { target, connect, events } = serve();
    const first = connect();
    const old = await first.login(loginConfig());
    const second = connect();
    const fresh = await second.login(loginConfig());
    await first.whenClosed();
    expect(fresh.tsih).not.toBe(old.tsih);
    expect(events).toContainEqual(
      expect.objectContaining({
        kind: 'session-started',
        tsih: fresh.tsih,
        isid: '801111220001',
        initiatorName: INITIATOR,
        targetName: TARGET,
        sessionType: 'Normal',
        reinstated: old.tsih,
      }),
    );
    expect(target.stats.sessions).toBe(1);
    expect((await second.command(inquiry({ allocationLength: 36 }), { readLength: 36 })).response.status).toBe(
      ScsiStatus.Good,
    );
    await second.logout();
    await target.close();
  });

  it('lets a login with the session TSIH and the same CID replace the connection', async () => {
    const { target, connect, events } = serve();
    const first = connect();
    const login = await first.login(loginConfig());
    const second = connect();
    await second.login(loginConfig({ tsih: login.tsih, cid: 0, session: login.params, cmdSN: first.cmdSN }));
    await first.whenClosed();
    expect(events).toContainEqual(
      expect.objectContaining({ kind: 'connection-joined', tsih: login.tsih, cid: 0, replaced: true }),
    );
    expect(target.stats.sessions).toBe(1);
    const answer = await second.command(inquiry({ allocationLength: 36 }), { readLength: 36 });
    expect(answer.response.status).toBe(ScsiStatus.Good);
    await second.logout();
    await target.close();
  });

  it('TARGET COLD RESET answers, then drops every session of the target', async () => {
    const { target, connect } = serve();
    const a = connect();
    await a.login(loginConfig());
    const b = connect();
    await b.login(loginConfig({ isid: { ...ISID, d: 9 } }));
    const itt = a.send((i, cmdSN, expStatSN) => ({
      kind: 'task-management-request',
      immediate: true,
      function: TaskManagementFunction.TargetColdReset,
      lun: 0n,
      itt: i,
      referencedTaskTag: 0xffffffff,
      cmdSN,
      expStatSN,
      refCmdSN: 0,
      expDataSN: 0,
    }));
    const response = await a.next<TaskManagementResponsePdu>((p) => p.kind === 'task-management-response');
    expect([response.itt, response.response]).toEqual([itt, 0]);
    await Promise.all([a.whenClosed(), b.whenClosed()]);
    expect(target.stats.sessions).toBe(0);
    await target.close();
  });

  it('close() asks every session to log out, and finishes once they have', async () => {
    const { target, connect } = serve();
    const initiator = connect();
    await initiator.login(loginConfig());
    const closing = target.close();
    const message = await initiator.next<AsyncMessagePdu>((p) => p.kind === 'async-message');
    expect(message.asyncEvent).toBe(AsyncEvent.LogoutRequest);
    await initiator.logout();
    await closing;
    expect(target.stats).toMatchObject({ sessions: 0, connections: 0 });
    expect(initiator.closed).toBe(true);
  });

  it('close() drops sessions that do not log out by the deadline', async () => {
    const clock = new VirtualScheduler();
    const { target, connect } = serve(config(), clock);
    const initiator = connect();
    await initiator.login(loginConfig());
    const closing = target.close();
    await clock.advanceBy(999);
    expect(initiator.closed).toBe(false);
    await clock.advanceBy(10_000);
    await closing;
    expect(initiator.closed).toBe(true);
    expect(target.stats.sessions).toBe(0);
  });
});
