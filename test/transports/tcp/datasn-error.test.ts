/**
 * A Data-Out out of DataSN order (libiscsi's iSCSIdatasn.iSCSIDataSnInvalid). At ErrorRecoveryLevel 0 there is no
 * recovery R2T, so the task is lost, but nothing else is: the PDU is rejected (Protocol Error) by the core, whose
 * Reject advances StatSN (RFC 7143 §11.17.3); the rest of the broken sequence is discarded up to its F bit; the
 * task's getData then fails with ERR_TCP_DATA_SEQUENCE (the session answers CHECK CONDITION, ABORTED COMMAND, DATA
 * PHASE ERROR) and the connection carries on. First against the transport alone (raw initiator, TcpConnection
 * target), then end to end against IscsiTarget over a raw socket.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../backends/memory.js';
import { isIserError } from '../../../protocol/errors.js';
import { InitiatorLogin, type InitiatorLoginResult } from '../../../protocol/login/index.js';
import {
  encodePdu,
  RejectReason,
  serialAdd,
  type Pdu,
  type ScsiCommandPdu,
  type ScsiDataOutPdu,
} from '../../../protocol/pdu/index.js';
import { read10, testUnitReady, write10 } from '../../../protocol/scsi/cdb/build.js';
import { AdditionalSense, SenseKey } from '../../../protocol/scsi/sense-codes.js';
import { decodeSense } from '../../../protocol/scsi/sense.js';
import { ScsiStatus } from '../../../protocol/scsi/status.js';
import { IscsiTarget } from '../../../server/iscsi-target.js';
import { TcpTransportError } from '../../../transports/tcp/errors.js';
import { defaultNegotiatedParams } from '../../support/datamover-pair.js';
import { RawPeer, withRawInitiator, type RawInitiatorSetup } from './raw-peer.js';
import { fixedSequence, nopIn, nopOut, pattern, PduInbox, scsiCommand, scsiResponse } from './support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function dataOut(itt: number, fields: Partial<ScsiDataOutPdu> & { readonly data: readonly Buffer[] }): ScsiDataOutPdu {
  return {
    kind: 'scsi-data-out',
    final: true,
    lun: 0n,
    itt,
    ttt: 0xffffffff,
    expStatSN: 0,
    dataSN: 0,
    bufferOffset: 0,
    ...fields,
  };
}

/** What a promise has done so far, without waiting for it. */
function track<T>(promise: Promise<T>): { settled: () => boolean; result: Promise<T> } {
  let settled = false;
  const result = promise.finally(() => {
    settled = true;
  });
  result.catch(() => undefined);
  return { settled: () => settled, result };
}

async function expectSequenceError(promise: Promise<unknown>): Promise<TcpTransportError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isIserError(error, 'ERR_TCP_DATA_SEQUENCE'), `expected ERR_TCP_DATA_SEQUENCE, got ${String(error)}`).toBe(
    true,
  );
  return error as TcpTransportError;
}

