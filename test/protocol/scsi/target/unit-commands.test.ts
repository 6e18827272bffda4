import { describe, expect, it, vi } from 'vitest';
import { FileBackendLike } from './file-backend-like.js';
import { MemoryBackend } from '../../../../backends/memory.js';
import * as cdb from '../../../../protocol/scsi/cdb/build.js';
import { decodeReadCapacity10, decodeReadCapacity16 } from '../../../../protocol/scsi/data/capacity.js';
import { decodeStandardInquiry, VersionDescriptor } from '../../../../protocol/scsi/data/inquiry.js';
import { decodeControlPage, decodeModeParameters } from '../../../../protocol/scsi/data/mode.js';
import { decodeReportLuns } from '../../../../protocol/scsi/data/report-luns.js';
import { decodeAllCommands, decodeOneCommand } from '../../../../protocol/scsi/data/supported-opcodes.js';
import {
  decodeBlockDeviceCharacteristics,
  decodeBlockLimits,
  decodeDeviceIdentification,
  decodeLogicalBlockProvisioning,
  decodeSupportedVpdPages,
  decodeUnitSerialNumber,
} from '../../../../protocol/scsi/data/vpd.js';
import { AdditionalSense as A, SenseKey as K } from '../../../../protocol/scsi/sense-codes.js';
import { SUPPORTED_COMMANDS } from '../../../../protocol/scsi/target/command-table.js';
import { LogicalUnit } from '../../../../protocol/scsi/target/logical-unit.js';
import { check, good, NEXUS_A, NEXUS_B, readyUnit, run } from './harness.js';

