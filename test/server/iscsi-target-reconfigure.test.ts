/**
 * IscsiTarget.reconfigure(): target nodes compared by object — unchanged ones keep their sessions untouched,
 * removed and replaced ones have their sessions asked to log out (and dropped at the deadline), new ones take
 * logins at once; a configuration that does not validate changes nothing. Plus unserve() and the observer.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../backends/memory.js';
import { AsyncEvent, type AsyncMessagePdu, type Isid } from '../../protocol/pdu/index.js';
import { read10, write10 } from '../../protocol/scsi/cdb/build.js';
import { ScsiStatus } from '../../protocol/scsi/status.js';
import type { TargetConfig, TargetNodeConfig } from '../../protocol/target/index.js';
import { IscsiTarget, type CommandEvent, type ConnectionClosedEvent } from '../../server/iscsi-target.js';
import { VirtualScheduler } from '../../sim/clock/virtual-scheduler.js';
import { createDatamoverPair } from '../support/datamover-pair.js';
import { ScriptedInitiator } from './scripted-initiator.js';

const KEEP = 'iqn.2024-01.org.example:keep';
const DROP = 'iqn.2024-01.org.example:drop';
const ADDED = 'iqn.2024-01.org.example:added';
const INITIATOR = 'iqn.2024-01.org.example:host';
const ISID: Isid = { type: 2, a: 0, b: 7, c: 1, d: 1 };
const GROUPS = [{ tag: 1, portals: [{ host: '127.0.0.1', port: 3260 }] }];

function node(name: string, blocks = 64): TargetNodeConfig {
  return { name, luns: [{ lun: 0, backend: new MemoryBackend(blocks) }] };
}

function setUp(scheduler?: VirtualScheduler) {
  const keep = node(KEEP);
  const drop = node(DROP);
  const commands: CommandEvent[] = [];
  const closed: ConnectionClosedEvent[] = [];
  const target = new IscsiTarget(
    { targets: [keep, drop], portalGroups: GROUPS },
    {
      logoutDeadlineSeconds: 1,
      ...(scheduler === undefined ? {} : { scheduler }),
      observer: { command: (e) => commands.push(e), connectionClosed: (e) => closed.push(e) },
    },
  );
  const login = async (targetName: string, isid: Isid = ISID): Promise<ScriptedInitiator> => {
    const pair = createDatamoverPair();
    target.accept(pair.target, 1);
    const initiator = new ScriptedInitiator(pair.initiator);
    await initiator.login({ initiatorName: INITIATOR, targetName, isid, transport: 'tcp' });
    return initiator;
  };
  return { target, keep, drop, login, commands, closed };
}

/** Writes one block and reads it back; the status of the read (after the power-on unit attention). */
async function roundTrip(initiator: ScriptedInitiator, byte: number): Promise<Buffer> {
  // The first command meets the power-on unit attention: retry once, as every initiator does.
  const block = Buffer.alloc(512, byte);
  let write = await initiator.command(write10({ lba: 1, blocks: 1 }), { write: block });
  if (write.response.status === ScsiStatus.CheckCondition) {
    write = await initiator.command(write10({ lba: 1, blocks: 1 }), { write: block });
  }
  expect(write.response.status).toBe(ScsiStatus.Good);
  const read = await initiator.command(read10({ lba: 1, blocks: 1 }), { readLength: 512 });
  expect(read.response.status).toBe(ScsiStatus.Good);
  return read.data;
}

