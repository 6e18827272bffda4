/**
 * TcpConnection against a raw peer on loopback: the login/full-feature boundary, digests on the wire, the data PDUs
 * it generates, and hostile peers (every one must end in a typed error and a closed connection, with nothing
 * written outside a buffer).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  crc32c,
  encodePdu,
  LoginStage,
  RejectReason,
  type LoginRequestPdu,
  type LoginResponsePdu,
  type ReadyToTransferPdu,
  type ScsiDataInPdu,
  type ScsiDataOutPdu,
} from '../../../protocol/pdu/index.js';
import { unsolicitedLengths } from '../../../protocol/session/data-sequencing.js';
import type { NegotiatedParams } from '../../../protocol/text/index.js';
import { isIserError } from '../../../protocol/errors.js';
import { connectPair, defaultNegotiatedParams } from '../../support/datamover-pair.js';
import { expectCode } from './datamover-contract.js';
import { withRawInitiator, withRawTarget, type RawInitiatorSetup, type RawTargetSetup } from './raw-peer.js';
import { fixedSequence, nopIn, nopOut, pattern, PduInbox, scsiCommand, scsiResponse } from './support.js';

const DIGESTS = { headerDigest: true, dataDigest: true } as const;
const withDigests = (p: NegotiatedParams): NegotiatedParams => ({ ...p, headerDigest: 'CRC32C', dataDigest: 'CRC32C' });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function rawTarget(options: Parameters<typeof withRawTarget>[0] = {}): Promise<RawTargetSetup> {
  const setup = await withRawTarget(options);
  cleanups.push(() => setup.close());
  return setup;
}

async function rawInitiator(options: Parameters<typeof withRawInitiator>[0] = {}): Promise<RawInitiatorSetup> {
  const setup = await withRawInitiator(options);
  cleanups.push(() => setup.close());
  return setup;
}

const isid = { type: 0, a: 0, b: 1, c: 2, d: 3 };

function finalLoginRequest(): LoginRequestPdu {
  return {
    kind: 'login-request',
    transit: true,
    continue: false,
    currentStage: LoginStage.LoginOperationalNegotiation,
    nextStage: LoginStage.FullFeaturePhase,
    versionMax: 0,
    versionMin: 0,
    isid,
    tsih: 0,
    itt: 0x77,
    cid: 1,
    cmdSN: 1,
    expStatSN: 0,
    data: [Buffer.from('HeaderDigest=CRC32C\0')],
  };
}

function loginResponse(transit: boolean): LoginResponsePdu {
  return {
    kind: 'login-response',
    transit,
    continue: false,
    currentStage: LoginStage.LoginOperationalNegotiation,
    nextStage: transit ? LoginStage.FullFeaturePhase : LoginStage.LoginOperationalNegotiation,
    versionMax: 0,
    versionActive: 0,
    isid,
    tsih: 5,
    itt: 0x77,
    statSN: 0,
    expCmdSN: 1,
    maxCmdSN: 1,
    statusClass: 0,
    statusDetail: 0,
    data: [],
  };
}

function dataIn(itt: number, fields: Partial<ScsiDataInPdu> & { readonly data: readonly Buffer[] }): ScsiDataInPdu {
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
    ttt: 0xffffffff,
    statSN: 1,
    expCmdSN: 2,
    maxCmdSN: 3,
    dataSN: 0,
    bufferOffset: 0,
    residualCount: 0,
    ...fields,
  };
}

function r2t(itt: number, fields: Partial<ReadyToTransferPdu>): ReadyToTransferPdu {
  return {
    kind: 'r2t',
    lun: 0n,
    itt,
    ttt: 0x99,
    statSN: 1,
    expCmdSN: 2,
    maxCmdSN: 3,
    r2tSN: 0,
    bufferOffset: 0,
    desiredDataTransferLength: 512,
    ...fields,
  };
}

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

/** An enabled initiator against a raw target, with a read of `length` bytes in flight (guarded buffer). */
async function readInFlight(length: number, params = defaultNegotiatedParams()) {
  const setup = await rawTarget();
  const inbox = new PduInbox(setup.initiator.pdus);
  setup.initiator.enable(params, fixedSequence);
  const arena = Buffer.alloc(length + 64, 0xa5);
  const readBuffer = arena.subarray(32, 32 + length);
  setup.initiator.sendCommand(scsiCommand(1, length, { read: true }), {
    readBuffer,
    immediateLength: 0,
    unsolicitedDataOutLength: 0,
  });
  await setup.raw.nextOf('scsi-command');
  const guardsIntact = (): boolean =>
    arena.subarray(0, 32).every((b) => b === 0xa5) && arena.subarray(32 + length).every((b) => b === 0xa5);
  return { ...setup, inbox, readBuffer, guardsIntact };
}

