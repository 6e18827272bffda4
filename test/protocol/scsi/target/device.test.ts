import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../../backends/memory.js';
import * as cdb from '../../../../protocol/scsi/cdb/build.js';
import { decodeStandardInquiry } from '../../../../protocol/scsi/data/inquiry.js';
import { decodeReportLuns } from '../../../../protocol/scsi/data/report-luns.js';
import { ScsiTargetError } from '../../../../protocol/scsi/errors.js';
import { AdditionalSense as A, SenseKey as K } from '../../../../protocol/scsi/sense-codes.js';
import { decodeSense } from '../../../../protocol/scsi/sense.js';
import { ScsiTargetDevice } from '../../../../protocol/scsi/target/device.js';
import { LogicalUnit } from '../../../../protocol/scsi/target/logical-unit.js';
import type { ScsiNexus, TargetCommand } from '../../../../protocol/scsi/target/types.js';
import { check, good, NEXUS_A, NEXUS_B, run, type Executor } from './harness.js';

/** The device seen through one LUN, so the shared harness can drive it. */
function atLun(device: ScsiTargetDevice, lun: number): Executor {
  return { execute: (command) => device.execute({ ...command, lun } satisfies TargetCommand) };
}

function makeDevice(luns: number[]): ScsiTargetDevice {
  const device = new ScsiTargetDevice();
  for (const lun of luns) device.attach(lun, new LogicalUnit({ backend: new MemoryBackend(64 * (lun + 1)) }));
  return device;
}

async function clearAttentions(target: Executor, nexus: ScsiNexus = NEXUS_A): Promise<void> {
  while ((await run(target, cdb.testUnitReady(), { nexus })).sense?.key === K.UnitAttention) {
    // keep going
  }
}