describe('INQUIRY', () => {
  it('returns SPC-4 standard data that claims SAM-5, iSCSI, SPC-4 and SBC-3', async () => {
    const { unit } = await readyUnit(64, {
      identity: { vendor: 'ACME', product: 'Disk', revision: '1.0', serial: 'S1' },
    });
    const data = await good(unit, cdb.inquiry({ allocationLength: 260 }));
    expect(data.length).toBe(96);
    expect(data[4]).toBe(data.length - 5);
    const inq = decodeStandardInquiry(data);
    expect(inq).toMatchObject({
      qualifier: 0,
      deviceType: 0,
      version: 6,
      responseDataFormat: 2,
      hisup: true,
      cmdque: true,
      removable: false,
      protect: false,
      vendor: 'ACME',
      product: 'Disk',
      revision: '1.0',
    });
    expect(inq.versionDescriptors).toEqual(
      expect.arrayContaining([VersionDescriptor.Spc4, VersionDescriptor.Sbc3, VersionDescriptor.Iscsi]),
    );
    expect(data[3]! & 0xc0).toBe(0); // no AERC, no TRMTSK
  });

  it('cuts the data at the allocation length, and 511 and 512 give the same answer', async () => {
    const { unit } = await readyUnit();
    for (const length of [0, 5, 36, 95, 96, 255]) {
      expect((await good(unit, cdb.inquiry({ allocationLength: length }))).length).toBe(Math.min(96, length));
    }
    expect(await good(unit, cdb.inquiry({ allocationLength: 511 }))).toEqual(
      await good(unit, cdb.inquiry({ allocationLength: 512 })),
    );
  });

  it('refuses a page code without EVPD, CMDDT, and unknown VPD pages, pointing at the field', async () => {
    const { unit } = await readyUnit();
    const withoutEvpd = await check(unit, cdb.inquiry({ pageCode: 1 }), K.IllegalRequest, A.InvalidFieldInCdb);
    expect(withoutEvpd.senseKeySpecific).toMatchObject({ fieldPointer: 2 });
    const cmddt = cdb.inquiry();
    cmddt[1] = 0x02;
    expect((await check(unit, cmddt, K.IllegalRequest, A.InvalidFieldInCdb)).senseKeySpecific).toMatchObject({
      fieldPointer: 1,
      bitPointer: 1,
    });
    for (const page of [0x01, 0x86, 0x89, 0xb3, 0xff]) {
      await check(unit, cdb.inquiry({ evpd: true, pageCode: page }), K.IllegalRequest, A.InvalidFieldInCdb);
    }
  });

  it('lists its VPD pages in ascending order, and serves each of them', async () => {
    const { unit } = await readyUnit();
    const pages = decodeSupportedVpdPages(await good(unit, cdb.inquiry({ evpd: true, pageCode: 0 })));
    expect(pages).toEqual([0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]);
    for (const page of pages) {
      const data = await good(unit, cdb.inquiry({ evpd: true, pageCode: page, allocationLength: 255 }));
      expect([data[0], data[1], data.readUInt16BE(2) + 4]).toEqual([0, page, data.length]);
    }
  });

  it('identifies the unit: serial, NAA and T10 vendor designators, target port and device names', async () => {
    const { unit } = await readyUnit(64, { identity: { serial: 'abc123' } });
    expect(decodeUnitSerialNumber(await good(unit, cdb.inquiry({ evpd: true, pageCode: 0x80 })))).toBe('abc123');
    const ids = decodeDeviceIdentification(await good(unit, cdb.inquiry({ evpd: true, pageCode: 0x83 })));
    const naa = ids.find((d) => d.designatorType === 3)!;
    expect([naa.association, naa.codeSet, naa.designator.length, naa.designator[0]! >> 4]).toEqual([0, 1, 8, 3]);
    const t10 = ids.find((d) => d.designatorType === 1)!;
    expect(t10.designator.toString('latin1')).toBe('ISER    abc123');
    const names = ids.filter((d) => d.designatorType === 8);
    expect(names.map((d) => [d.association, d.piv, d.protocolIdentifier, d.designator.length % 4])).toEqual([
      [1, true, 5, 0],
      [2, true, 5, 0],
    ]);
    expect(names[0]!.designator.toString('utf8').replace(/\0+$/, '')).toBe(NEXUS_A.targetPortName);
    expect(names[1]!.designator.toString('utf8').replace(/\0+$/, '')).toBe('iqn.2024-01.test:target');
    // The same serial gives the same NAA; an IEEE company ID gives NAA 6.
    const again = new LogicalUnit({ backend: new MemoryBackend(8), identity: { serial: 'abc123' } });
    const againIds = decodeDeviceIdentification(await good(again, cdb.inquiry({ evpd: true, pageCode: 0x83 })));
    expect(againIds.find((d) => d.designatorType === 3)?.designator).toEqual(naa.designator);
    const registered = new LogicalUnit({
      backend: new MemoryBackend(8),
      identity: { serial: 'x', naaCompanyId: 0x001405 },
    });
    const naa6 = decodeDeviceIdentification(await good(registered, cdb.inquiry({ evpd: true, pageCode: 0x83 }))).find(
      (d) => d.designatorType === 3,
    )!;
    expect([naa6.designator.length, naa6.designator.readUInt32BE(0) >>> 4]).toEqual([16, 0x6001405]);
  });

  it('reports block limits, a non-rotating medium and thin provisioning', async () => {
    const { unit } = await readyUnit(64, { limits: { maxTransferLength: 128, maxWriteSameLength: 64 } });
    const bl = await good(unit, cdb.inquiry({ evpd: true, pageCode: 0xb0 }));
    expect(bl.readUInt16BE(2)).toBe(0x3c);
    expect(decodeBlockLimits(bl)).toMatchObject({
      wsnz: false,
      maxTransferLength: 128,
      maxCompareAndWriteLength: 128,
      optimalTransferLengthGranularity: 8,
      maxUnmapLbaCount: 0x100000,
      maxUnmapBlockDescriptorCount: 256,
      optimalUnmapGranularity: 1,
      unmapGranularityAlignmentValid: true,
      maxWriteSameLength: 64n,
    });
    const bdc = decodeBlockDeviceCharacteristics(await good(unit, cdb.inquiry({ evpd: true, pageCode: 0xb1 })));
    expect(bdc.mediumRotationRate).toBe(1);
    const lbp = decodeLogicalBlockProvisioning(await good(unit, cdb.inquiry({ evpd: true, pageCode: 0xb2 })));
    expect(lbp).toMatchObject({
      lbpu: true,
      lbpws: true,
      lbpws10: true,
      lbprz: true,
      anchorSupported: false,
      provisioningType: 2,
    });
    const fileLike = new LogicalUnit({ backend: new FileBackendLike(64) });
    const resource = decodeLogicalBlockProvisioning(await good(fileLike, cdb.inquiry({ evpd: true, pageCode: 0xb2 })));
    expect(resource.provisioningType).toBe(1);
  });
});