async function expectFailure(inbox: PduInbox, code: string): Promise<void> {
  const ending = await inbox.ended();
  expect(ending.kind).toBe('error');
  const error = ending.kind === 'error' ? ending.error : undefined;
  expect(isIserError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
}

describe('TcpConnection: the login / full feature boundary', () => {
  it('initiator: PDUs behind the final Login Response wait for enable() and are framed with the new digests', async () => {
    const { initiator, raw } = await rawTarget();
    const inbox = new PduInbox(initiator.pdus);
    // One write: the last login-phase PDU (no digests) and the first full-feature one (with digests).
    raw.sendBytes(
      Buffer.concat([...encodePdu(loginResponse(true)), ...encodePdu(nopIn(5, [pattern(100, 1)]), DIGESTS)]),
    );
    expect((await inbox.nextOf('login-response')).transit).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(inbox.pending).toEqual([]);
    initiator.enable(withDigests(defaultNegotiatedParams()), fixedSequence);
    const nop = await inbox.nextOf('nop-in');
    expect(Buffer.concat(nop.data)).toEqual(pattern(100, 1));
    // And it sends with digests from now on; Login PDUs never carry them.
    raw.expectDigests(DIGESTS);
    initiator.sendControl(nopOut(6, [pattern(10, 2)]));
    expect((await raw.nextOf('nop-out')).itt).toBe(6);
  });

  it('initiator: enable() from inside the subscriber (the usual way) keeps order', async () => {
    const { initiator, raw } = await rawTarget();
    const seen: string[] = [];
    const inbox = new PduInbox(initiator.pdus);
    const sub = initiator.pdus.subscribe((pdu) => {
      seen.push(pdu.kind);
      if (pdu.kind === 'login-response') initiator.enable(withDigests(defaultNegotiatedParams()), fixedSequence);
      seen.push(`after ${pdu.kind}`);
    });
    raw.sendBytes(
      Buffer.concat([
        ...encodePdu(loginResponse(true)),
        ...encodePdu(nopIn(1), DIGESTS),
        ...encodePdu(nopIn(2), DIGESTS),
      ]),
    );
    await inbox.nextOf('login-response');
    await inbox.nextOf('nop-in');
    await inbox.nextOf('nop-in');
    sub.unsubscribe();
    expect(seen).toEqual([
      'login-response',
      'after login-response',
      'nop-in',
      'after nop-in',
      'nop-in',
      'after nop-in',
    ]);
  });

  it('target: the final Login Response goes without digests, then enable() frames the command behind it with digests', async () => {
    const { target, raw } = await rawInitiator();
    const inbox = new PduInbox(target.pdus);
    const params = withDigests(defaultNegotiatedParams({ initialR2T: false }));
    const write = pattern(3000, 3);
    const command = { ...scsiCommand(1, write.length, { write: true }), data: [write.subarray(0, 1000)], final: false };
    raw.sendBytes(
      Buffer.concat([
        ...encodePdu(finalLoginRequest()),
        ...encodePdu(command, DIGESTS),
        ...encodePdu(dataOut(1, { final: true, dataSN: 0, bufferOffset: 1000, data: [write.subarray(1000)] }), DIGESTS),
      ]),
    );
    await inbox.nextOf('login-request');
    target.sendControl(loginResponse(true));
    expect((await raw.nextOf('login-response')).transit).toBe(true);
    target.enable(params, fixedSequence);
    const received = await inbox.nextOf('scsi-command');
    expect(received.final).toBe(false);
    const got = await target.getData(
      { itt: 1, lun: received.lun, expectedDataTransferLength: write.length },
      0,
      write.length,
    );
    expect(Buffer.concat(got)).toEqual(write);
  });

  it('target: a login that goes on resumes framing unchanged', async () => {
    const { target, raw } = await rawInitiator();
    const inbox = new PduInbox(target.pdus);
    raw.send([finalLoginRequest(), { ...finalLoginRequest(), cmdSN: 2 }]);
    await inbox.nextOf('login-request');
    target.sendControl(loginResponse(false));
    expect((await inbox.nextOf('login-request')).cmdSN).toBe(2);
  });
});

describe('TcpConnection: data PDUs on the wire', () => {
  it('putData sends Data-In per the plan: ≤ MaxRecvDataSegmentLength, F at each burst, DataSN, numbers from the SequenceSource, never S', async () => {
    const { target, raw } = await rawInitiator();
    const inbox = new PduInbox(target.pdus);
    const params = defaultNegotiatedParams({
      maxRecvDataSegmentLength: { initiator: 1000, target: 8192 },
      maxBurstLength: 2500,
    });
    target.enable(params, fixedSequence);
    raw.send([scsiCommand(4, 7000, { read: true })]);
    await inbox.nextOf('scsi-command');
    const ref = { itt: 4, lun: 0n, expectedDataTransferLength: 7000 };
    const data = pattern(7000, 4);
    await target.putData(ref, 0, [data.subarray(0, 10), data.subarray(10, 6000)]);
    await target.putData(ref, 6000, [data.subarray(6000)]);
    const pdus: ScsiDataInPdu[] = [];
    for (let i = 0; i < 8; i++) pdus.push(await raw.nextOf('scsi-data-in'));
    expect(pdus.map((p) => Buffer.concat(p.data).length)).toEqual([1000, 1000, 500, 1000, 1000, 500, 1000, 1000]);
    expect(pdus.map((p) => p.final)).toEqual([false, false, true, false, false, true, true, true]);
    expect(pdus.map((p) => p.dataSN)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(pdus.map((p) => p.bufferOffset)).toEqual([0, 1000, 2000, 2500, 3500, 4500, 5000, 6000]);
    expect(Buffer.concat(pdus.flatMap((p) => p.data))).toEqual(data);
    for (const p of pdus) {
      expect(p.statusPresent).toBe(false);
      expect([p.statSN, p.expCmdSN, p.maxCmdSN]).toEqual([0x2222, 0x3333, 0x4444]);
      expect(p.ttt).toBe(0xffffffff);
    }
    // The SCSI Response the core sends gets ExpDataSN = Data-Ins sent (RFC 7143 §11.4.8).
    target.sendControl(scsiResponse(4));
    expect((await raw.nextOf('scsi-response')).expDataSN).toBe(8);
  });

  it('getData asks with R2Ts: ≤ MaxBurstLength, ≤ MaxOutstandingR2T at a time, R2TSN in order, distinct TTTs', async () => {
    const { target, raw } = await rawInitiator();
    const inbox = new PduInbox(target.pdus);
    const params = defaultNegotiatedParams({ immediateData: false, maxBurstLength: 4096, maxOutstandingR2T: 2 });
    target.enable(params, fixedSequence);
    const data = pattern(4096 * 4 + 100, 5);
    raw.send([scsiCommand(6, data.length, { write: true })]);
    await inbox.nextOf('scsi-command');
    const pending = target.getData({ itt: 6, lun: 0n, expectedDataTransferLength: data.length }, 0, data.length);
    const seen: ReadyToTransferPdu[] = [await raw.nextOf('r2t'), await raw.nextOf('r2t')];
    for (let answered = 0; answered < 5; answered++) {
      // Never more than MaxOutstandingR2T unanswered.
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(raw.pending.filter((p) => p.kind === 'r2t')).toEqual([]);
      const next = seen[answered];
      if (next === undefined) throw new Error('no R2T to answer');
      const slice = data.subarray(next.bufferOffset, next.bufferOffset + next.desiredDataTransferLength);
      raw.send([dataOut(6, { ttt: next.ttt, bufferOffset: next.bufferOffset, data: [slice] })]);
      if (seen.length < 5) seen.push(await raw.nextOf('r2t'));
    }
    expect(Buffer.concat(await pending)).toEqual(data);
    expect(seen.map((r) => r.r2tSN)).toEqual([0, 1, 2, 3, 4]);
    expect(seen.map((r) => r.bufferOffset)).toEqual([0, 4096, 8192, 12288, 16384]);
    expect(seen.map((r) => r.desiredDataTransferLength)).toEqual([4096, 4096, 4096, 4096, 100]);
    expect(new Set(seen.map((r) => r.ttt)).size).toBe(5);
    expect(seen.every((r) => r.statSN === 0x2222 && r.maxCmdSN === 0x4444)).toBe(true);
    target.sendControl(scsiResponse(6));
    expect((await raw.nextOf('scsi-response')).expDataSN).toBe(5);
  });

  it('getData fails with ERR_TCP_DATA_TIMEOUT when the Data-Out never comes, and later Data-Out is dropped', async () => {
    const { target, raw } = await rawInitiator({ dataTimeoutMs: 50 });
    const inbox = new PduInbox(target.pdus);
    target.enable(defaultNegotiatedParams({ immediateData: false }), fixedSequence);
    raw.send([scsiCommand(8, 1000, { write: true })]);
    await inbox.nextOf('scsi-command');
    const request = target.getData({ itt: 8, lun: 0n, expectedDataTransferLength: 1000 }, 0, 1000);
    const asked = await raw.nextOf('r2t');
    await expectCode(request, 'ERR_TCP_DATA_TIMEOUT');
    raw.send([dataOut(8, { ttt: asked.ttt, data: [Buffer.alloc(1000)] }), nopOut(9)]);
    expect((await inbox.nextOf('nop-out')).itt).toBe(9);
  });

  it('initiator answers an R2T with Data-Out from writeData: ≤ the target’s MaxRecvDataSegmentLength, DataSN from 0, F on the last', async () => {
    const { initiator, raw } = await rawTarget();
    const inbox = new PduInbox(initiator.pdus);
    const params = defaultNegotiatedParams({
      immediateData: false,
      maxRecvDataSegmentLength: { initiator: 8192, target: 700 },
    });
    initiator.enable(params, fixedSequence);
    const data = pattern(5000, 6);
    initiator.sendCommand(scsiCommand(3, 5000, { write: true }), {
      writeData: [data.subarray(0, 1), data.subarray(1)],
      immediateLength: 0,
      unsolicitedDataOutLength: 0,
    });
    await raw.nextOf('scsi-command');
    raw.send([r2t(3, { ttt: 0x1234, bufferOffset: 1000, desiredDataTransferLength: 2000 })]);
    const outs: ScsiDataOutPdu[] = [];
    for (let i = 0; i < 3; i++) outs.push(await raw.nextOf('scsi-data-out'));
    expect(outs.map((p) => [p.bufferOffset, Buffer.concat(p.data).length, p.dataSN, p.final, p.ttt])).toEqual([
      [1000, 700, 0, false, 0x1234],
      [1700, 700, 1, false, 0x1234],
      [2400, 600, 2, true, 0x1234],
    ]);
    expect(Buffer.concat(outs.flatMap((p) => p.data))).toEqual(data.subarray(1000, 3000));
    expect(outs.every((p) => p.expStatSN === 0x1111)).toBe(true);
    expect(inbox.pending).toEqual([]);
  });

  it('initiator sends immediate data and the unsolicited Data-Out sequence right behind the command', async () => {
    const { initiator, raw } = await rawTarget();
    const params = defaultNegotiatedParams({
      initialR2T: false,
      firstBurstLength: 3000,
      maxRecvDataSegmentLength: { initiator: 8192, target: 1024 },
    });
    initiator.enable(params, fixedSequence);
    const data = pattern(10_000, 7);
    const lengths = unsolicitedLengths(params, data.length);
    expect(lengths).toEqual({ immediateLength: 1024, unsolicitedDataOutLength: 1976 });
    initiator.sendCommand(scsiCommand(2, data.length, { write: true }), { writeData: [data], ...lengths });
    const command = await raw.nextOf('scsi-command');
    expect(command.final).toBe(false);
    expect(Buffer.concat(command.data)).toEqual(data.subarray(0, 1024));
    const first = await raw.nextOf('scsi-data-out');
    const second = await raw.nextOf('scsi-data-out');
    expect([first.ttt, first.bufferOffset, first.dataSN, first.final]).toEqual([0xffffffff, 1024, 0, false]);
    expect([second.ttt, second.bufferOffset, second.dataSN, second.final]).toEqual([0xffffffff, 2048, 1, true]);
    expect(Buffer.concat([...first.data, ...second.data])).toEqual(data.subarray(1024, 3000));
  });

  it('a Data-In with the S bit completes the task: data placed, status delivered as a SCSI Response', async () => {
    const { initiator, raw, inbox, readBuffer } = await readInFlight(1000);
    raw.send([
      dataIn(1, { final: false, dataSN: 0, bufferOffset: 0, data: [pattern(600, 8)] }),
      dataIn(1, {
        final: true,
        statusPresent: true,
        status: 0,
        residualUnderflow: true,
        residualCount: 24,
        dataSN: 1,
        bufferOffset: 600,
        data: [pattern(376, 9)],
        statSN: 41,
      }),
    ]);
    const response = await inbox.nextOf('scsi-response');
    expect(response).toMatchObject({
      itt: 1,
      status: 0,
      response: 0,
      residualUnderflow: true,
      residualCount: 24,
      statSN: 41,
      expDataSN: 2,
    });
    expect(readBuffer.subarray(0, 600)).toEqual(pattern(600, 8));
    expect(readBuffer.subarray(600, 976)).toEqual(pattern(376, 9));
    initiator.taskDone(1);
  });

  it('CRC32C digests on the wire, both ways, match an independent CRC', async () => {
    const { initiator, raw } = await rawTarget();
    initiator.enable(withDigests(defaultNegotiatedParams()), fixedSequence);
    raw.expectDigests(DIGESTS);
    initiator.sendControl(nopOut(1, [Buffer.from('abcde')]));
    await raw.nextOf('nop-out');
    const wire = Buffer.concat(raw.bytes);
    // BHS, header digest, 5 data bytes + 3 pad, data digest: all little-endian CRC32C.
    expect(wire.length).toBe(48 + 4 + 8 + 4);
    expect(wire.readUInt32LE(48)).toBe(crc32c(wire.subarray(0, 48)));
    expect(wire.readUInt32LE(60)).toBe(crc32c(wire.subarray(52, 60)));
  });
});

describe('TcpConnection: hostile peers', () => {
  it('Data-In outside the read buffer: ERR_TCP_PROTOCOL, closed, no byte written outside', async () => {
    const { raw, inbox, guardsIntact, readBuffer } = await readInFlight(1000);
    raw.send([dataIn(1, { final: false, bufferOffset: 900, data: [Buffer.alloc(200, 0xff)] })]);
    await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
    await raw.ended();
    expect(guardsIntact()).toBe(true);
    expect(readBuffer.every((b) => b === 0xa5)).toBe(true);
  });

  it('Data-In at offset 2^32-1: ERR_TCP_PROTOCOL, nothing written', async () => {
    const { raw, inbox, guardsIntact } = await readInFlight(1000);
    raw.send([dataIn(1, { bufferOffset: 0xffffffff, data: [Buffer.alloc(4, 0xff)] })]);
    await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
    expect(guardsIntact()).toBe(true);
  });

  it('Data-In for an unknown ITT: ERR_TCP_PROTOCOL and closed', async () => {
    const { raw, inbox, guardsIntact } = await readInFlight(1000);
    raw.send([dataIn(0x4242, { data: [Buffer.alloc(10)] })]);
    await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
    await raw.ended();
    expect(guardsIntact()).toBe(true);
  });

  it('a DataSN gap: ERR_TCP_PROTOCOL', async () => {
    const { raw, inbox } = await readInFlight(1000);
    raw.send([
      dataIn(1, { final: false, dataSN: 0, data: [Buffer.alloc(100)] }),
      dataIn(1, { dataSN: 2, bufferOffset: 100, data: [Buffer.alloc(100)] }),
    ]);
    await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
  });

  it('Data-In out of order within a sequence: ERR_TCP_PROTOCOL', async () => {
    const { raw, inbox } = await readInFlight(1000);
    raw.send([
      dataIn(1, { final: false, dataSN: 0, data: [Buffer.alloc(100)] }),
      dataIn(1, { dataSN: 1, bufferOffset: 300, data: [Buffer.alloc(100)] }),
    ]);
    await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
  });

  it('S bit without F: ERR_TCP_PROTOCOL', async () => {
    const { raw, inbox } = await readInFlight(1000);
    raw.send([dataIn(1, { final: false, statusPresent: true, data: [] })]);
    await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
  });

  for (const [name, fields] of [
    ['beyond EDTL', { bufferOffset: 4000, desiredDataTransferLength: 200 }],
    ['above MaxBurstLength', { desiredDataTransferLength: 262145 }],
    ['for 0 bytes', { desiredDataTransferLength: 0 }],
    ['with R2TSN 1 first', { r2tSN: 1 }],
    ['with the reserved TTT', { ttt: 0xffffffff }],
    ['for an unknown ITT', { itt: 0x5555 }],
  ] as const) {
    it(`an R2T ${name}: ERR_TCP_PROTOCOL and closed, no Data-Out`, async () => {
      const { initiator, raw } = await rawTarget();
      const inbox = new PduInbox(initiator.pdus);
      initiator.enable(defaultNegotiatedParams({ immediateData: false }), fixedSequence);
      initiator.sendCommand(scsiCommand(1, 4096, { write: true }), {
        writeData: [Buffer.alloc(4096)],
        immediateLength: 0,
        unsolicitedDataOutLength: 0,
      });
      await raw.nextOf('scsi-command');
      raw.send([r2t(1, fields)]);
      await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
      await raw.ended();
      expect(raw.pending.filter((p) => p.kind === 'scsi-data-out')).toEqual([]);
    });
  }

  it('a target opcode sent to a target: ERR_TCP_PROTOCOL', async () => {
    const { target, raw } = await rawInitiator();
    const inbox = new PduInbox(target.pdus);
    raw.send([nopIn(1)]);
    await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
  });

  async function writeInFlight(params: NegotiatedParams, command = scsiCommand(1, 4096, { write: true })) {
    const setup = await rawInitiator();
    const inbox = new PduInbox(setup.target.pdus);
    setup.target.enable(params, fixedSequence);
    const digests = { headerDigest: params.headerDigest === 'CRC32C', dataDigest: params.dataDigest === 'CRC32C' };
    setup.raw.expectDigests(digests);
    setup.raw.send([command], digests);
    await inbox.nextOf('scsi-command');
    return { ...setup, inbox };
  }

  it('a command reusing a live ITT goes to the core (it Rejects); the live task keeps its data', async () => {
    const params = defaultNegotiatedParams();
    const { target, raw, inbox } = await writeInFlight(params, {
      ...scsiCommand(1, 100, { write: true }),
      data: [pattern(100, 1)],
    });
    raw.send([{ ...scsiCommand(1, 50, { write: true }), data: [pattern(50, 2)] }]);
    const duplicate = await inbox.nextOf('scsi-command');
    expect(duplicate.expectedDataTransferLength).toBe(50);
    const got = await target.getData({ itt: 1, lun: 0n, expectedDataTransferLength: 100 }, 0, 100);
    expect(Buffer.concat(got)).toEqual(pattern(100, 1));
  });

  it('Data-Out for an unknown TTT: ERR_TCP_PROTOCOL, a Reject (Invalid PDU Field) with the header, then closed', async () => {
    const { target, raw, inbox } = await writeInFlight(defaultNegotiatedParams({ immediateData: false }));
    const request = target.getData({ itt: 1, lun: 0n, expectedDataTransferLength: 4096 }, 0, 4096);
    const asked = await raw.nextOf('r2t');
    const bogus = dataOut(1, { ttt: asked.ttt + 1000, data: [Buffer.alloc(512)] });
    raw.send([bogus]);
    await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
    await expectCode(request, 'ERR_TCP_PROTOCOL');
    const reject = await raw.nextOf('reject');
    expect(reject.reason).toBe(RejectReason.InvalidPduField);
    expect(Buffer.concat(reject.data)).toEqual(encodePdu(bogus)[0]);
    await raw.ended();
  });

  it('Data-Out for an unknown ITT: ERR_TCP_PROTOCOL and a Reject', async () => {
    const { raw, inbox } = await writeInFlight(defaultNegotiatedParams({ immediateData: false }));
    raw.send([dataOut(0x7777, { ttt: 5, data: [Buffer.alloc(16)] })]);
    await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
    expect((await raw.nextOf('reject')).reason).toBe(RejectReason.InvalidPduField);
  });

  it('unsolicited Data-Out while InitialR2T=Yes (command F=0): ERR_TCP_PROTOCOL', async () => {
    const setup = await rawInitiator();
    const inbox = new PduInbox(setup.target.pdus);
    setup.target.enable(defaultNegotiatedParams(), fixedSequence);
    setup.raw.send([{ ...scsiCommand(1, 4096, { write: true }), final: false }]);
    await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
  });

  it('Data-Out overrunning its R2T, at the wrong offset, or with a wrong F bit: ERR_TCP_PROTOCOL', async () => {
    for (const bad of [
      (ttt: number) => dataOut(1, { ttt, data: [Buffer.alloc(600)] }),
      (ttt: number) => dataOut(1, { ttt, bufferOffset: 100, final: false, data: [Buffer.alloc(100)] }),
      (ttt: number) => dataOut(1, { ttt, final: false, data: [Buffer.alloc(512)] }),
    ]) {
      const { target, raw, inbox } = await writeInFlight(
        defaultNegotiatedParams({ immediateData: false, maxBurstLength: 512 }),
      );
      const request = target.getData({ itt: 1, lun: 0n, expectedDataTransferLength: 4096 }, 0, 512);
      const asked = await raw.nextOf('r2t');
      raw.send([bad(asked.ttt)]);
      await expectFailure(inbox, 'ERR_TCP_PROTOCOL');
      await expectCode(request, 'ERR_TCP_PROTOCOL');
    }
  });

  it('a corrupted data digest on a Data-In: ERR_TCP_DATA_DIGEST and closed, no byte placed', async () => {
    const params = withDigests(defaultNegotiatedParams());
    const { raw, inbox, readBuffer, guardsIntact } = await readInFlight(1000, params);
    const wire = Buffer.concat(encodePdu(dataIn(1, { data: [pattern(1000, 1)] }), DIGESTS));
    wire[52 + 10] = (wire[52 + 10] ?? 0) ^ 1;
    raw.sendBytes(wire);
    await expectFailure(inbox, 'ERR_TCP_DATA_DIGEST');
    await raw.ended();
    expect(readBuffer.every((b) => b === 0xa5)).toBe(true);
    expect(guardsIntact()).toBe(true);
  });

  it('a corrupted data digest on a Data-Out: the target Rejects (Data Digest Error) and closes', async () => {
    const { target, raw, inbox } = await writeInFlight(withDigests(defaultNegotiatedParams({ immediateData: false })));
    const request = target.getData({ itt: 1, lun: 0n, expectedDataTransferLength: 4096 }, 0, 4096);
    const asked = await raw.nextOf('r2t');
    const wire = Buffer.concat(encodePdu(dataOut(1, { ttt: asked.ttt, data: [Buffer.alloc(4096)] }), DIGESTS));
    wire[wire.length - 1] = (wire[wire.length - 1] ?? 0) ^ 0x80;
    raw.sendBytes(wire);
    await expectFailure(inbox, 'ERR_TCP_DATA_DIGEST');
    await expectCode(request, 'ERR_TCP_DATA_DIGEST');
    expect((await raw.nextOf('reject')).reason).toBe(RejectReason.DataDigestError);
    await raw.ended();
  });

  it('a corrupted header digest: ERR_TCP_FRAMING', async () => {
    const { initiator, raw } = await rawTarget();
    const inbox = new PduInbox(initiator.pdus);
    initiator.enable(withDigests(defaultNegotiatedParams()), fixedSequence);
    const wire = Buffer.concat(encodePdu(nopIn(1), DIGESTS));
    wire[49] = (wire[49] ?? 0) ^ 4;
    raw.sendBytes(wire);
    await expectFailure(inbox, 'ERR_TCP_FRAMING');
  });

  it('a data segment above our MaxRecvDataSegmentLength: ERR_TCP_FRAMING before the data is buffered', async () => {
    const { initiator, raw } = await rawTarget();
    const inbox = new PduInbox(initiator.pdus);
    initiator.enable(
      defaultNegotiatedParams({ maxRecvDataSegmentLength: { initiator: 512, target: 8192 } }),
      fixedSequence,
    );
    raw.sendBytes(Buffer.concat(encodePdu(nopIn(1, [Buffer.alloc(516)]))).subarray(0, 60));
    await expectFailure(inbox, 'ERR_TCP_FRAMING');
  });

  it('a reset connection: ERR_TCP_CONNECTION_LOST; a FIN: the stream completes', async () => {
    const reset = await rawTarget();
    const resetInbox = new PduInbox(reset.initiator.pdus);
    reset.raw.socket.resetAndDestroy();
    await expectFailure(resetInbox, 'ERR_TCP_CONNECTION_LOST');
    const fin = await rawTarget();
    const finInbox = new PduInbox(fin.initiator.pdus);
    fin.raw.socket.end();
    expect(await finInbox.ended()).toEqual({ kind: 'complete' });
  });
});

describe('TcpConnection over connectPair', () => {
  it('reports loopback addresses and kind tcp', async () => {
    const pair = await connectPair();
    cleanups.push(() => pair.close());
    expect(pair.initiator.kind).toBe('tcp');
    expect(pair.initiator.remote).toEqual(pair.target.local);
    expect(pair.target.remote).toEqual(pair.initiator.local);
    expect(pair.initiator.role).toBe('initiator');
    expect(pair.target.role).toBe('target');
  });

  it('a large read (8 MiB, 64 KiB segments) lands byte-exact through socket backpressure', async () => {
    const pair = await connectPair();
    cleanups.push(() => pair.close());
    const params = defaultNegotiatedParams({
      maxRecvDataSegmentLength: { initiator: 65536, target: 65536 },
      maxBurstLength: 1 << 20,
    });
    const fromI = new PduInbox(pair.target.pdus);
    const fromT = new PduInbox(pair.initiator.pdus);
    pair.initiator.enable(params, fixedSequence);
    pair.target.enable(params, fixedSequence);
    const data = pattern(8 << 20, 9);
    const readBuffer = Buffer.alloc(data.length);
    pair.initiator.sendCommand(scsiCommand(1, data.length, { read: true }), {
      readBuffer,
      immediateLength: 0,
      unsolicitedDataOutLength: 0,
    });
    const command = await fromI.nextOf('scsi-command');
    await pair.target.putData({ itt: 1, lun: command.lun, expectedDataTransferLength: data.length }, 0, [data]);
    pair.target.sendControl(scsiResponse(1));
    expect((await fromT.nextOf('scsi-response')).expDataSN).toBe(128);
    expect(readBuffer.equals(data)).toBe(true);
  });
});
