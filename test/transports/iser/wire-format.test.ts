/**
 * What iSER puts on the wire, checked on every Send the tap saw: [iSER header | BHS | AHS | data] with no padding
 * and no digest, the flags and STags of each PDU, the Write VA rule with immediate and unsolicited data, no Data-In,
 * no R2T and no solicited Data-Out ever, RDMA operations aimed at the advertised STags, Send with Invalidate, and
 * bytesRead from the residual.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BHS_LENGTH, ISER_HEADER_LENGTH, RESERVED_TAG } from '../../../protocol/pdu/index.js';
import { unsolicitedLengths } from '../../../protocol/session/data-sequencing.js';
import { nopOut, scsiCommand, scsiResponse, textRequest } from '../datamover-support.js';
import { decodeSend, iserHarness, iserParamsWith, type DecodedSend, type IserHarness } from './harness.js';

let harness: IserHarness | undefined;
const open = async (options: Parameters<typeof iserHarness>[0] = {}): Promise<IserHarness> => {
  harness = await iserHarness(options);
  return harness;
};
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** The initiator's Sends after login, decoded. */
function initiatorSends(h: IserHarness, from: number): DecodedSend[] {
  return h.tap.sendsOf('initiator').slice(from).map(decodeSend);
}

describe('the Sends of an iSER connection', () => {
  it('a write: command with WSV and Write VA past the immediate + unsolicited data, then Data-Outs with no STags', async () => {
    const h = await open();
    const params = await h.logIn(
      iserParamsWith({
        immediateData: true,
        initialR2T: false,
        firstBurstLength: 16_384,
        maxRecvDataSegmentLength: { initiator: 8192, target: 4096 },
      }),
    );
    const before = h.tap.sendsOf('initiator').length;
    const data = Buffer.alloc(50_001, 0x5a);
    const lengths = unsolicitedLengths(params, data.length);
    expect(lengths).toEqual({ immediateLength: 4096, unsolicitedDataOutLength: 12_288 });
    h.env.initiator.sendCommand(scsiCommand(0x77, data.length, { write: true }), { writeData: [data], ...lengths });
    const command = await h.run(h.fromInitiator.nextOf('scsi-command'));
    const sends = initiatorSends(h, before);
    expect(sends.map((s) => s.pdu.kind)).toEqual(['scsi-command', 'scsi-data-out', 'scsi-data-out', 'scsi-data-out']);
    const [cmd, ...dataOuts] = sends as [DecodedSend, ...DecodedSend[]];
    // Control-type PDU (0x10) with WSV (0x08), no RSV: a write that reads nothing.
    expect(cmd.flags).toBe(0x18);
    expect(cmd.header.subarray(1, 4)).toEqual(Buffer.alloc(3));
    // The immediate data is the second SGE: the caller's registered buffer, so its region gives the base address.
    const dataSge = cmd.tapped.wr.sgl[1];
    expect(dataSge?.mr.buffer.buffer).toBe(data.buffer);
    const base = (dataSge?.mr.addr ?? 0n) + BigInt(dataSge?.offset ?? 0);
    expect(cmd.iser.write).toEqual({ stag: dataSge?.mr.rkey, va: base + 16_384n });
    expect(cmd.iser.read).toBeUndefined();
    expect(cmd.length).toBe(ISER_HEADER_LENGTH + BHS_LENGTH + 4096);
    expect(command.final).toBe(false);
    dataOuts.forEach((send, i) => {
      expect(send.flags).toBe(0x10);
      expect(send.header.subarray(1)).toEqual(Buffer.alloc(27));
      expect(send.pdu).toMatchObject({
        kind: 'scsi-data-out',
        itt: 0x77,
        ttt: RESERVED_TAG,
        dataSN: i,
        bufferOffset: 4096 + i * 4096,
        final: i === 2,
      });
      expect(send.length).toBe(ISER_HEADER_LENGTH + BHS_LENGTH + 4096);
    });
    // The target reads exactly the rest, from exactly there.
    const got = await h.run(
      h.env.target.getData({ itt: 0x77, lun: command.lun, expectedDataTransferLength: data.length }, 0, data.length),
    );
    expect(Buffer.concat(got)).toEqual(data);
    const reads = h.tap.sends.filter((s) => s.side === 'target' && s.wr.opcode === 'RDMA_READ');
    expect(reads.map((r) => r.wr)).toMatchObject([{ rkey: dataSge?.mr.rkey, remoteAddr: base + 16_384n }]);
    expect(reads[0]?.bytes.length).toBe(50_001 - 16_384);
  });

  it('WSV only when solicited data remains; RSV with the read buffer’s STag; reads land by RDMA Write there', async () => {
    const h = await open();
    const params = await h.logIn(iserParamsWith({ immediateData: true, initialR2T: true }));
    const before = h.tap.sendsOf('initiator').length;
    const small = Buffer.alloc(3000, 1);
    h.env.initiator.sendCommand(scsiCommand(1, small.length, { write: true }), {
      writeData: [small],
      ...unsolicitedLengths(params, small.length),
    });
    const readBuffer = Buffer.alloc(10_000);
    h.env.initiator.sendCommand(scsiCommand(2, readBuffer.length, { read: true }), {
      readBuffer,
      immediateLength: 0,
      unsolicitedDataOutLength: 0,
    });
    await h.run(h.fromInitiator.nextOf('scsi-command'));
    const readCommand = await h.run(h.fromInitiator.nextOf('scsi-command'));
    const [write, read] = initiatorSends(h, before) as [DecodedSend, DecodedSend];
    expect(write.flags).toBe(0x10);
    expect(write.iser).toEqual({ kind: 'control' });
    expect(write.header.subarray(1)).toEqual(Buffer.alloc(27));
    expect(read.flags).toBe(0x14);
    expect(read.iser.write).toBeUndefined();
    const stag = read.iser.read?.stag ?? -1;
    const va = read.iser.read?.va ?? -1n;
    const payload = Buffer.alloc(10_000, 9);
    const ref = { itt: 2, lun: readCommand.lun, expectedDataTransferLength: 10_000 };
    await h.run(h.env.target.putData(ref, 0, [payload.subarray(0, 6000)]));
    await h.run(h.env.target.putData(ref, 6000, [payload.subarray(6000)]));
    const writes = h.tap.sends.filter((s) => s.side === 'target' && s.wr.opcode === 'RDMA_WRITE').map((s) => s.wr);
    expect(writes).toMatchObject([
      { rkey: stag, remoteAddr: va },
      { rkey: stag, remoteAddr: va + 6000n },
    ]);
    h.env.target.sendControl(scsiResponse(2));
    await h.run(h.fromTarget.nextOf('scsi-response'));
    expect(readBuffer).toEqual(payload);
  });

  it('no padding and no digest: a Send is exactly 28 + 48 + AHS + DataSegmentLength bytes', async () => {
    const h = await open();
    await h.logIn();
    const before = h.tap.sendsOf('initiator').length;
    h.env.initiator.sendControl(nopOut(1, [Buffer.from('odd')]));
    h.env.initiator.sendControl(textRequest(2, 'X=12345\0'));
    // A 17-byte CDB needs an extended-CDB AHS (4 bytes of header + 1 byte of CDB, padded to 8).
    h.env.initiator.sendCommand(
      { ...scsiCommand(3, 0, {}), cdb: Buffer.alloc(17, 1) },
      { immediateLength: 0, unsolicitedDataOutLength: 0 },
    );
    await h.run(h.fromInitiator.nextOf('nop-out'));
    await h.run(h.fromInitiator.nextOf('text-request'));
    const command = await h.run(h.fromInitiator.nextOf('scsi-command'));
    expect(command.cdb).toEqual(Buffer.alloc(17, 1));
    expect(initiatorSends(h, before).map((s) => s.length)).toEqual([76 + 3, 76 + 8, 76 + 8]);
  });

  it('the target never sends Data-In or R2T, and the initiator never sends solicited Data-Out', async () => {
    const h = await open();
    const params = await h.logIn(
      iserParamsWith({
        immediateData: true,
        initialR2T: false,
        firstBurstLength: 8192,
        maxRecvDataSegmentLength: { initiator: 8192, target: 4096 },
      }),
    );
    for (let itt = 1; itt <= 6; itt++) {
      const size = 20_000 + itt * 777;
      if (itt % 2 === 0) {
        h.env.initiator.sendCommand(scsiCommand(itt, size, { read: true }), {
          readBuffer: Buffer.alloc(size),
          immediateLength: 0,
          unsolicitedDataOutLength: 0,
        });
      } else {
        h.env.initiator.sendCommand(scsiCommand(itt, size, { write: true }), {
          writeData: [Buffer.alloc(size, itt)],
          ...unsolicitedLengths(params, size),
        });
      }
    }
    for (let i = 0; i < 6; i++) {
      const command = await h.run(h.fromInitiator.nextOf('scsi-command'));
      const ref = {
        itt: command.itt,
        lun: command.lun,
        expectedDataTransferLength: command.expectedDataTransferLength,
      };
      if (command.read) await h.run(h.env.target.putData(ref, 0, [Buffer.alloc(ref.expectedDataTransferLength, 3)]));
      else await h.run(h.env.target.getData(ref, 0, ref.expectedDataTransferLength));
      h.env.target.sendControl(scsiResponse(command.itt));
    }
    for (let i = 0; i < 6; i++) await h.run(h.fromTarget.nextOf('scsi-response'));
    const targetKinds = new Set(h.tap.sendsOf('target').map((s) => decodeSend(s).pdu.kind));
    expect(targetKinds).toEqual(new Set(['login-response', 'scsi-response']));
    const initiatorPdus = h.tap.sendsOf('initiator').map((s) => decodeSend(s).pdu);
    expect(initiatorPdus.filter((p) => p.kind === 'scsi-data-out').length).toBeGreaterThan(0);
    for (const pdu of initiatorPdus) {
      if (pdu.kind === 'scsi-data-out') expect(pdu.ttt).toBe(RESERVED_TAG);
    }
    expect(h.tap.sends.filter((s) => s.side === 'target' && s.wr.opcode === 'RDMA_WRITE').length).toBe(3);
    expect(h.tap.sends.filter((s) => s.side === 'target' && s.wr.opcode === 'RDMA_READ').length).toBe(3);
  });
});