describe('READ CAPACITY', () => {
  it('(10) reports the last LBA and block size, 0xffffffff when it does not fit', async () => {
    const { unit } = await readyUnit(1000, { blockSize: 4096 });
    expect(decodeReadCapacity10(await good(unit, cdb.readCapacity10()))).toEqual({
      returnedLba: 999,
      blockLength: 4096,
    });
    await check(unit, cdb.readCapacity10({ lba: 5 }), K.IllegalRequest, A.InvalidFieldInCdb);
    await good(unit, cdb.readCapacity10({ lba: 5, pmi: true }));
    const huge = new LogicalUnit({ backend: new MemoryBackend(2 ** 33) });
    await run(huge, cdb.testUnitReady());
    expect(decodeReadCapacity10(await good(huge, cdb.readCapacity10())).returnedLba).toBe(0xffff_ffff);
    expect(decodeReadCapacity16(await good(huge, cdb.readCapacity16())).returnedLba).toBe(2n ** 33n - 1n);
  });

  it('(16) reports LBPME and LBPRZ and honours any allocation length', async () => {
    const { unit } = await readyUnit(64);
    const rc = decodeReadCapacity16(await good(unit, cdb.readCapacity16({ allocationLength: 32 })));
    expect(rc).toMatchObject({
      returnedLba: 63n,
      blockLength: 512,
      lbpme: true,
      lbprz: true,
      protectionEnabled: false,
    });
    for (let length = 0; length < 16; length++) {
      expect((await good(unit, cdb.readCapacity16({ allocationLength: length }))).length).toBe(length);
    }
  });
});

describe('MODE SENSE', () => {
  it('returns caching, control and informational exceptions pages, in order, with a block descriptor', async () => {
    const { unit } = await readyUnit(100);
    for (const cdbLength of [6, 10] as const) {
      const data = await good(unit, cdb.modeSense({ cdbLength, pageCode: 0x3f }));
      const params = decodeModeParameters(data, cdbLength);
      expect(params.modeDataLength).toBe(data.length - (cdbLength === 6 ? 1 : 2));
      expect(params.pages.map((p) => [p.pageCode, p.data.length])).toEqual([
        [0x08, 18],
        [0x0a, 10],
        [0x1c, 10],
      ]);
      expect(params.blockDescriptors).toEqual([{ blocks: 100n, blockLength: 512 }]);
      expect(params.deviceSpecific).toBe(0x10); // DPOFUA, not write protected
      expect(params.pages[0]!.data[0]! & 0x04).toBe(0x04); // WCE
      expect(decodeControlPage(params.pages[1]!)).toMatchObject({ tst: 0, dSense: false, swp: false, qerr: 0 });
    }
    const long = decodeModeParameters(await good(unit, cdb.modeSense({ pageCode: 0x0a, llbaa: true })), 10);
    expect([long.longLba, long.blockDescriptors]).toEqual([true, [{ blocks: 100n, blockLength: 512 }]]);
    const dbd = decodeModeParameters(await good(unit, cdb.modeSense({ pageCode: 0x08, dbd: true })), 10);
    expect([dbd.blockDescriptors, dbd.pages.length]).toEqual([[], 1]);
    const subpages = decodeModeParameters(await good(unit, cdb.modeSense({ pageCode: 0x3f, subpageCode: 0xff })), 10);
    expect(subpages.pages).toHaveLength(3);
  });

  it('reports changeable and default values, refuses saved ones', async () => {
    const { unit } = await readyUnit();
    const changeable = decodeModeParameters(await good(unit, cdb.modeSense({ pageCode: 0x3f, pageControl: 1 })), 10);
    expect(changeable.pages.map((p) => [...p.data.subarray(0, 3)])).toEqual([
      [0x04, 0, 0],
      [0x04, 0, 0x08],
      [0, 0, 0],
    ]);
    await good(unit, cdb.modeSense({ pageCode: 0x3f, pageControl: 2 }));
    await check(
      unit,
      cdb.modeSense({ pageCode: 0x3f, pageControl: 3 }),
      K.IllegalRequest,
      A.SavingParametersNotSupported,
    );
  });

  it('refuses unknown pages and subpages; never returns more than the allocation length', async () => {
    const { unit } = await readyUnit();
    const sense = await check(unit, cdb.modeSense({ pageCode: 0x19 }), K.IllegalRequest, A.InvalidFieldInCdb);
    expect(sense.senseKeySpecific).toMatchObject({ fieldPointer: 2, bitPointer: 5 });
    await check(unit, cdb.modeSense({ pageCode: 0x0a, subpageCode: 1 }), K.IllegalRequest, A.InvalidFieldInCdb);
    expect((await good(unit, cdb.modeSense({ cdbLength: 6, pageCode: 0x3f, allocationLength: 4 }))).length).toBe(4);
  });
});

