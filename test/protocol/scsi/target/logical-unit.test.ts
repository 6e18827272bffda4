import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { MemoryBackend } from '../../../../backends/memory.js';
import type { BlockBackend } from '../../../../protocol/scsi/backend.js';
import * as cdb from '../../../../protocol/scsi/cdb/build.js';
import { ScsiTargetError } from '../../../../protocol/scsi/errors.js';
import { AdditionalSense as A, SenseKey as K } from '../../../../protocol/scsi/sense-codes.js';
import { ScsiStatus } from '../../../../protocol/scsi/status.js';
import { LogicalUnit } from '../../../../protocol/scsi/target/logical-unit.js';
import { check, good, NEXUS_A, NEXUS_B, readyUnit, run } from './harness.js';

const TUR = cdb.testUnitReady();

describe('LogicalUnit: unit attentions', () => {
  it('reports POWER ON once per nexus, on its first command that is not INQUIRY/REPORT LUNS/REQUEST SENSE', async () => {
    const unit = new LogicalUnit({ backend: new MemoryBackend(64) });
    await good(unit, cdb.inquiry(), { nexus: NEXUS_A });
    await good(unit, cdb.reportLuns(), { nexus: NEXUS_A });
    await check(unit, TUR, K.UnitAttention, A.PowerOnResetOrBusDeviceResetOccurred, { nexus: NEXUS_A });
    await good(unit, TUR, { nexus: NEXUS_A });
    // Nexus B has its own.
    await check(unit, cdb.read10({ lba: 0, blocks: 1 }), K.UnitAttention, A.PowerOnResetOrBusDeviceResetOccurred, {
      nexus: NEXUS_B,
    });
    await good(unit, cdb.read10({ lba: 0, blocks: 1 }), { nexus: NEXUS_B });
  });

  it('lets REQUEST SENSE report (and clear) a pending unit attention', async () => {
    const unit = new LogicalUnit({ backend: new MemoryBackend(64) });
    const data = await good(unit, cdb.requestSense({ allocationLength: 18 }));
    expect([data[2]! & 0x0f, data[12], data[13]]).toEqual([K.UnitAttention, 0x29, 0x00]);
    await good(unit, TUR);
    const none = await good(unit, cdb.requestSense({ desc: true }));
    expect([none[0], none[1], none[2], none[3]]).toEqual([0x72, K.NoSense, 0, 0]);
  });

  it('raises BUS DEVICE RESET on LUN reset, SCSI BUS RESET on target warm reset, POWER ON on cold reset', async () => {
    const { unit } = await readyUnit();
    unit.reset('lun-reset');
    await check(unit, TUR, K.UnitAttention, A.BusDeviceResetFunctionOccurred, { nexus: NEXUS_A });
    await check(unit, TUR, K.UnitAttention, A.BusDeviceResetFunctionOccurred, { nexus: NEXUS_B });
    unit.reset('target-warm-reset');
    await check(unit, TUR, K.UnitAttention, A.ScsiBusResetOccurred);
    unit.reset('target-cold-reset');
    await check(unit, TUR, K.UnitAttention, A.PowerOnOccurred);
    await good(unit, TUR);
  });

  it('raises I_T NEXUS LOSS for the lost nexus only, and CAPACITY DATA HAS CHANGED for all after resize', async () => {
    const { unit } = await readyUnit(64);
    unit.nexusLost(NEXUS_B);
    await good(unit, TUR, { nexus: NEXUS_A });
    await check(unit, TUR, K.UnitAttention, A.ITNexusLossOccurred, { nexus: NEXUS_B });
    await unit.resize(128);
    await check(unit, TUR, K.UnitAttention, A.CapacityDataHasChanged, { nexus: NEXUS_A });
    await check(unit, TUR, K.UnitAttention, A.CapacityDataHasChanged, { nexus: NEXUS_B });
    const rc = await good(unit, cdb.readCapacity10());
    expect(rc.readUInt32BE(0)).toBe(127);
  });

  it('refuses to resize a backend that cannot', async () => {
    const memory = new MemoryBackend(8);
    const backend: BlockBackend = {
      blockSize: 512,
      blockCount: 8,
      read: (lba, blocks) => memory.read(lba, blocks),
      write: (lba, data, options) => memory.write(lba, data, options),
      flush: () => memory.flush(),
      unmap: (ranges) => memory.unmap(ranges),
    };
    const unit = new LogicalUnit({ backend });
    await expect(unit.resize(16)).rejects.toBeInstanceOf(ScsiTargetError);
  });
});

