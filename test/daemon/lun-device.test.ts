/**
 * LunBlockDevice, the NBD side of a logged-in LUN: a command refused with UNIT ATTENTION (the first one after a
 * reconnection meets the new nexus's power-on attention) is sent again instead of failing the NBD request, a
 * bounded number of times; a command that waited on a session `ctl -M` replaced goes to the new session; other
 * errors reach the client unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNIT_ATTENTION_RETRIES, LunBlockDevice } from '../../cli/daemon/lun-device.js';
import type { Lun } from '../../protocol/initiator/lun.js';
import { login } from '../../protocol/initiator/login.js';
import type { CommandResult } from '../../protocol/session/initiator-types.js';
import { InitiatorSessionError } from '../../protocol/session/initiator-errors.js';
import { ScsiStatusError } from '../../protocol/scsi/errors.js';
import { read16 } from '../../protocol/scsi/cdb/build.js';
import { senseData } from '../../protocol/scsi/sense.js';
import { SenseKey } from '../../protocol/scsi/sense-codes.js';
import { TcpConnector } from '../../transports/tcp/connector.js';
import { startTarget, TEST_IQN, type TestTarget } from '../cli/support.js';

function checkCondition(key: number, asc = 0x29, ascq = 0): ScsiStatusError {
  return new ScsiStatusError(0x02, 'CHECK CONDITION', { sense: senseData({ key, asc, ascq }) });
}

/** A Lun whose commands answer from `script` in turn (a function per call), counting calls. */
function scriptedLun(script: (() => Promise<CommandResult>)[]): { lun: Lun; calls: () => number } {
  let calls = 0;
  const next = (): Promise<CommandResult> => {
    const step = script[Math.min(calls, script.length - 1)];
    calls += 1;
    if (step === undefined) throw new Error('empty script');
    return step();
  };
  const lun = {
    promises: {
      command: next,
      sync: () => next().then(() => undefined),
      unmap: () => next().then(() => undefined),
    },
  };
  return { lun: lun as unknown as Lun, calls: () => calls };
}

const good = (data = Buffer.alloc(512, 7)): (() => Promise<CommandResult>) => {
  return () => Promise.resolve({ status: 0, data, residual: { underflow: false, overflow: false, count: 0 } });
};
const fail = (err: Error): (() => Promise<CommandResult>) => {
  return () => Promise.reject(err);
};

describe('LunBlockDevice retries', () => {
  it('sends a command again after UNIT ATTENTION and answers the client with its data', async () => {
    const ua = checkCondition(SenseKey.UnitAttention);
    const { lun, calls } = scriptedLun([fail(ua), fail(ua), good()]);
    const device = new LunBlockDevice(lun, 100n, 512, false);
    const chunks = await device.read(0, 512);
    expect(Buffer.concat(chunks).equals(Buffer.alloc(512, 7))).toBe(true);
    expect(calls()).toBe(3);
  });

  it('gives up after a bounded number of UNIT ATTENTIONs', async () => {
    const { lun, calls } = scriptedLun([fail(checkCondition(SenseKey.UnitAttention))]);
    const device = new LunBlockDevice(lun, 100n, 512, false);
    await expect(device.write(0, [Buffer.alloc(512)], { fua: false })).rejects.toBeInstanceOf(ScsiStatusError);
    expect(calls()).toBe(UNIT_ATTENTION_RETRIES + 1);
  });

  it('passes any other CHECK CONDITION to the client at once', async () => {
    const { lun, calls } = scriptedLun([fail(checkCondition(SenseKey.MediumError, 0x11, 0))]);
    const device = new LunBlockDevice(lun, 100n, 512, false);
    await expect(device.flush()).rejects.toBeInstanceOf(ScsiStatusError);
    expect(calls()).toBe(1);
  });

  it('a session error without a rebind reaches the client', async () => {
    const lost = new InitiatorSessionError('ERR_SESSION_RECOVERY_TIMEOUT', 'gave up');
    const { lun, calls } = scriptedLun([fail(lost)]);
    const device = new LunBlockDevice(lun, 100n, 512, false);
    await expect(device.read(0, 512)).rejects.toBe(lost);
    expect(calls()).toBe(1);
  });

  it('a command that waited on a replaced session goes to the new one', async () => {
    let failOld: (err: Error) => void = () => undefined;
    const waiting = new Promise<CommandResult>((_resolve, reject) => {
      failOld = reject;
    });
    const old = scriptedLun([() => waiting]);
    const fresh = scriptedLun([good(Buffer.alloc(512, 9))]);
    const device = new LunBlockDevice(old.lun, 100n, 512, false);
    const read = device.read(512, 512);
    device.rebind(fresh.lun);
    failOld(new InitiatorSessionError('ERR_SESSION_LOGGED_OUT', 'the session was logged out while recovering'));
    expect(Buffer.concat(await read).equals(Buffer.alloc(512, 9))).toBe(true);
    expect(old.calls()).toBe(1);
    expect(fresh.calls()).toBe(1);
  });
});

describe('LunBlockDevice on a fresh nexus of our target', () => {
  let served: TestTarget;
  beforeAll(async () => {
    served = await startTarget({ digests: false });
  });
  afterAll(async () => {
    await served.close();
  });

  it('the first command meets the power-on UNIT ATTENTION, and the device hides it from NBD', async () => {
    const open = (): ReturnType<typeof login> =>
      login({
        connector: new TcpConnector(),
        portal: { host: '127.0.0.1', port: served.port },
        targetName: TEST_IQN,
        initiatorName: 'iqn.2024-01.org.iser-test:lun-device',
      });
    // Precondition: a bare command on a new session is refused with UNIT ATTENTION (what NBD clients saw as EIO).
    const bare = await open();
    try {
      const err: unknown = await bare
        .lun(0)
        .promises.command(read16({ lba: 0n, blocks: 1 }), { read: 512 })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(ScsiStatusError);
      expect((err as ScsiStatusError).sense?.key).toBe(SenseKey.UnitAttention);
    } finally {
      await bare.close();
    }
    const session = await open();
    try {
      const device = new LunBlockDevice(session.lun(0), 16384n, 512, false);
      const data = Buffer.alloc(4096, 0x5a);
      await device.write(8192, [data], { fua: true });
      expect(Buffer.concat(await device.read(8192, 4096)).equals(data)).toBe(true);
    } finally {
      await session.close();
    }
  });
});
