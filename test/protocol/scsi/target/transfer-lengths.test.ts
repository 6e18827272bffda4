import { describe, expect, it } from 'vitest';
import * as cdb from '../../../../protocol/scsi/cdb/build.js';
import { cdbTransferLengths } from '../../../../protocol/scsi/target/transfer-lengths.js';

describe('cdbTransferLengths', () => {
  it('counts data-out exactly and data-in at most, per command', () => {
    const cases: [Buffer, number, number][] = [
      [cdb.read16({ lba: 0, blocks: 3 }), 0, 1536],
      [cdb.read6({ lba: 0, blocks: 256 }), 0, 256 * 512],
      [cdb.write10({ lba: 0, blocks: 2 }), 1024, 0],
      [cdb.writeAndVerify({ lba: 0, blocks: 2 }), 1024, 0],
      [cdb.verify({ lba: 0, blocks: 4 }), 0, 0],
      [cdb.verify({ lba: 0, blocks: 4, bytchk: 1 }), 2048, 0],
      [cdb.verify({ lba: 0, blocks: 4, bytchk: 3 }), 512, 0],
      [cdb.compareAndWrite({ lba: 0, blocks: 3 }), 3072, 0],
      [cdb.writeSame({ lba: 0, blocks: 100 }), 512, 0],
      [cdb.writeSame({ lba: 0, blocks: 100, ndob: true }), 0, 0],
      [cdb.unmap({ parameterListLength: 24 }), 24, 0],
      [cdb.modeSelect({ parameterListLength: 28 }), 28, 0],
      [cdb.persistentReserveOut({ serviceAction: 0 }), 24, 0],
      [cdb.inquiry({ allocationLength: 255 }), 0, 255],
      [cdb.readCapacity10(), 0, 8],
      [cdb.readCapacity16(), 0, 32],
      [cdb.reportLuns({ allocationLength: 512 }), 0, 512],
      [cdb.modeSense({ pageCode: 0x3f, allocationLength: 1000 }), 0, 1000],
      [cdb.testUnitReady(), 0, 0],
      [cdb.synchronizeCache(), 0, 0],
      [Buffer.from([0x37, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 0, 0],
      [Buffer.from([0x28]), 0, 0],
    ];
    for (const [bytes, dataOut, dataIn] of cases) {
      expect(cdbTransferLengths(bytes, 512), bytes.toString('hex')).toEqual({ dataOut, dataIn });
    }
  });
});