describe('TcpConnection (target): a Data-Out out of DataSN order fails only its task', () => {
  async function writeInFlight(
    params = defaultNegotiatedParams({ immediateData: false }),
    command: ScsiCommandPdu = scsiCommand(1, 1024, { write: true }),
  ): Promise<RawInitiatorSetup & { inbox: PduInbox }> {
    const setup = await withRawInitiator();
    cleanups.push(() => setup.close());
    const inbox = new PduInbox(setup.target.pdus);
    setup.target.enable(params, fixedSequence);
    setup.raw.send([command]);
    await inbox.nextOf('scsi-command');
    return { ...setup, inbox };
  }

  /** Proves the connection still works both ways: a NOP-Out reaches the core, a NOP-In reaches the peer. */
  async function stillUp({ raw, target, inbox }: RawInitiatorSetup & { inbox: PduInbox }, itt: number) {
    raw.send([nopOut(itt)]);
    expect((await inbox.nextOf('nop-out')).itt).toBe(itt);
    target.sendControl(nopIn(itt));
    expect((await raw.nextOf('nop-in')).itt).toBe(itt);
  }

  it('solicited, F=1: the PDU goes to the core, getData fails, no Reject from the transport, the next task works', async () => {
    const setup = await writeInFlight();
    const { target, raw, inbox } = setup;
    const request = target.getData({ itt: 1, lun: 0n, expectedDataTransferLength: 1024 }, 0, 1024);
    const asked = await raw.nextOf('r2t');
    const bad = dataOut(1, { ttt: asked.ttt, dataSN: 27, data: [Buffer.alloc(1024)] });
    raw.send([bad]);
    const refused = await inbox.nextOf('scsi-data-out');
    expect(refused.dataSN).toBe(27);
    const error = await expectSequenceError(request);
    expect(error.rejectReason).toBe(RejectReason.ProtocolError);
    expect(error.header).toEqual(encodePdu(bad)[0]);
    await stillUp(setup, 9); // the NOP-In is the first thing the peer sees: no Reject, no more R2T
    target.sendControl(scsiResponse(1));
    expect((await raw.nextOf('scsi-response')).expDataSN).toBe(1);
    target.taskDone(1);

    const data = pattern(1024, 3);
    raw.send([scsiCommand(2, 1024, { write: true })]);
    await inbox.nextOf('scsi-command');
    const next = target.getData({ itt: 2, lun: 0n, expectedDataTransferLength: 1024 }, 0, 1024);
    const r2t = await raw.nextOf('r2t');
    raw.send([dataOut(2, { ttt: r2t.ttt, data: [data] })]);
    expect(Buffer.concat(await next)).toEqual(data);
  });

  it('waits for the F bit of the broken sequence (DataSN 1 then 0): one PDU to the core, the other dropped', async () => {
    const setup = await writeInFlight();
    const { target, raw, inbox } = setup;
    const request = track(target.getData({ itt: 1, lun: 0n, expectedDataTransferLength: 1024 }, 0, 1024));
    const asked = await raw.nextOf('r2t');
    raw.send([dataOut(1, { ttt: asked.ttt, dataSN: 1, final: false, data: [Buffer.alloc(512)] })]);
    expect((await inbox.nextOf('scsi-data-out')).dataSN).toBe(1);
    await stillUp(setup, 9);
    // The initiator still owes the end of the sequence: no answer may go out yet (RFC 7143 §11.4.2).
    expect(request.settled()).toBe(false);
    raw.send([dataOut(1, { ttt: asked.ttt, dataSN: 0, bufferOffset: 512, data: [Buffer.alloc(512)] })]);
    await expectSequenceError(request.result);
    await stillUp(setup, 10);
    expect(inbox.pending).toEqual([]);
  });

  it('a broken task issues no more R2Ts, and a later getData for it fails at once', async () => {
    const params = defaultNegotiatedParams({ immediateData: false, maxBurstLength: 512, maxOutstandingR2T: 1 });
    const setup = await writeInFlight(params);
    const { target, raw, inbox } = setup;
    const task = { itt: 1, lun: 0n, expectedDataTransferLength: 1024 };
    const request = target.getData(task, 0, 1024);
    const asked = await raw.nextOf('r2t');
    expect(asked.desiredDataTransferLength).toBe(512);
    raw.send([dataOut(1, { ttt: asked.ttt, dataSN: 0xffffffff, data: [Buffer.alloc(512)] })]);
    await inbox.nextOf('scsi-data-out');
    await expectSequenceError(request);
    await stillUp(setup, 9); // a second R2T would have come before the NOP-In
    await expectSequenceError(target.getData(task, 512, 512));
  });

  it('one refusal per task: the other outstanding R2T is drained silently, then getData fails', async () => {
    const params = defaultNegotiatedParams({ immediateData: false, maxBurstLength: 512, maxOutstandingR2T: 2 });
    const setup = await writeInFlight(params, scsiCommand(1, 2048, { write: true }));
    const { target, raw, inbox } = setup;
    const request = track(target.getData({ itt: 1, lun: 0n, expectedDataTransferLength: 2048 }, 0, 2048));
    const [a, b] = [await raw.nextOf('r2t'), await raw.nextOf('r2t')];
    raw.send([dataOut(1, { ttt: a.ttt, dataSN: 3, data: [Buffer.alloc(512)] })]);
    expect((await inbox.nextOf('scsi-data-out')).ttt).toBe(a.ttt);
    // Also out of order, but the task is already lost: discarded, not refused again.
    raw.send([dataOut(1, { ttt: b.ttt, dataSN: 9, bufferOffset: 512, final: false, data: [Buffer.alloc(256)] })]);
    await stillUp(setup, 9); // no R2T for the two queued bursts either
    expect(request.settled()).toBe(false);
    raw.send([dataOut(1, { ttt: b.ttt, dataSN: 1, bufferOffset: 768, data: [Buffer.alloc(256)] })]);
    await expectSequenceError(request.result);
    await stillUp(setup, 10);
    expect(inbox.pending).toEqual([]);
  });

  it('unsolicited (InitialR2T=No): a DataSN error fails the requests waiting for it and any later one', async () => {
    const params = defaultNegotiatedParams({ immediateData: false, initialR2T: false });
    const setup = await writeInFlight(params, { ...scsiCommand(1, 1024, { write: true }), final: false });
    const { target, raw, inbox } = setup;
    const task = { itt: 1, lun: 0n, expectedDataTransferLength: 1024 };
    const waiting = track(target.getData(task, 0, 512));
    raw.send([dataOut(1, { dataSN: 1, final: false, data: [Buffer.alloc(512)] })]);
    expect((await inbox.nextOf('scsi-data-out')).dataSN).toBe(1);
    await stillUp(setup, 9);
    expect(waiting.settled()).toBe(false);
    raw.send([dataOut(1, { dataSN: 1, bufferOffset: 512, data: [Buffer.alloc(512)] })]);
    await expectSequenceError(waiting.result);
    await expectSequenceError(target.getData(task, 512, 512));
    await stillUp(setup, 10);
    expect(inbox.pending).toEqual([]);
  });
});