describe('ScsiTargetDevice', () => {
  it('reports its LUNs through any LUN, including one with no unit', async () => {
    const device = makeDevice([0, 3, 300]);
    for (const lun of [0, 3, 7]) {
      const data = await good(atLun(device, lun), cdb.reportLuns());
      expect(decodeReportLuns(data)).toEqual({ luns: [0, 3, 300], otherLuns: [], listLength: 24 });
    }
    expect(decodeReportLuns(await good(atLun(device, 0), cdb.reportLuns({ selectReport: 2 }))).luns).toEqual([
      0, 3, 300,
    ]);
    expect(decodeReportLuns(await good(atLun(device, 0), cdb.reportLuns({ selectReport: 1 }))).luns).toEqual([]);
    await check(atLun(device, 0), cdb.reportLuns({ selectReport: 0x10 }), K.IllegalRequest, A.InvalidFieldInCdb);
    await check(atLun(device, 0), cdb.reportLuns({ allocationLength: 8 }), K.IllegalRequest, A.InvalidFieldInCdb);
    expect((await good(atLun(device, 0), cdb.reportLuns({ allocationLength: 16 }))).length).toBe(16);
  });

  it('answers INQUIRY for a LUN with no unit with qualifier 011b and device type 1Fh', async () => {
    const device = makeDevice([0]);
    const inq = decodeStandardInquiry(await good(atLun(device, 5), cdb.inquiry()));
    expect([inq.qualifier, inq.deviceType]).toEqual([3, 0x1f]);
    const present = decodeStandardInquiry(await good(atLun(device, 0), cdb.inquiry()));
    expect([present.qualifier, present.deviceType]).toEqual([0, 0]);
    await check(
      atLun(device, 5),
      cdb.inquiry({ evpd: true, pageCode: 0x80 }),
      K.IllegalRequest,
      A.LogicalUnitNotSupported,
    );
  });

  it('answers LOGICAL UNIT NOT SUPPORTED for other commands to a LUN with no unit (REQUEST SENSE as data)', async () => {
    const device = makeDevice([0]);
    for (const bytes of [
      cdb.testUnitReady(),
      cdb.read10({ lba: 0, blocks: 1 }),
      Buffer.from([0x37, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    ]) {
      await check(atLun(device, 1), bytes, K.IllegalRequest, A.LogicalUnitNotSupported);
    }
    const sense = decodeSense(await good(atLun(device, 1), cdb.requestSense()));
    expect([sense.key, sense.asc, sense.ascq]).toEqual([K.IllegalRequest, 0x25, 0]);
  });

  it('routes commands to their unit', async () => {
    const device = makeDevice([0, 1]);
    const lun1 = atLun(device, 1);
    await clearAttentions(lun1);
    await good(lun1, cdb.write10({ lba: 0, blocks: 1 }), { dataOut: Buffer.alloc(512, 1) });
    await clearAttentions(atLun(device, 0));
    expect((await good(atLun(device, 0), cdb.read10({ lba: 0, blocks: 1 })))[0]).toBe(0);
    expect((await good(lun1, cdb.read10({ lba: 0, blocks: 1 })))[0]).toBe(1);
    expect((await good(lun1, cdb.readCapacity10())).readUInt32BE(0)).toBe(127);
  });

  it('raises REPORTED LUNS DATA HAS CHANGED on the other units when LUNs come and go; REPORT LUNS clears it', async () => {
    const device = makeDevice([0]);
    const lun0 = atLun(device, 0);
    await clearAttentions(lun0);
    device.attach(1, new LogicalUnit({ backend: new MemoryBackend(8) }));
    await good(lun0, cdb.reportLuns());
    await good(lun0, cdb.testUnitReady());
    device.detach(1);
    await check(lun0, cdb.testUnitReady(), K.UnitAttention, A.ReportedLunsDataHasChanged);
    expect(device.detach(1)).toBeUndefined();
  });

  it('resets one unit or all of them; nexus loss reaches every unit', async () => {
    const device = makeDevice([0, 1]);
    for (const lun of [0, 1]) await clearAttentions(atLun(device, lun));
    device.reset('lun-reset', 1);
    await good(atLun(device, 0), cdb.testUnitReady());
    await check(atLun(device, 1), cdb.testUnitReady(), K.UnitAttention, A.BusDeviceResetFunctionOccurred);
    device.reset('target-warm-reset');
    await check(atLun(device, 0), cdb.testUnitReady(), K.UnitAttention, A.ScsiBusResetOccurred);
    await check(atLun(device, 1), cdb.testUnitReady(), K.UnitAttention, A.ScsiBusResetOccurred);
    await clearAttentions(atLun(device, 0), NEXUS_B);
    device.nexusLost(NEXUS_B);
    await good(atLun(device, 0), cdb.testUnitReady());
    await check(atLun(device, 0), cdb.testUnitReady(), K.UnitAttention, A.ITNexusLossOccurred, { nexus: NEXUS_B });
    expect(() => {
      device.reset('lun-reset');
    }).toThrow(ScsiTargetError);
  });

  it('tells the transport how many bytes a CDB moves, with the unit block size', () => {
    const device = new ScsiTargetDevice();
    device.attach(0, new LogicalUnit({ backend: new MemoryBackend(8, { blockSize: 4096 }) }));
    expect(device.transferLengths(0, cdb.write10({ lba: 0, blocks: 2 }))).toEqual({ dataOut: 8192, dataIn: 0 });
    expect(device.transferLengths(9, cdb.write10({ lba: 0, blocks: 2 }))).toEqual({ dataOut: 1024, dataIn: 0 });
  });

  it('refuses bad LUNs and double attachment', () => {
    const device = makeDevice([0]);
    const unit = new LogicalUnit({ backend: new MemoryBackend(8) });
    expect(() => {
      device.attach(0, unit);
    }).toThrow(ScsiTargetError);
    expect(() => {
      device.attach(0x4000, unit);
    }).toThrow(ScsiTargetError);
    expect(() => {
      device.attach(-1, unit);
    }).toThrow(ScsiTargetError);
    expect(device.unit(0)).toBeInstanceOf(LogicalUnit);
  });
});