describe('MODE SELECT', () => {
  /** The current page `code` as a MODE SELECT(10) parameter list. */
  async function pageList(unit: LogicalUnit, code: number): Promise<Buffer> {
    const list = Buffer.from(await good(unit, cdb.modeSense({ pageCode: code, dbd: true })));
    list.writeUInt16BE(0, 0);
    return list;
  }

  it('changes changeable bits, raising MODE PARAMETERS CHANGED for the other nexuses only', async () => {
    const { unit } = await readyUnit();
    const list = await pageList(unit, 0x08);
    list[8 + 2] = 0; // WCE off
    await good(unit, cdb.modeSelect({ parameterListLength: list.length }), { dataOut: list, nexus: NEXUS_A });
    await good(unit, cdb.testUnitReady(), { nexus: NEXUS_A });
    await check(unit, cdb.testUnitReady(), K.UnitAttention, A.ModeParametersChanged, { nexus: NEXUS_B });
    const caching = decodeModeParameters(await good(unit, cdb.modeSense({ pageCode: 0x08 })), 10).pages[0]!;
    expect(caching.data[0]! & 0x04).toBe(0);
    // Sending the same values again changes nothing and raises nothing.
    await good(unit, cdb.modeSelect({ parameterListLength: list.length }), { dataOut: list });
    await good(unit, cdb.testUnitReady(), { nexus: NEXUS_B });
    // Resets bring the defaults back.
    unit.reset('lun-reset');
    await run(unit, cdb.testUnitReady());
    expect(decodeModeParameters(await good(unit, cdb.modeSense({ pageCode: 0x08 })), 10).pages[0]!.data[0]).toBe(0x04);
  });

  it('makes writes fail with DATA PROTECT once SWP is set', async () => {
    const { unit } = await readyUnit();
    const list = await pageList(unit, 0x0a);
    list[8 + 2 + 2] = 0x08; // SWP
    await good(unit, cdb.modeSelect({ parameterListLength: list.length }), { dataOut: list });
    await check(unit, cdb.write10({ lba: 0, blocks: 1 }), K.DataProtect, A.LogicalUnitSoftwareWriteProtected, {
      dataOut: Buffer.alloc(512),
    });
    await good(unit, cdb.read10({ lba: 0, blocks: 1 }));
    const header = decodeModeParameters(await good(unit, cdb.modeSense({ pageCode: 0x0a })), 10);
    expect(header.deviceSpecific & 0x80).toBe(0x80);
  });

  it('refuses bits that are not changeable, pointing at the byte and bit, and changes nothing', async () => {
    const { unit } = await readyUnit();
    const list = await pageList(unit, 0x0a);
    list[8 + 2] = 0x04 | 0x02; // D_SENSE (changeable) with GLTSD kept
    list[8 + 3] = 0x30; // QUEUE ALGORITHM MODIFIER 3: not changeable
    const sense = await check(
      unit,
      cdb.modeSelect({ parameterListLength: list.length }),
      K.IllegalRequest,
      A.InvalidFieldInParameterList,
      {
        dataOut: list,
      },
    );
    expect(sense.senseKeySpecific).toEqual({ kind: 'field-pointer', inCdb: false, fieldPointer: 8 + 3, bitPointer: 5 });
    const control = decodeModeParameters(await good(unit, cdb.modeSense({ pageCode: 0x0a })), 10).pages[0]!;
    expect(decodeControlPage(control).dSense).toBe(false);
  });

  it('refuses bad lists: truncated, unknown page, wrong page length, sub-page, bad block descriptor, SP, no PF', async () => {
    const { unit } = await readyUnit(100);
    const list = await pageList(unit, 0x08);
    const select = (bytes: Buffer, cdbLength: 6 | 10 = 10) =>
      run(unit, cdb.modeSelect({ cdbLength, parameterListLength: bytes.length }), { dataOut: bytes });
    expect((await select(list.subarray(0, list.length - 1))).sense).toMatchObject({ asc: 0x1a });
    expect((await select(Buffer.alloc(3), 6)).sense).toMatchObject({ asc: 0x1a });
    const unknown = Buffer.from(list);
    unknown[8] = 0x19;
    expect((await select(unknown)).sense).toMatchObject({
      asc: 0x26,
      senseKeySpecific: { fieldPointer: 8, bitPointer: 5 },
    });
    const length = Buffer.concat([list.subarray(0, 9), Buffer.from([17]), list.subarray(10, list.length - 1)]);
    expect((await select(length)).sense).toMatchObject({ asc: 0x26, senseKeySpecific: { fieldPointer: 9 } });
    const withDescriptor = Buffer.from(await good(unit, cdb.modeSense({ pageCode: 0x08 })));
    withDescriptor.writeUInt16BE(0, 0);
    await good(unit, cdb.modeSelect({ parameterListLength: withDescriptor.length }), { dataOut: withDescriptor });
    withDescriptor.writeUIntBE(4096, 8 + 5, 3);
    expect((await select(withDescriptor)).sense).toMatchObject({ asc: 0x26, senseKeySpecific: { fieldPointer: 13 } });
    const medium = Buffer.from(list);
    medium[2] = 1;
    expect((await select(medium)).sense).toMatchObject({ asc: 0x26, senseKeySpecific: { fieldPointer: 2 } });
    await check(
      unit,
      cdb.modeSelect({ parameterListLength: list.length, sp: true }),
      K.IllegalRequest,
      A.InvalidFieldInCdb,
      {
        dataOut: list,
      },
    );
    await check(
      unit,
      cdb.modeSelect({ parameterListLength: list.length, pf: false }),
      K.IllegalRequest,
      A.InvalidFieldInCdb,
      {
        dataOut: list,
      },
    );
    await good(unit, cdb.modeSelect({ parameterListLength: 0 }), { dataOut: Buffer.alloc(0) });
  });
});