describe('IscsiTarget over TCP: a Data-Out out of DataSN order', () => {
  const TARGET = 'iqn.2024-01.org.example:datasn';

  /** A raw initiator logged in to a fresh target; it numbers its own commands. */
  async function loggedIn() {
    const target = await IscsiTarget.listen({
      targets: [{ name: TARGET, luns: [{ lun: 0, backend: new MemoryBackend(64) }] }],
      portalGroups: [{ tag: 1, portals: [{ host: '127.0.0.1', port: 0 }] }],
    });
    const socket: Socket = connect(target.portals[0]!.address);
    const raw = new RawPeer(socket);
    cleanups.push(async () => {
      raw.destroy();
      await target.close();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const machine = new InitiatorLogin({
      initiatorName: 'iqn.2024-01.org.example:raw',
      targetName: TARGET,
      isid: { type: 2, a: 0, b: 1, c: 2, d: 3 },
      transport: 'tcp',
      negotiation: { immediateData: false, initialR2T: true },
    });
    let actions = machine.start();
    let result: InitiatorLoginResult | undefined;
    for (let step = 0; step < 8 && result === undefined; step++) {
      for (const action of actions) {
        if (action.type === 'send') raw.send([action.pdu]);
        else if (action.type === 'succeeded') result = action.result;
        else throw new Error(`login ended in ${action.type}`);
      }
      if (result === undefined) actions = machine.receive(await raw.nextOf('login-response'));
    }
    if (result === undefined) throw new Error('no login within 8 steps');
    let cmdSN = result.cmdSN;
    let expStatSN = serialAdd(result.statSN, 1);
    let itt = 100;
    /** Sends a SCSI command with the next ITT and CmdSN; returns the PDU sent. */
    const command = (cdb: Buffer, fields: Partial<ScsiCommandPdu>): ScsiCommandPdu => {
      const pdu: ScsiCommandPdu = {
        kind: 'scsi-command',
        immediate: false,
        final: true,
        read: false,
        write: false,
        attribute: 1,
        lun: 0n,
        itt: itt++,
        expectedDataTransferLength: 0,
        cmdSN,
        expStatSN,
        cdb,
        data: [],
        ...fields,
      };
      cmdSN = serialAdd(cmdSN, 1);
      raw.send([pdu]);
      return pdu;
    };
    /** The next PDU, keeping ExpStatSN current. */
    const next = async (): Promise<Pdu> => {
      const pdu = await raw.next();
      if (pdu.kind === 'scsi-response' || pdu.kind === 'reject') expStatSN = serialAdd(pdu.statSN, 1);
      return pdu;
    };
    return { raw, command, next };
  }

  it('Rejects the PDU, ends the task in CHECK CONDITION (ABORTED COMMAND, DATA PHASE ERROR), and keeps serving', async () => {
    const { raw, command, next } = await loggedIn();
    command(testUnitReady(), {});
    expect((await next()).kind).toBe('scsi-response'); // the power-on unit attention

    // libiscsi's fourth case: the two Data-Out PDUs of one R2T go with DataSN 1, then 0.
    const write = command(write10({ lba: 0, blocks: 2 }), { write: true, expectedDataTransferLength: 1024 });
    const r2t = await next();
    if (r2t.kind !== 'r2t') throw new Error(`expected an R2T, got ${r2t.kind}`);
    expect(r2t.desiredDataTransferLength).toBe(1024);
    const lost = Buffer.alloc(1024, 0xab);
    const first = dataOut(write.itt, { ttt: r2t.ttt, dataSN: 1, final: false, data: [lost.subarray(0, 512)] });
    const second = dataOut(write.itt, { ttt: r2t.ttt, dataSN: 0, bufferOffset: 512, data: [lost.subarray(512)] });
    raw.send([first, second]);

    const reject = await next();
    if (reject.kind !== 'reject') throw new Error(`expected a Reject, got ${reject.kind}`);
    expect(reject.reason).toBe(RejectReason.ProtocolError);
    expect(Buffer.concat(reject.data)).toEqual(encodePdu(first)[0]);
    const response = await next();
    if (response.kind !== 'scsi-response') throw new Error(`expected the SCSI Response, got ${response.kind}`);
    expect(response.itt).toBe(write.itt);
    expect(response.statSN).toBe(serialAdd(reject.statSN, 1)); // the Reject took a StatSN
    expect(response.status).toBe(ScsiStatus.CheckCondition);
    const senseBytes = Buffer.concat(response.data);
    const sense = decodeSense(senseBytes.subarray(2, 2 + senseBytes.readUInt16BE(0)));
    expect([sense.key, (sense.asc << 8) | sense.ascq]).toEqual([
      SenseKey.AbortedCommand,
      AdditionalSense.DataPhaseError,
    ]);

    // Same connection: a good write of block 1, then a read shows block 0 never got the lost data.
    const good = pattern(512, 7);
    const rewrite = command(write10({ lba: 1, blocks: 1 }), { write: true, expectedDataTransferLength: 512 });
    const again = await next();
    if (again.kind !== 'r2t') throw new Error(`expected an R2T, got ${again.kind}`);
    raw.send([dataOut(rewrite.itt, { ttt: again.ttt, data: [good] })]);
    const written = await next();
    expect(written).toMatchObject({ kind: 'scsi-response', itt: rewrite.itt, status: ScsiStatus.Good });
    const read = command(read10({ lba: 0, blocks: 2 }), { read: true, expectedDataTransferLength: 1024 });
    const chunks: Buffer[] = [];
    for (let i = 0; i < 16; i++) {
      const pdu = await next();
      if (pdu.kind === 'scsi-data-in') chunks.push(...pdu.data);
      if (pdu.kind === 'scsi-response' || (pdu.kind === 'scsi-data-in' && pdu.statusPresent)) break;
    }
    expect(Buffer.concat(chunks)).toEqual(Buffer.concat([Buffer.alloc(512), good]));
    expect(read.itt).toBe(rewrite.itt + 1);
    expect(raw.pending).toEqual([]);
  });
});