describe('task completion', () => {
  it('the SCSI Response goes with invalidate of the Read STag; the initiator skips that region when it releases', async () => {
    const h = await open();
    await h.logIn();
    const readBuffer = Buffer.alloc(4096);
    h.env.initiator.sendCommand(scsiCommand(5, 4096, { read: true }), {
      readBuffer,
      immediateLength: 0,
      unsolicitedDataOutLength: 0,
    });
    const command = await h.run(h.fromInitiator.nextOf('scsi-command'));
    const stag = decodeSend(h.tap.sendsOf('initiator').at(-1) ?? (undefined as never)).iser.read?.stag;
    await h.run(
      h.env.target.putData({ itt: 5, lun: command.lun, expectedDataTransferLength: 4096 }, 0, [Buffer.alloc(4096, 8)]),
    );
    h.env.target.sendControl(scsiResponse(5));
    await h.run(h.fromTarget.nextOf('scsi-response'));
    const response = h.tap.sendsOf('target').at(-1)?.wr;
    expect(response).toMatchObject({ opcode: 'SEND_WITH_INV', invalidateRkey: stag });
    h.env.initiator.taskDone(5);
    h.env.target.taskDone(5);
    expect(readBuffer).toEqual(Buffer.alloc(4096, 8));
    // The connection goes on.
    h.env.initiator.sendControl(nopOut(6));
    expect((await h.run(h.fromInitiator.nextOf('nop-out'))).itt).toBe(6);
  });

  it('without send-with-invalidate the response is a plain Send', async () => {
    const h = await open({ fabric: { caps: { sendWithInvalidate: false } } });
    await h.logIn();
    h.env.initiator.sendCommand(scsiCommand(5, 100, { read: true }), {
      readBuffer: Buffer.alloc(100),
      immediateLength: 0,
      unsolicitedDataOutLength: 0,
    });
    await h.run(h.fromInitiator.nextOf('scsi-command'));
    h.env.target.sendControl(scsiResponse(5));
    await h.run(h.fromTarget.nextOf('scsi-response'));
    expect(h.tap.sendsOf('target').at(-1)?.wr.opcode).toBe('SEND');
  });

  it('bytesRead is the read length minus the residual (there is no Data-In to count)', async () => {
    const h = await open();
    await h.logIn();
    h.env.initiator.sendCommand(scsiCommand(8, 10_000, { read: true }), {
      readBuffer: Buffer.alloc(10_000),
      immediateLength: 0,
      unsolicitedDataOutLength: 0,
    });
    const command = await h.run(h.fromInitiator.nextOf('scsi-command'));
    await h.run(
      h.env.target.putData({ itt: 8, lun: command.lun, expectedDataTransferLength: 10_000 }, 0, [
        Buffer.alloc(7000, 1),
      ]),
    );
    h.env.target.sendControl({ ...scsiResponse(8), residualUnderflow: true, residualCount: 3000 });
    await h.run(h.fromTarget.nextOf('scsi-response'));
    expect(h.env.initiator.taskResult(8)).toMatchObject({ bytesRead: 7000 });
    h.env.initiator.taskDone(8);
    expect(h.env.initiator.taskResult(8)).toBeUndefined();
  });
});
