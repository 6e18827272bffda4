/**
 * Hostile peers against our iSER ends, on the fabric: each case must end in a typed error (saying why), a clean
 * close (disconnect, flushes drained) and no memory touched outside the regions we registered.
 */
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { isIserError } from '../../../protocol/errors.js';
import {
  encodeIserMessage,
  RESERVED_TAG,
  type ReadyToTransferPdu,
  type ScsiDataInPdu,
  type ScsiDataOutPdu,
} from '../../../protocol/pdu/index.js';
import type { NegotiatedParams } from '../../../protocol/text/index.js';
import { IserConnector, IserListener, type IserConnection } from '../../../transports/iser/index.js';
import { Access } from '../../../transports/verbs.js';
import {
  fixedSequence,
  loginRequest,
  loginResponse,
  nopIn,
  nopOut,
  PduInbox,
  scsiCommand,
  scsiResponse,
  textRequest,
} from '../datamover-support.js';
import { fabricWorld, TARGET, type IserWorld } from './env.js';
import { iserHarness, iserParamsWith } from './harness.js';
import { RawIserPeer } from './raw-peer.js';
import { VerbsTap } from './tap.js';

const PARAMS = iserParamsWith({ immediateData: false });

/** Expects `ending` to be an error with `code` whose message matches `message`. */
function expectFailure(error: unknown, code: string, message: RegExp): void {
  expect(isIserError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  expect((error as Error).message).toMatch(message);
}

/** Our target, logged in with a raw initiator. */
interface RawInitiatorCase {
  readonly world: IserWorld;
  readonly tap: VerbsTap;
  readonly raw: RawIserPeer;
  readonly target: IserConnection;
  readonly fromRaw: PduInbox;
  readonly listener: IserListener;
}

async function rawInitiator(options: { readonly login?: boolean } = {}): Promise<RawInitiatorCase> {
  const world = fabricWorld();
  const tap = new VerbsTap();
  const listener = await IserListener.listen(tap.provider(world.targetProvider, 'target'), TARGET, {
    scheduler: world.clock,
  });
  const accepted = firstValueFrom(listener.connections);
  const raw = await world.run(RawIserPeer.connect(world.initiatorProvider, TARGET));
  const target = await world.run(accepted);
  const fromRaw = new PduInbox(target.pdus);
  raw.postReceives(8, 76 + 8192);
  if (options.login !== false) {
    raw.send(loginRequest(1, 'InitiatorName=iqn.2024-01.test:raw\0', true));
    await world.run(fromRaw.nextOf('login-request'));
    target.sendControl(loginResponse(1, '', true));
    target.enable(PARAMS, fixedSequence);
    await world.run(raw.until(() => raw.received.length >= 1));
  }
  return { world, tap, raw, target, fromRaw, listener };
}

/** The connection failed, closes cleanly (flushes drained) and reports `code`/`message`. */
async function expectCleanFailure(c: RawInitiatorCase, code: string, message: RegExp): Promise<unknown> {
  const ending = await c.world.run(c.fromRaw.ended());
  expect(ending.kind).toBe('error');
  const error = ending.kind === 'error' ? ending.error : undefined;
  expectFailure(error, code, message);
  await c.world.run(c.target.close());
  expect(c.tap.log).toContain('target:drained');
  await c.world.run(c.listener.close());
  return error;
}

describe('a hostile initiator against our target', () => {
  it('an out-of-bounds Read VA: the RDMA Write fails with REM_ACCESS_ERR, nothing outside the region is written', async () => {
    const c = await rawInitiator();
    const arena = Buffer.alloc(4096 + 64, 0xa5);
    const mr = c.raw.register(arena.subarray(32, 32 + 4096), Access.LOCAL_WRITE | Access.REMOTE_WRITE);
    // The STag is real, but the VA sits 2048 bytes into a 4096-byte region: the last half is outside it.
    c.raw.send(scsiCommand(0x10, 4096, { read: true }), {
      kind: 'control',
      read: { stag: mr.rkey, va: mr.addr + 2048n },
    });
    const command = await c.world.run(c.fromRaw.nextOf('scsi-command'));
    const ref = { itt: command.itt, lun: command.lun, expectedDataTransferLength: 4096 };
    const failure = await c.world.run(
      c.target.putData(ref, 0, [Buffer.alloc(4096, 0x11)]).catch((err: unknown) => err),
    );
    expectFailure(
      failure,
      'ERR_ISER_COMPLETION',
      /RDMA Write of 4096 bytes to the initiator .* failed: REM_ACCESS_ERR \(the initiator's Read STag 0x[0-9a-f]{8} did not cover VA/,
    );
    expect((failure as { wcStatus?: string }).wcStatus).toBe('REM_ACCESS_ERR');
    await expectCleanFailure(c, 'ERR_ISER_COMPLETION', /REM_ACCESS_ERR/);
    expect(arena.every((b) => b === 0xa5)).toBe(true);
    expect(c.raw.events.map((e) => e.type)).toContain('qp-error');
  });

  it('a forged Write STag: the RDMA Read fails with REM_ACCESS_ERR and getData says whose STag', async () => {
    const c = await rawInitiator();
    const secret = Buffer.alloc(8192, 0x3c);
    const mr = c.raw.register(secret, Access.REMOTE_READ);
    c.raw.send(scsiCommand(0x11, 4096, { write: true }), {
      kind: 'control',
      write: { stag: (mr.rkey ^ 0x00ab_cd00) >>> 0, va: mr.addr },
    });
    const command = await c.world.run(c.fromRaw.nextOf('scsi-command'));
    const ref = { itt: command.itt, lun: command.lun, expectedDataTransferLength: 4096 };
    const failure = await c.world.run(c.target.getData(ref, 0, 4096).catch((err: unknown) => err));
    expectFailure(
      failure,
      'ERR_ISER_COMPLETION',
      /RDMA Read of 4096 bytes from the initiator .* REM_ACCESS_ERR \(the initiator's Write STag 0x[0-9a-f]{8} did not cover/,
    );
    await expectCleanFailure(c, 'ERR_ISER_COMPLETION', /REM_ACCESS_ERR/);
  });

  it('a Send larger than the receive it lands in: LOC_LEN_ERR, said as such', async () => {
    const c = await rawInitiator({ login: false });
    // During login the target holds one 8268-byte receive.
    c.raw.send(loginRequest(1, `X=${'y'.repeat(9000)}\0`, false));
    await expectCleanFailure(
      c,
      'ERR_ISER_COMPLETION',
      /LOC_LEN_ERR \(a Send from the peer did not fit our 8268-byte receive buffer/,
    );
  });

  it('solicited Data-Out, unsolicited data beyond the rules, a missing STag, STags on the wrong command, a Hello', async () => {
    const dataOut = (ttt: number, final = true): ScsiDataOutPdu => ({
      kind: 'scsi-data-out',
      final,
      lun: 0n,
      itt: 0x20,
      ttt,
      expStatSN: 1,
      dataSN: 0,
      bufferOffset: 0,
      data: [Buffer.alloc(100)],
    });
    const cases: [string, (c: RawInitiatorCase) => void, RegExp][] = [
      [
        'solicited Data-Out',
        (c) => {
          c.raw.send(scsiCommand(0x20, 1000, { write: true }), { kind: 'control', write: { stag: 1, va: 0n } });
          c.raw.send(dataOut(5));
        },
        /solicited Data-Out \(TTT 0x00000005/,
      ],
      [
        'unsolicited Data-Out with InitialR2T=Yes',
        (c) => {
          c.raw.send(
            { ...scsiCommand(0x20, 1000, { write: true }), final: false },
            { kind: 'control', write: { stag: 1, va: 0n } },
          );
        },
        /InitialR2T=Yes/,
      ],
      ['a read without a Read STag', (c) => c.raw.send(scsiCommand(0x21, 512, { read: true })), /without a Read STag/],
      ['a write without a Write STag', (c) => c.raw.send(scsiCommand(0x22, 512, { write: true })), /no Write STag/],
      [
        'a Read STag on a write',
        (c) => c.raw.send(scsiCommand(0x23, 0, { write: true }), { kind: 'control', read: { stag: 1, va: 0n } }),
        /reads nothing/,
      ],
      [
        'STags on a NOP-Out',
        (c) => c.raw.send(nopOut(1), { kind: 'control', write: { stag: 1, va: 0n } }),
        /STags belong only/,
      ],
      [
        'a Hello',
        (c) => c.raw.sendBytes(encodeIserMessage({ kind: 'hello', maxVersion: 10, minVersion: 10, ird: 4 })),
        /Hello/,
      ],
      ['a Data-In from the initiator', (c) => c.raw.send(dataIn(3)), /target received scsi-data-in/],
    ];
    for (const [, act, message] of cases) {
      const c = await rawInitiator();
      act(c);
      await expectCleanFailure(c, 'ERR_ISER_PROTOCOL', message);
    }
  });
});

/** A Data-In PDU (never legal over iSER). */
function dataIn(itt: number): ScsiDataInPdu {
  return {
    kind: 'scsi-data-in',
    final: true,
    acknowledge: false,
    residualOverflow: false,
    residualUnderflow: false,
    statusPresent: false,
    status: 0,
    lun: 0n,
    itt,
    ttt: RESERVED_TAG,
    statSN: 1,
    expCmdSN: 1,
    maxCmdSN: 1,
    dataSN: 0,
    bufferOffset: 0,
    residualCount: 0,
    data: [Buffer.alloc(16)],
  };
}

describe('a hostile target against our initiator', () => {
  async function rawTarget(): Promise<{
    world: IserWorld;
    tap: VerbsTap;
    raw: RawIserPeer;
    initiator: IserConnection;
    fromRaw: PduInbox;
  }> {
    const world = fabricWorld();
    const tap = new VerbsTap();
    const listening = await world.run(RawIserPeer.listen(world.targetProvider, TARGET));
    const connector = new IserConnector(tap.provider(world.initiatorProvider, 'initiator'), { scheduler: world.clock });
    const initiator = await world.run(connector.connect(TARGET));
    const raw = await world.run(listening.accepted);
    const fromRaw = new PduInbox(initiator.pdus);
    initiator.sendControl(loginRequest(1, 'InitiatorName=iqn.2024-01.test:i\0', true));
    await world.run(raw.receivedPdu(0));
    raw.send(loginResponse(1, '', true));
    await world.run(fromRaw.nextOf('login-response'));
    initiator.enable(PARAMS, fixedSequence);
    return { world, tap, raw, initiator, fromRaw };
  }

  const r2t: ReadyToTransferPdu = {
    kind: 'r2t',
    lun: 0n,
    itt: 1,
    ttt: 9,
    statSN: 1,
    expCmdSN: 1,
    maxCmdSN: 1,
    r2tSN: 0,
    bufferOffset: 0,
    desiredDataTransferLength: 16,
  };

  for (const [what, send, message] of [
    [
      'a Data-In',
      (raw: RawIserPeer) => raw.send(dataIn(1)),
      /target sent a Data-In PDU .*RDMA-Write read data instead/,
    ],
    ['an R2T', (raw: RawIserPeer) => raw.send(r2t), /target sent an R2T PDU .*RDMA-Read solicited data instead/],
    [
      'STags in its iSER header',
      (raw: RawIserPeer) => raw.send(nopIn(RESERVED_TAG), { kind: 'control', write: { stag: 1, va: 0n } }),
      /target set WSV\/RSV/,
    ],
  ] as const) {
    it(`${what}: a typed protocol error and a clean close`, async () => {
      const c = await rawTarget();
      send(c.raw);
      const ending = await c.world.run(c.fromRaw.ended());
      expect(ending.kind).toBe('error');
      expectFailure(ending.kind === 'error' ? ending.error : undefined, 'ERR_ISER_PROTOCOL', message);
      await c.world.run(c.initiator.close());
      expect(c.tap.log).toContain('initiator:drained');
    });
  }

  it('a Send with Invalidate naming another task’s STag is refused', async () => {
    const c = await rawTarget();
    for (const itt of [1, 2]) {
      c.initiator.sendCommand(scsiCommand(itt, 512, { read: true }), {
        readBuffer: Buffer.alloc(512),
        immediateLength: 0,
        unsolicitedDataOutLength: 0,
      });
    }
    await c.world.run(c.raw.receivedPdu(2));
    const second = await c.world.run(c.raw.receivedPdu(2));
    const otherStag = second.iser.read?.stag ?? 0;
    c.raw.send(scsiResponse(1), { kind: 'control' }, { invalidateRkey: otherStag });
    const ending = await c.world.run(c.fromRaw.ended());
    expectFailure(
      ending.kind === 'error' ? ending.error : undefined,
      'ERR_ISER_PROTOCOL',
      /not one of that task's STags/,
    );
    await c.world.run(c.initiator.close());
  });
});

describe('mismatched limits between our own ends', () => {
  it('a Send bigger than the peer’s receive fails both ends with typed errors, and both close cleanly', async () => {
    const h = await iserHarness();
    const targetParams: NegotiatedParams = iserParamsWith({
      maxRecvDataSegmentLength: { initiator: 8192, target: 4096 },
    });
    // The initiator wrongly believes the target takes 65536-byte segments.
    const initiatorParams: NegotiatedParams = iserParamsWith({
      maxRecvDataSegmentLength: { initiator: 8192, target: 65_536 },
    });
    h.env.initiator.sendControl(loginRequest(1, '', true));
    await h.run(h.fromInitiator.nextOf('login-request'));
    h.env.target.sendControl(loginResponse(1, '', true));
    h.env.target.enable(targetParams, fixedSequence);
    await h.run(h.fromTarget.nextOf('login-response'));
    h.env.initiator.enable(initiatorParams, fixedSequence);
    h.env.initiator.sendControl(textRequest(2, `X=${'z'.repeat(20_000)}\0`));
    const atTarget = await h.run(h.fromInitiator.ended());
    const atInitiator = await h.run(h.fromTarget.ended());
    expectFailure(
      atTarget.kind === 'error' ? atTarget.error : undefined,
      'ERR_ISER_COMPLETION',
      /LOC_LEN_ERR \(a Send from the peer did not fit our 4428-byte receive buffer: it ignored the 4096-byte RecvDataSegmentLength we declared\)/,
    );
    expectFailure(
      atInitiator.kind === 'error' ? atInitiator.error : undefined,
      'ERR_ISER_COMPLETION',
      /Send of text-request \(ITT 0x00000002\) \(20079 bytes\) failed: REM_INV_REQ_ERR \(the peer refused it/,
    );
    await h.close();
    expect(h.tap.log).toContain('initiator:drained');
    expect(h.tap.log).toContain('target:drained');
  });
});
