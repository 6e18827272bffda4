/**
 * Flow control of unexpected PDUs (never more outstanding than the peer declared it can take), the zero-copy data
 * path measured with the fabric's copy counter, and orderly teardown (close resolves only after the flushes drained).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { unsolicitedLengths } from '../../../protocol/session/data-sequencing.js';
import { COUNTED_OPCODES, type VerbsCounters } from '../../../sim/fabric/index.js';
import { nopIn, nopOut, pattern, scsiCommand, scsiResponse } from '../datamover-support.js';
import { iserHarness, iserParamsWith, type IserHarness } from './harness.js';

let harness: IserHarness | undefined;
const open = async (options: Parameters<typeof iserHarness>[0] = {}): Promise<IserHarness> => {
  harness = await iserHarness(options);
  return harness;
};
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** Payload bytes every opcode moved. */
function bytesMoved(c: VerbsCounters): number {
  return COUNTED_OPCODES.reduce((sum, op) => sum + c.bytes[op], 0);
}

describe('flow control of unexpected PDUs', () => {
  it('never has more commands or pings outstanding than the target declared (MaxOutstandingUnexpectedPDUs=4)', async () => {
    const h = await open();
    await h.logIn(iserParamsWith({ maxOutstandingUnexpectedPdus: { initiator: 0, target: 4 } }));
    for (let itt = 1; itt <= 6; itt++) {
      h.env.initiator.sendCommand(scsiCommand(itt, 512, { read: true }), {
        readBuffer: Buffer.alloc(512),
        immediateLength: 0,
        unsolicitedDataOutLength: 0,
      });
    }
    for (let itt = 100; itt < 103; itt++) h.env.initiator.sendControl(nopOut(itt));
    await h.env.settle();
    const arrived = (): string[] => h.fromInitiator.pending.map((p) => `${p.kind}:${'itt' in p ? p.itt : ''}`);
    // 4 credits: half for commands, half for the rest.
    expect(arrived()).toEqual(['scsi-command:1', 'scsi-command:2', 'nop-out:100', 'nop-out:101']);
    expect(h.env.initiator.stats.credits).toEqual({
      commands: { outstanding: 2, queued: 4 },
      control: { outstanding: 2, queued: 1 },
    });
    // An answer returns a credit: the next PDU of that kind goes.
    h.env.target.sendControl(scsiResponse(2));
    h.env.target.sendControl(nopIn(100));
    await h.env.settle();
    expect(arrived().slice(4)).toEqual(['scsi-command:3', 'nop-out:102']);
    // A task the core abandons gives its credit back too (and its queued command never goes).
    h.env.initiator.taskDone(6);
    h.env.initiator.taskDone(1);
    await h.env.settle();
    expect(arrived().slice(6)).toEqual(['scsi-command:4']);
    expect(h.env.initiator.stats.credits.commands).toEqual({ outstanding: 2, queued: 1 });
  });

  it('the target keeps its own pings within what the initiator declared', async () => {
    const h = await open();
    await h.logIn(iserParamsWith({ maxOutstandingUnexpectedPdus: { initiator: 2, target: 0 } }));
    for (let ttt = 1; ttt <= 3; ttt++) h.env.target.sendControl({ ...nopIn(0xffffffff), ttt });
    await h.env.settle();
    expect(h.fromTarget.pending.map((p) => (p.kind === 'nop-in' ? p.ttt : -1))).toEqual([1, 2]);
    h.env.initiator.sendControl({ ...nopOut(0xffffffff), ttt: 1 });
    await h.env.settle();
    expect(h.fromTarget.pending.map((p) => (p.kind === 'nop-in' ? p.ttt : -1))).toEqual([1, 2, 3]);
  });
});