describe('IscsiTarget.reconfigure', () => {
  it('keeps sessions of unchanged targets, asks removed targets to log out, serves added ones', async () => {
    const { target, keep, login } = setUp();
    const kept = await login(KEEP);
    const dropped = await login(DROP, { ...ISID, d: 2 });
    expect(target.stats.sessions).toBe(2);

    const result = target.reconfigure({ targets: [keep, node(ADDED)], portalGroups: GROUPS });
    expect(result).toMatchObject({ added: [ADDED], removed: [DROP], replaced: [], unchanged: [KEEP] });
    expect(result.endingSessions).toHaveLength(1);

    const message = await dropped.next<AsyncMessagePdu>((p) => p.kind === 'async-message');
    expect(message.asyncEvent).toBe(AsyncEvent.LogoutRequest);
    await dropped.logout();
    await result.settled;
    await dropped.whenClosed();

    // The kept session saw nothing and still does I/O.
    expect(kept.inbox.filter((p) => p.kind === 'async-message')).toEqual([]);
    expect(kept.closed).toBe(false);
    expect((await roundTrip(kept, 0x5a)).equals(Buffer.alloc(512, 0x5a))).toBe(true);

    // The removed target refuses logins; the added one takes them.
    await expect(login(DROP, { ...ISID, d: 3 })).rejects.toThrow();
    const fresh = await login(ADDED, { ...ISID, d: 4 });
    expect((await roundTrip(fresh, 0x11)).equals(Buffer.alloc(512, 0x11))).toBe(true);
    expect(target.stats.sessions).toBe(2);
    expect(target.config.targets.has(DROP)).toBe(false);
    await target.close();
  });

  it('replaces a changed target: its session is asked out, a new login reaches the new node', async () => {
    const { target, keep, drop, login } = setUp();
    const old = await login(DROP);
    const oldDevice = target.device(DROP);
    const bigger: TargetNodeConfig = { ...drop, luns: [{ lun: 0, backend: new MemoryBackend(128) }] };
    const result = target.reconfigure({ targets: [keep, bigger], portalGroups: GROUPS });
    expect(result).toMatchObject({ replaced: [DROP], unchanged: [KEEP], removed: [], added: [] });
    expect(target.device(DROP)).not.toBe(oldDevice);
    await old.next((p) => p.kind === 'async-message');
    // Logging in again with the same identity reinstates the old session onto the new node.
    const again = await login(DROP);
    await old.whenClosed();
    await result.settled;
    expect((await roundTrip(again, 0x22)).equals(Buffer.alloc(512, 0x22))).toBe(true);
    expect(target.stats.sessions).toBe(1);
    await target.close();
  });

  it('drops sessions of a removed target that do not log out by the deadline', async () => {
    const clock = new VirtualScheduler();
    const { target, keep, login } = setUp(clock);
    const kept = await login(KEEP);
    const stubborn = await login(DROP, { ...ISID, d: 2 });
    const result = target.reconfigure({ targets: [keep], portalGroups: GROUPS }, { logoutDeadlineSeconds: 2 });
    await clock.advanceBy(1999);
    expect(stubborn.closed).toBe(false);
    await clock.advanceBy(10_000);
    await result.settled;
    expect(stubborn.closed).toBe(true);
    expect(kept.closed).toBe(false);
    expect(target.stats.sessions).toBe(1);
    const closing = target.close();
    await kept.next((p) => p.kind === 'async-message');
    await kept.logout();
    await closing;
  });

  it('changes nothing when the new configuration does not validate', async () => {
    const { target, login } = setUp();
    const session = await login(DROP);
    const before = target.config;
    const bad: TargetConfig = { targets: [node('not a name')], portalGroups: GROUPS };
    expect(() => target.reconfigure(bad)).toThrow(expect.objectContaining({ code: 'ERR_TARGET_CONFIG_NAME' }));
    expect(() => target.reconfigure({ targets: [node(KEEP)], portalGroups: [{ tag: 2, portals: [] }] })).toThrow(
      expect.objectContaining({ code: 'ERR_TARGET_CONFIG_PORTAL' }),
    );
    expect(target.config).toBe(before);
    expect((await roundTrip(session, 0x33)).equals(Buffer.alloc(512, 0x33))).toBe(true);
    expect(session.inbox.filter((p) => p.kind === 'async-message')).toEqual([]);
    await target.close();
  });

  it('refuses to drop a portal group a listener still serves', () => {
    const { target, keep } = setUp();
    const listener = {
      kind: 'tcp' as const,
      address: { host: '127.0.0.1', port: 1 },
      connections: { subscribe: () => ({ unsubscribe: () => undefined }) },
      close: () => Promise.resolve(),
    };
    target.serve(listener as never, 1);
    expect(() =>
      target.reconfigure({ targets: [keep], portalGroups: [{ tag: 2, portals: GROUPS[0]!.portals }] }),
    ).toThrow(expect.objectContaining({ code: 'ERR_SERVER_TRANSPORT' }));
    return target.unserve(listener as never).then(() => {
      expect(target.portals).toEqual([]);
      expect(
        target.reconfigure({ targets: [keep], portalGroups: [{ tag: 2, portals: GROUPS[0]!.portals }] }),
      ).toMatchObject({
        unchanged: [KEEP],
      });
    });
  });

  it('reports every command (target, LUN, bytes) and every closed connection to the observer', async () => {
    const { target, login, commands, closed } = setUp();
    const initiator = await login(KEEP);
    await roundTrip(initiator, 0x44);
    const good = commands.filter((c) => c.status === ScsiStatus.Good);
    expect(good.map((c) => [c.targetName, c.lun, c.direction, c.bytesRead, c.bytesWritten])).toEqual([
      [KEEP, 0, 'write', 0, 512],
      [KEEP, 0, 'read', 512, 0],
    ]);
    await initiator.logout();
    await initiator.whenClosed();
    await target.close();
    expect(closed).toEqual([expect.objectContaining({ id: 1, cid: 0, tsih: expect.any(Number) as number })]);
  });
});