describe('REPORT SUPPORTED OPERATION CODES', () => {
  it('lists every supported command; one-command queries follow SERVACTV as iscsi-test-cu checks', async () => {
    const { unit } = await readyUnit();
    const all = decodeAllCommands(await good(unit, cdb.reportSupportedOperationCodes()));
    expect(all.descriptors).toHaveLength(SUPPORTED_COMMANDS.length);
    for (const d of all.descriptors) {
      if (!d.serviceActionValid) expect(d.serviceAction).toBe(0);
      const byOpcode = cdb.reportSupportedOperationCodes({
        reportingOptions: 1,
        requestedOpcode: d.opcode,
        requestedServiceAction: d.serviceAction,
      });
      const bySa = cdb.reportSupportedOperationCodes({
        reportingOptions: 2,
        requestedOpcode: d.opcode,
        requestedServiceAction: d.serviceAction,
      });
      const one = decodeOneCommand(await good(unit, d.serviceActionValid ? bySa : byOpcode));
      expect(one.support).toBe(3);
      expect(one.cdbUsage[0]).toBe(d.opcode);
      expect(one.cdbUsage.length).toBe(d.cdbLength);
      await check(unit, d.serviceActionValid ? byOpcode : bySa, K.IllegalRequest, A.InvalidFieldInCdb);
    }
  });

  it('reports DPO/FUA in the CDB usage data of READ(10) and COMPARE AND WRITE, matching DPOFUA', async () => {
    const { unit } = await readyUnit();
    for (const opcode of [0x28, 0x89]) {
      const one = decodeOneCommand(
        await good(unit, cdb.reportSupportedOperationCodes({ reportingOptions: 1, requestedOpcode: opcode })),
      );
      expect(one.cdbUsage[1]! & 0x18).toBe(0x18);
    }
  });

  it('adds timeouts descriptors with RCTD, says "not supported" for other opcodes, refuses bad options', async () => {
    const { unit } = await readyUnit();
    const timed = decodeAllCommands(await good(unit, cdb.reportSupportedOperationCodes({ rctd: true })));
    expect(timed.descriptors.every((d) => d.timeouts !== undefined)).toBe(true);
    const missing = decodeOneCommand(
      await good(unit, cdb.reportSupportedOperationCodes({ reportingOptions: 1, requestedOpcode: 0x37 })),
    );
    expect([missing.support, missing.cdbUsage.length]).toEqual([1, 0]);
    const unknownSa = decodeOneCommand(
      await good(
        unit,
        cdb.reportSupportedOperationCodes({ reportingOptions: 2, requestedOpcode: 0x9e, requestedServiceAction: 0x11 }),
      ),
    );
    expect(unknownSa.support).toBe(1);
    await check(
      unit,
      cdb.reportSupportedOperationCodes({ reportingOptions: 5 }),
      K.IllegalRequest,
      A.InvalidFieldInCdb,
    );
    expect((await good(unit, cdb.reportSupportedOperationCodes({ allocationLength: 20 }))).length).toBe(20);
  });

  it('executes every command it lists and no other opcode', async () => {
    const { unit } = await readyUnit();
    const listed = new Set(SUPPORTED_COMMANDS.map((c) => c.opcode));
    for (let opcode = 0; opcode < 256; opcode++) {
      const bytes = Buffer.alloc(16);
      bytes[0] = opcode;
      const command = SUPPORTED_COMMANDS.find((c) => c.opcode === opcode);
      if (command?.serviceAction !== undefined) bytes[1] = command.serviceAction;
      const outcome = await run(unit, bytes, { dataOut: Buffer.alloc(0) });
      const refused = outcome.sense?.key === K.IllegalRequest && outcome.sense.asc === 0x20;
      expect(refused, `opcode 0x${opcode.toString(16)}`).toBe(!listed.has(opcode));
    }
  });
});

describe('REPORT LUNS on a unit alone', () => {
  it('reports LUN 0 and refuses allocation lengths below 16', async () => {
    const { unit } = await readyUnit();
    expect(decodeReportLuns(await good(unit, cdb.reportLuns())).luns).toEqual([0]);
    await check(unit, cdb.reportLuns({ allocationLength: 15 }), K.IllegalRequest, A.InvalidFieldInCdb);
  });
});

describe('SYNCHRONIZE CACHE through START STOP UNIT', () => {
  it('a failed flush on stop is a MEDIUM ERROR and leaves the unit running', async () => {
    const { unit, backend } = await readyUnit();
    vi.spyOn(backend, 'flush').mockRejectedValue(new Error('EIO'));
    await check(unit, cdb.startStopUnit({ start: false }), K.MediumError, A.WriteError);
    await good(unit, cdb.testUnitReady());
  });
});