describe('zero copy', () => {
  it('moves each payload byte exactly once (the RDMA itself): 1 MiB written and 1 MiB read from caller buffers', async () => {
    const h = await open();
    const params = await h.logIn(iserParamsWith({ immediateData: true, initialR2T: true }));
    const before = h.fabric.connectionCounters(1);
    const statsBefore = { initiator: h.env.initiator.stats, target: h.env.target.stats };
    const size = 1 << 20;
    const out = pattern(size, 1);
    const lengths = unsolicitedLengths(params, size);
    expect(lengths.immediateLength).toBe(8192);
    h.env.initiator.sendCommand(scsiCommand(1, size, { write: true }), { writeData: [out], ...lengths });
    const write = await h.run(h.fromInitiator.nextOf('scsi-command'));
    const got = await h.run(
      h.env.target.getData({ itt: 1, lun: write.lun, expectedDataTransferLength: size }, 0, size),
    );
    expect(Buffer.concat(got).equals(out)).toBe(true);
    // Immediate data: a view of the receive buffer it landed in; the rest: the buffer the RDMA Read filled.
    expect(got.map((c) => c.length)).toEqual([8192, size - 8192]);
    h.env.target.sendControl(scsiResponse(1));
    const back = pattern(size, 2);
    const readBuffer = Buffer.alloc(size);
    h.env.initiator.sendCommand(scsiCommand(2, size, { read: true }), {
      readBuffer,
      immediateLength: 0,
      unsolicitedDataOutLength: 0,
    });
    const read = await h.run(h.fromInitiator.nextOf('scsi-command'));
    await h.run(h.env.target.putData({ itt: 2, lun: read.lun, expectedDataTransferLength: size }, 0, [back]));
    h.env.target.sendControl(scsiResponse(2));
    await h.run(h.fromTarget.nextOf('scsi-response'));
    await h.run(h.fromTarget.nextOf('scsi-response'));
    expect(readBuffer.equals(back)).toBe(true);

    const after = h.fabric.connectionCounters(1);
    const moved = bytesMoved(after) - bytesMoved(before);
    const copied = after.copies.bytes - before.copies.bytes;
    // Every byte the fabric moved was copied once, and only once.
    expect(copied).toBe(moved);
    expect(after.bytes.RDMA_WRITE - before.bytes.RDMA_WRITE).toBe(size);
    expect(after.bytes.RDMA_READ - before.bytes.RDMA_READ).toBe(size - 8192);
    // What is not RDMA is four Sends: two commands (one with 8192 bytes of immediate data) and two responses.
    const sendBytes = moved - (2 * size - 8192);
    expect(sendBytes).toBe(4 * 76 + 8192);
    // Payload bytes copied = bytes the SCSI layer moved (2 MiB); no bounce, no copy of our own.
    expect(copied - 4 * 76).toBe(2 * size);
    for (const side of ['initiator', 'target'] as const) {
      const stats = h.env[side].stats;
      expect(stats.registrations).toMatchObject({ bounced: 0, bounceBytes: 0 });
      expect(stats.controlCopyBytes).toBe(statsBefore[side].controlCopyBytes);
    }
    h.env.initiator.taskDone(1);
    h.env.initiator.taskDone(2);
    h.env.target.taskDone(1);
    h.env.target.taskDone(2);
    expect(h.env.target.stats.receiveBuffersLent).toBe(0);
  });

  it('memory the provider refuses to register (Node’s shared pool) goes through a counted bounce buffer', async () => {
    const h = await open();
    await h.logIn(iserParamsWith({ immediateData: false }));
    const small = Buffer.from('pooled slab: a small Buffer.from string', 'latin1');
    h.env.initiator.sendCommand(scsiCommand(1, small.length, { write: true }), {
      writeData: [small],
      immediateLength: 0,
      unsolicitedDataOutLength: 0,
    });
    const command = await h.run(h.fromInitiator.nextOf('scsi-command'));
    const got = await h.run(
      h.env.target.getData({ itt: 1, lun: command.lun, expectedDataTransferLength: small.length }, 0, small.length),
    );
    expect(Buffer.concat(got)).toEqual(small);
    expect(h.env.initiator.stats.registrations).toMatchObject({ bounced: 1, bounceBytes: small.length });
  });
});

describe('teardown', () => {
  it('close() disconnects, and resolves only once the flushes have drained; the peer sees an orderly end', async () => {
    const h = await open();
    await h.logIn();
    h.env.initiator.sendCommand(scsiCommand(1, 4096, { read: true }), {
      readBuffer: Buffer.alloc(4096),
      immediateLength: 0,
      unsolicitedDataOutLength: 0,
    });
    await h.run(h.fromInitiator.nextOf('scsi-command'));
    const posted = h.env.initiator.stats.receivesPosted;
    expect(posted).toBeGreaterThan(0);
    await h.run(
      h.env.initiator.close().then(() => {
        h.tap.log.push('initiator:close-resolved');
      }),
    );
    const order = ['initiator:disconnect', 'initiator:drained', 'initiator:close-resolved'].map((e) =>
      h.tap.log.indexOf(e),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // Every receive still posted came back flushed.
    expect(h.fabric.connectionCounters(1).errors.WR_FLUSH_ERR ?? 0).toBeGreaterThanOrEqual(posted);
    expect(await h.run(h.fromTarget.ended())).toEqual({ kind: 'complete' });
    expect(await h.run(h.fromInitiator.ended())).toEqual({ kind: 'complete' });
  });

  it('a pulled cable ends both ends (pending calls fail) and both still close', async () => {
    const h = await open();
    await h.logIn(iserParamsWith({ immediateData: false }));
    h.env.initiator.sendCommand(scsiCommand(1, 1 << 20, { write: true }), {
      writeData: [Buffer.alloc(1 << 20)],
      immediateLength: 0,
      unsolicitedDataOutLength: 0,
    });
    const command = await h.run(h.fromInitiator.nextOf('scsi-command'));
    const pending = h.env.target
      .getData({ itt: 1, lun: command.lun, expectedDataTransferLength: 1 << 20 }, 0, 1 << 20)
      .catch((err: unknown) => err);
    h.fabric.pullCable();
    const failure = await h.run(pending);
    expect((failure as { code?: string }).code).toMatch(/^ERR_ISER_/);
    await h.run(Promise.all([h.env.initiator.close(), h.env.target.close()]));
    expect(h.tap.log).toContain('initiator:drained');
    expect(h.tap.log).toContain('target:drained');
  });
});