describe('LogicalUnit: gates', () => {
  it('answers INVALID COMMAND OPERATION CODE for unsupported opcodes', async () => {
    const { unit } = await readyUnit();
    for (const opcode of [0x01, 0x04, 0x16, 0x1d, 0x37, 0x83, 0xa4]) {
      const bytes = Buffer.alloc(16);
      bytes[0] = opcode;
      const sense = await check(unit, bytes, K.IllegalRequest, A.InvalidCommandOperationCode);
      expect(sense.senseKeySpecific).toMatchObject({ kind: 'field-pointer', inCdb: true, fieldPointer: 0 });
    }
  });

  it('answers INVALID FIELD IN CDB (byte 1) for unknown service actions of a supported opcode', async () => {
    const { unit } = await readyUnit();
    const bytes = Buffer.alloc(16);
    bytes[0] = 0x9e;
    bytes[1] = 0x11;
    const sense = await check(unit, bytes, K.IllegalRequest, A.InvalidFieldInCdb);
    expect(sense.senseKeySpecific).toMatchObject({ fieldPointer: 1, bitPointer: 4 });
  });

  it('refuses NACA in the control byte, pointing at it', async () => {
    const { unit } = await readyUnit();
    const bytes = cdb.read10({ lba: 0, blocks: 1 });
    bytes[9] = 0x04;
    const sense = await check(unit, bytes, K.IllegalRequest, A.InvalidFieldInCdb);
    expect(sense.senseKeySpecific).toMatchObject({ fieldPointer: 9, bitPointer: 2 });
  });

  it('refuses a CDB shorter than its opcode says', async () => {
    const { unit } = await readyUnit();
    await check(unit, Buffer.from([0x28, 0, 0]), K.IllegalRequest, A.InvalidFieldInCdb);
  });

  it('sends descriptor-format sense once D_SENSE is set', async () => {
    const { unit } = await readyUnit();
    const control = await good(unit, cdb.modeSense({ cdbLength: 6, pageCode: 0x0a, dbd: true }));
    const list = Buffer.from(control);
    list[0] = 0; // MODE DATA LENGTH is reserved in MODE SELECT
    list[4 + 2] = list[4 + 2]! | 0x04; // D_SENSE
    await good(unit, cdb.modeSelect({ cdbLength: 6, parameterListLength: list.length }), { dataOut: list });
    const outcome = await run(unit, cdb.read16({ lba: 2n ** 63n, blocks: 1 }));
    expect(outcome.sense?.format).toBe('descriptor');
    expect(outcome.sense).toMatchObject({ key: K.IllegalRequest, asc: 0x21, ascq: 0 });
  });

  it('is NOT READY for media access after START STOP UNIT stops it, and ready again after START', async () => {
    const { unit, backend } = await readyUnit();
    const flush = vi.spyOn(backend, 'flush');
    await good(unit, cdb.startStopUnit({ start: false }));
    expect(flush).toHaveBeenCalledTimes(1);
    await check(unit, TUR, K.NotReady, A.LogicalUnitNotReadyInitializingCommandRequired);
    await check(unit, cdb.read10({ lba: 0, blocks: 1 }), K.NotReady, A.LogicalUnitNotReadyInitializingCommandRequired);
    await good(unit, cdb.inquiry());
    await good(unit, cdb.readCapacity10());
    const sense = await good(unit, cdb.requestSense());
    expect([sense[2]! & 0x0f, sense[12], sense[13]]).toEqual([K.NotReady, 0x04, 0x02]);
    await good(unit, cdb.startStopUnit({ start: true }));
    await good(unit, TUR);
    await good(unit, cdb.startStopUnit({ start: false, noFlush: true, powerCondition: 0 }));
    expect(flush).toHaveBeenCalledTimes(1);
    await good(unit, cdb.startStopUnit({ start: true, immed: true }));
  });

  it('accepts power conditions without changing state, refuses undefined ones', async () => {
    const { unit } = await readyUnit();
    for (const pc of [1, 2, 3, 7, 0xa, 0xb]) await good(unit, cdb.startStopUnit({ start: false, powerCondition: pc }));
    await good(unit, TUR);
    const sense = await check(
      unit,
      cdb.startStopUnit({ start: true, powerCondition: 5 }),
      K.IllegalRequest,
      A.InvalidFieldInCdb,
    );
    expect(sense.senseKeySpecific).toMatchObject({ fieldPointer: 4, bitPointer: 7 });
  });

  it('turns a backend failure into MEDIUM ERROR', async () => {
    const { unit, backend } = await readyUnit();
    vi.spyOn(backend, 'read').mockRejectedValue(new Error('EIO'));
    vi.spyOn(backend, 'write').mockRejectedValue(new Error('ENOSPC'));
    vi.spyOn(backend, 'flush').mockRejectedValue(new Error('EIO'));
    await check(unit, cdb.read10({ lba: 0, blocks: 1 }), K.MediumError, A.UnrecoveredReadError);
    await check(unit, cdb.write10({ lba: 0, blocks: 1 }), K.MediumError, A.WriteError, { dataOut: Buffer.alloc(512) });
    await check(unit, cdb.synchronizeCache(), K.MediumError, A.WriteError);
  });

  it('rejects execute with the transport error when pulling data-out fails, writing nothing', async () => {
    const { unit, backend } = await readyUnit();
    const write = vi.spyOn(backend, 'write');
    const failure = new Error('connection reset');
    await expect(
      unit.execute({
        cdb: cdb.write10({ lba: 0, blocks: 1 }),
        nexus: NEXUS_A,
        expectedDataTransferLength: 512,
        direction: 'write',
        getDataOut: () => Promise.reject(failure),
      }),
    ).rejects.toBe(failure);
    expect(write).not.toHaveBeenCalled();
  });

  it('answers ABORTED COMMAND, DATA PHASE ERROR when the transport hands over less data-out than asked', async () => {
    const { unit } = await readyUnit();
    const response = await unit.execute({
      cdb: cdb.write10({ lba: 0, blocks: 2 }),
      nexus: NEXUS_A,
      expectedDataTransferLength: 1024,
      direction: 'write',
      getDataOut: () => Promise.resolve([Buffer.alloc(100)]),
    });
    expect(response.status).toBe(ScsiStatus.CheckCondition);
    expect([response.sense![2]! & 0x0f, response.sense![12]]).toEqual([K.AbortedCommand, 0x4b]);
  });

  it('ends a bug in HARDWARE ERROR, INTERNAL TARGET FAILURE and reports it', async () => {
    const onInternalError = vi.fn();
    const backend = new MemoryBackend(64);
    const unit = new LogicalUnit({ backend, onInternalError });
    await run(unit, TUR);
    vi.spyOn(backend, 'mapping').mockImplementation(() => {
      throw new TypeError('bug');
    });
    await check(unit, cdb.getLbaStatus({ lba: 0 }), K.MediumError, A.UnrecoveredReadError);
    Object.defineProperty(backend, 'blockCount', {
      get: () => {
        throw new TypeError('bug');
      },
    });
    await check(unit, cdb.readCapacity10(), K.HardwareError, A.InternalTargetFailure);
    expect(onInternalError).toHaveBeenCalledWith(expect.any(TypeError));
  });

  it('validates its configuration', () => {
    expect(() => new LogicalUnit({ backend: new MemoryBackend(8), identity: { vendor: 'MUCH-TOO-LONG' } })).toThrow(
      ScsiTargetError,
    );
    expect(() => new LogicalUnit({ backend: new MemoryBackend(8), limits: { maxTransferLength: 0 } })).toThrow(
      ScsiTargetError,
    );
    expect(() => new LogicalUnit({ backend: new MemoryBackend(8), limits: { maxCompareAndWriteLength: 256 } })).toThrow(
      ScsiTargetError,
    );
  });
});

