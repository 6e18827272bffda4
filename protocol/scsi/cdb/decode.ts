/**
 * CDB decoder: bytes to a {@link DecodedCdb}. The target dispatches on the result; tests use it to check the
 * builders. Operation codes it does not know come back as `{ command: 'unknown' }`; a CDB shorter than its
 * operation code's length throws {@link ScsiDecodeError} (the only error thrown).
 */
import { requireLength } from '../bytes.js';
import { ScsiDecodeError } from '../errors.js';
import { cdbLengthOf, MaintenanceIn, Opcode, ServiceActionIn16 } from '../opcodes.js';
import type { DecodedCdb, RwCdbLength } from './types.js';

/** Decodes a CDB. Throws only {@link ScsiDecodeError}. */
export function decodeCdb(cdb: Buffer): DecodedCdb {
  requireLength(cdb, 1, 'CDB');
  const opcode = cdb.readUInt8(0);
  const length = cdbLengthOf(opcode);
  if (length === undefined) return { command: 'unknown', opcode };
  if (cdb.length < length) {
    throw new ScsiDecodeError('ERR_SCSI_TRUNCATED', `CDB for opcode 0x${opcode.toString(16)} needs ${length} bytes`);
  }
  const b1 = cdb.readUInt8(1);
  const bit = (byte: number, mask: number): boolean => (cdb.readUInt8(byte) & mask) !== 0;
  switch (opcode) {
    case Opcode.TestUnitReady:
      return { command: 'test-unit-ready' };
    case Opcode.Inquiry:
      return {
        command: 'inquiry',
        evpd: bit(1, 0x01),
        pageCode: cdb.readUInt8(2),
        allocationLength: cdb.readUInt16BE(3),
      };
    case Opcode.RequestSense:
      return { command: 'request-sense', desc: bit(1, 0x01), allocationLength: cdb.readUInt8(4) };
    case Opcode.ReportLuns:
      return { command: 'report-luns', selectReport: cdb.readUInt8(2), allocationLength: cdb.readUInt32BE(6) };
    case Opcode.ReadCapacity10:
      return { command: 'read-capacity-10', lba: BigInt(cdb.readUInt32BE(2)), pmi: bit(8, 0x01) };
    case Opcode.Read6:
    case Opcode.Write6: {
      const blocks = cdb.readUInt8(4) === 0 ? 256 : cdb.readUInt8(4);
      const lba = BigInt(cdb.readUIntBE(1, 3) & 0x1f_ffff);
      const common = { cdbLength: 6 as const, lba, blocks, dpo: false, fua: false, protect: 0, group: 0 };
      return opcode === Opcode.Read6 ? { command: 'read', ...common, rarc: false } : { command: 'write', ...common };
    }
    case Opcode.Read10:
    case Opcode.Read12:
    case Opcode.Read16:
      return {
        command: 'read',
        cdbLength: length as RwCdbLength,
        ...rangeOf(cdb, length),
        dpo: bit(1, 0x10),
        fua: bit(1, 0x08),
        rarc: bit(1, 0x04),
        protect: b1 >> 5,
        group: groupOf(cdb, length),
      };
    case Opcode.Write10:
    case Opcode.Write12:
    case Opcode.Write16:
      return {
        command: 'write',
        cdbLength: length as RwCdbLength,
        ...rangeOf(cdb, length),
        dpo: bit(1, 0x10),
        fua: bit(1, 0x08),
        protect: b1 >> 5,
        group: groupOf(cdb, length),
      };
    case Opcode.WriteAndVerify10:
    case Opcode.WriteAndVerify12:
    case Opcode.WriteAndVerify16:
    case Opcode.Verify10:
    case Opcode.Verify12:
    case Opcode.Verify16: {
      const verifyOnly = opcode === Opcode.Verify10 || opcode === Opcode.Verify12 || opcode === Opcode.Verify16;
      return {
        command: verifyOnly ? 'verify' : 'write-and-verify',
        cdbLength: length as 10 | 12 | 16,
        ...rangeOf(cdb, length),
        dpo: bit(1, 0x10),
        bytchk: (b1 >> 1) & 0x03,
        protect: b1 >> 5,
        group: groupOf(cdb, length),
      };
    }
    case Opcode.CompareAndWrite:
      return {
        command: 'compare-and-write',
        lba: cdb.readBigUInt64BE(2),
        blocks: cdb.readUInt8(13),
        dpo: bit(1, 0x10),
        fua: bit(1, 0x08),
        protect: b1 >> 5,
        group: cdb.readUInt8(14) & 0x1f,
      };
    case Opcode.PreFetch10:
    case Opcode.PreFetch16:
      return {
        command: 'pre-fetch',
        cdbLength: length as 10 | 16,
        ...rangeOf(cdb, length),
        immed: bit(1, 0x02),
        group: groupOf(cdb, length),
      };
    case Opcode.SynchronizeCache10:
    case Opcode.SynchronizeCache16:
      return {
        command: 'synchronize-cache',
        cdbLength: length as 10 | 16,
        ...rangeOf(cdb, length),
        immed: bit(1, 0x02),
        syncNv: bit(1, 0x04),
        group: groupOf(cdb, length),
      };
    case Opcode.WriteSame10:
    case Opcode.WriteSame16:
      return {
        command: 'write-same',
        cdbLength: length as 10 | 16,
        ...rangeOf(cdb, length),
        protect: b1 >> 5,
        anchor: bit(1, 0x10),
        unmap: bit(1, 0x08),
        pbdata: bit(1, 0x04),
        lbdata: bit(1, 0x02),
        ndob: length === 16 && bit(1, 0x01),
        group: groupOf(cdb, length),
      };
    case Opcode.Unmap:
      return {
        command: 'unmap',
        anchor: bit(1, 0x01),
        group: cdb.readUInt8(6) & 0x1f,
        parameterListLength: cdb.readUInt16BE(7),
      };
    case Opcode.ModeSense6:
    case Opcode.ModeSense10:
      return {
        command: 'mode-sense',
        cdbLength: length as 6 | 10,
        dbd: bit(1, 0x08),
        llbaa: length === 10 && bit(1, 0x10),
        pageControl: cdb.readUInt8(2) >> 6,
        pageCode: cdb.readUInt8(2) & 0x3f,
        subpageCode: cdb.readUInt8(3),
        allocationLength: length === 6 ? cdb.readUInt8(4) : cdb.readUInt16BE(7),
      };
    case Opcode.ModeSelect6:
    case Opcode.ModeSelect10:
      return {
        command: 'mode-select',
        cdbLength: length as 6 | 10,
        pf: bit(1, 0x10),
        sp: bit(1, 0x01),
        parameterListLength: length === 6 ? cdb.readUInt8(4) : cdb.readUInt16BE(7),
      };
    case Opcode.StartStopUnit:
      return {
        command: 'start-stop-unit',
        immed: bit(1, 0x01),
        powerConditionModifier: cdb.readUInt8(3) & 0x0f,
        powerCondition: cdb.readUInt8(4) >> 4,
        noFlush: bit(4, 0x04),
        loej: bit(4, 0x02),
        start: bit(4, 0x01),
      };
    case Opcode.ServiceActionIn16: {
      const serviceAction = b1 & 0x1f;
      if (serviceAction === ServiceActionIn16.ReadCapacity16) {
        return {
          command: 'read-capacity-16',
          lba: cdb.readBigUInt64BE(2),
          pmi: bit(14, 0x01),
          allocationLength: cdb.readUInt32BE(10),
        };
      }
      if (serviceAction === ServiceActionIn16.GetLbaStatus) {
        return { command: 'get-lba-status', lba: cdb.readBigUInt64BE(2), allocationLength: cdb.readUInt32BE(10) };
      }
      return { command: 'unknown', opcode, serviceAction };
    }
    case Opcode.MaintenanceIn: {
      const serviceAction = b1 & 0x1f;
      if (serviceAction !== MaintenanceIn.ReportSupportedOperationCodes) {
        return { command: 'unknown', opcode, serviceAction };
      }
      return {
        command: 'report-supported-operation-codes',
        rctd: bit(2, 0x80),
        reportingOptions: cdb.readUInt8(2) & 0x07,
        requestedOpcode: cdb.readUInt8(3),
        requestedServiceAction: cdb.readUInt16BE(4),
        allocationLength: cdb.readUInt32BE(6),
      };
    }
    case Opcode.PersistentReserveIn:
      return { command: 'persistent-reserve-in', serviceAction: b1 & 0x1f, allocationLength: cdb.readUInt16BE(7) };
    case Opcode.PersistentReserveOut:
      return {
        command: 'persistent-reserve-out',
        serviceAction: b1 & 0x1f,
        scope: cdb.readUInt8(2) >> 4,
        type: cdb.readUInt8(2) & 0x0f,
        parameterListLength: cdb.readUInt32BE(5),
      };
    default:
      return { command: 'unknown', opcode };
  }
}

/** LBA and length of a 10/12/16-byte block CDB, where SBC-3 puts them. */
function rangeOf(cdb: Buffer, length: number): { lba: bigint; blocks: number } {
  if (length === 10) return { lba: BigInt(cdb.readUInt32BE(2)), blocks: cdb.readUInt16BE(7) };
  if (length === 12) return { lba: BigInt(cdb.readUInt32BE(2)), blocks: cdb.readUInt32BE(6) };
  return { lba: cdb.readBigUInt64BE(2), blocks: cdb.readUInt32BE(10) };
}

/** GROUP NUMBER of a 10/12/16-byte block CDB. */
function groupOf(cdb: Buffer, length: number): number {
  return cdb.readUInt8(length === 10 ? 6 : length === 12 ? 10 : 14) & 0x1f;
}
