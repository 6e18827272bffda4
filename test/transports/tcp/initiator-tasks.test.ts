import { describe, expect, it } from 'vitest';
import type { ScsiCommandPdu, ScsiDataInPdu } from '../../../protocol/pdu/index.js';
import { InitiatorTasks } from '../../../transports/tcp/initiator-tasks.js';
import { defaultNegotiatedParams } from '../../support/datamover-pair.js';

const HEADER = Buffer.alloc(48);

function command(itt: number, readLength: number): ScsiCommandPdu {
  return {
    kind: 'scsi-command',
    immediate: false,
    final: true,
    read: true,
    write: false,
    attribute: 0,
    lun: 0n,
    itt,
    expectedDataTransferLength: readLength,
    cmdSN: 1,
    expStatSN: 1,
    cdb: Buffer.alloc(16),
    data: [],
  };
}

function dataIn(itt: number, dataSN: number, offset: number, data: Buffer, end?: { underflow: number }): ScsiDataInPdu {
  return {
    kind: 'scsi-data-in',
    final: end !== undefined || dataSN === 0,
    acknowledge: false,
    residualOverflow: false,
    residualUnderflow: (end?.underflow ?? 0) > 0,
    statusPresent: end !== undefined,
    status: 0,
    lun: 0n,
    itt,
    ttt: 0xffffffff,
    statSN: 1,
    expCmdSN: 2,
    maxCmdSN: 2,
    dataSN,
    bufferOffset: offset,
    residualCount: end?.underflow ?? 0,
    data: [data],
  };
}

/** A read buffer holding an earlier command's bytes, as an uninitialised slab piece may. */
const stale = (n: number): Buffer => Buffer.alloc(n, 0xee);

describe('InitiatorTasks: bytes no Data-In placed are zero when the status is delivered', () => {
  const params = defaultNegotiatedParams();
  const buffers = (readBuffer: Buffer) => ({ readBuffer, immediateLength: 0, unsolicitedDataOutLength: 0 });

  it('zeroes the tail of a short read (underflow) in the Data-In that carries the status', () => {
    const tasks = new InitiatorTasks();
    const buffer = stale(4096);
    tasks.add(command(1, 4096), buffers(buffer), 0, params);
    const response = tasks.dataIn(dataIn(1, 0, 0, Buffer.alloc(1000, 7), { underflow: 3096 }), params, HEADER);
    expect(response?.kind).toBe('scsi-response');
    expect(buffer.subarray(0, 1000).every((b) => b === 7)).toBe(true);
    expect(buffer.subarray(1000).every((b) => b === 0)).toBe(true);
  });

  it('zeroes a gap a later in-order sequence skipped', () => {
    const tasks = new InitiatorTasks();
    const buffer = stale(300);
    tasks.add(command(2, 300), buffers(buffer), 0, params);
    tasks.dataIn(dataIn(2, 0, 0, Buffer.alloc(100, 1)), params, HEADER);
    tasks.dataIn(dataIn(2, 1, 200, Buffer.alloc(100, 2), { underflow: 0 }), params, HEADER);
    expect(buffer.subarray(0, 100).every((b) => b === 1)).toBe(true);
    expect(buffer.subarray(100, 200).every((b) => b === 0)).toBe(true);
    expect(buffer.subarray(200).every((b) => b === 2)).toBe(true);
  });

  it('zeroes the unplaced bytes when a separate SCSI Response arrives', () => {
    const tasks = new InitiatorTasks();
    const buffer = stale(1024);
    tasks.add(command(3, 1024), buffers(buffer), 0, params);
    tasks.dataIn(dataIn(3, 0, 0, Buffer.alloc(512, 5)), params, HEADER);
    tasks.response(3);
    expect(buffer.subarray(0, 512).every((b) => b === 5)).toBe(true);
    expect(buffer.subarray(512).every((b) => b === 0)).toBe(true);
  });

  it('zeroes the whole buffer up front when data may come out of order', () => {
    const outOfOrder = defaultNegotiatedParams({ dataPduInOrder: false, dataSequenceInOrder: false });
    const tasks = new InitiatorTasks();
    const buffer = stale(600);
    tasks.add(command(4, 600), buffers(buffer), 0, outOfOrder);
    expect(buffer.every((b) => b === 0)).toBe(true);
    tasks.dataIn(dataIn(4, 0, 400, Buffer.alloc(100, 9)), outOfOrder, HEADER);
    tasks.response(4);
    expect(buffer.subarray(0, 400).every((b) => b === 0)).toBe(true);
    expect(buffer.subarray(400, 500).every((b) => b === 9)).toBe(true);
    expect(buffer.subarray(500).every((b) => b === 0)).toBe(true);
  });
});