describe('LogicalUnit: hostile initiators', () => {
  it('answers every random CDB and parameter list with a status, never a bug', async () => {
    const onInternalError = vi.fn();
    const unit = new LogicalUnit({
      backend: new MemoryBackend(256),
      onInternalError,
      limits: { maxTransferLength: 64 },
    });
    const supported = [
      0x00, 0x03, 0x08, 0x0a, 0x12, 0x15, 0x1a, 0x1b, 0x25, 0x28, 0x2a, 0x2e, 0x2f, 0x34, 0x35, 0x41, 0x42, 0x55, 0x5a,
      0x5e, 0x5f, 0x88, 0x89, 0x8a, 0x8e, 0x8f, 0x90, 0x91, 0x93, 0x9e, 0xa0, 0xa3, 0xa8, 0xaa, 0xae, 0xaf,
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...supported),
        fc.uint8Array({ minLength: 15, maxLength: 15 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom(NEXUS_A, NEXUS_B),
        async (opcode, rest, dataOut, nexus) => {
          const bytes = Buffer.from([opcode, ...rest]);
          // Keep transfers small so the property stays quick; the CDB fields stay random otherwise.
          if (opcode >= 0x80 && opcode !== 0xa0 && opcode !== 0xa3) bytes.fill(0, 2, 8);
          const data = Buffer.from(dataOut);
          const response = await unit.execute({
            cdb: bytes,
            nexus,
            expectedDataTransferLength: 1 << 20,
            direction: 'write',
            getDataOut: (offset, length) =>
              Promise.resolve([data.subarray(offset, offset + length), Buffer.alloc(length)]),
          });
          expect(Object.values(ScsiStatus)).toContain(response.status);
          if (response.status === ScsiStatus.CheckCondition) expect(response.sense).toBeDefined();
        },
      ),
      { numRuns: 1500 },
    );
    expect(onInternalError).not.toHaveBeenCalled();
  });
});
