/** SCSI Data-Out (RFC 7143 §11.7), SCSI Data-In (§11.7) and Ready To Transfer (R2T, §11.8). */
import { bit, readTargetSequence, writeTargetSequence, type KindCodec, type TargetSequence } from './codec.js';
import { putU32, putU64, putU8 } from './fields.js';
import { FINAL_BIT, Opcode } from './opcodes.js';

/** SCSI Data-Out: write data, solicited by an R2T or unsolicited (TTT 0xffffffff). */
export interface ScsiDataOutPdu {
  readonly kind: 'scsi-data-out';
  /** F bit: the last PDU of this sequence (burst). */
  readonly final: boolean;
  readonly lun: bigint;
  readonly itt: number;
  /** The R2T's TTT, or 0xffffffff for unsolicited data. */
  readonly ttt: number;
  readonly expStatSN: number;
  readonly dataSN: number;
  /** Offset of this PDU's data in the command's buffer. */
  readonly bufferOffset: number;
  readonly data: readonly Buffer[];
}

/** SCSI Data-In: read data, possibly with the command's final status (S bit). */
export interface ScsiDataInPdu extends TargetSequence {
  readonly kind: 'scsi-data-in';
  /** F bit: the last PDU of this sequence. */
  readonly final: boolean;
  /** A bit: the target asks for a DataACK SNACK (ERL > 0). */
  readonly acknowledge: boolean;
  /** O bit (valid with S). */
  readonly residualOverflow: boolean;
  /** U bit (valid with S). */
  readonly residualUnderflow: boolean;
  /** S bit: `status`, `statSN` and `residualCount` are valid and no SCSI Response follows. */
  readonly statusPresent: boolean;
  /** SAM status (valid with S). */
  readonly status: number;
  /** LUN (valid with A). */
  readonly lun: bigint;
  readonly itt: number;
  /** Target Transfer Tag (with A), else 0xffffffff. */
  readonly ttt: number;
  readonly dataSN: number;
  readonly bufferOffset: number;
  readonly residualCount: number;
  readonly data: readonly Buffer[];
}

/** Ready To Transfer: the target asks for `desiredDataTransferLength` bytes at `bufferOffset`. */
export interface ReadyToTransferPdu extends TargetSequence {
  readonly kind: 'r2t';
  readonly lun: bigint;
  readonly itt: number;
  /** Tag the initiator puts in the Data-Out PDUs answering this R2T. */
  readonly ttt: number;
  readonly r2tSN: number;
  readonly bufferOffset: number;
  readonly desiredDataTransferLength: number;
}

const ACKNOWLEDGE_BIT = 0x40;
const OVERFLOW_BIT = 0x04;
const UNDERFLOW_BIT = 0x02;
const STATUS_BIT = 0x01;

/** Codec of {@link ScsiDataOutPdu}. */
export const scsiDataOutCodec: KindCodec<ScsiDataOutPdu> = {
  opcode: Opcode.ScsiDataOut,
  carriesData: true,
  write(p, bhs) {
    bhs[1] = p.final ? FINAL_BIT : 0;
    putU64(bhs, 8, p.lun, 'LUN');
    putU32(bhs, 16, p.itt, 'ITT');
    putU32(bhs, 20, p.ttt, 'TTT');
    putU32(bhs, 28, p.expStatSN, 'ExpStatSN');
    putU32(bhs, 36, p.dataSN, 'DataSN');
    putU32(bhs, 40, p.bufferOffset, 'BufferOffset');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'scsi-data-out',
      final: bit(bhs, 1, FINAL_BIT),
      lun: bhs.readBigUInt64BE(8),
      itt: bhs.readUInt32BE(16),
      ttt: bhs.readUInt32BE(20),
      expStatSN: bhs.readUInt32BE(28),
      dataSN: bhs.readUInt32BE(36),
      bufferOffset: bhs.readUInt32BE(40),
    };
  },
};

/** Codec of {@link ScsiDataInPdu}. */
export const scsiDataInCodec: KindCodec<ScsiDataInPdu> = {
  opcode: Opcode.ScsiDataIn,
  carriesData: true,
  write(p, bhs) {
    bhs[1] =
      (p.final ? FINAL_BIT : 0) |
      (p.acknowledge ? ACKNOWLEDGE_BIT : 0) |
      (p.residualOverflow ? OVERFLOW_BIT : 0) |
      (p.residualUnderflow ? UNDERFLOW_BIT : 0) |
      (p.statusPresent ? STATUS_BIT : 0);
    putU8(bhs, 3, p.status, 'Status');
    putU64(bhs, 8, p.lun, 'LUN');
    putU32(bhs, 16, p.itt, 'ITT');
    putU32(bhs, 20, p.ttt, 'TTT');
    writeTargetSequence(bhs, p);
    putU32(bhs, 36, p.dataSN, 'DataSN');
    putU32(bhs, 40, p.bufferOffset, 'BufferOffset');
    putU32(bhs, 44, p.residualCount, 'ResidualCount');
    return undefined;
  },
  read(bhs) {
    const flags = bhs.readUInt8(1);
    return {
      kind: 'scsi-data-in',
      final: (flags & FINAL_BIT) !== 0,
      acknowledge: (flags & ACKNOWLEDGE_BIT) !== 0,
      residualOverflow: (flags & OVERFLOW_BIT) !== 0,
      residualUnderflow: (flags & UNDERFLOW_BIT) !== 0,
      statusPresent: (flags & STATUS_BIT) !== 0,
      status: bhs.readUInt8(3),
      lun: bhs.readBigUInt64BE(8),
      itt: bhs.readUInt32BE(16),
      ttt: bhs.readUInt32BE(20),
      ...readTargetSequence(bhs),
      dataSN: bhs.readUInt32BE(36),
      bufferOffset: bhs.readUInt32BE(40),
      residualCount: bhs.readUInt32BE(44),
    };
  },
};

/** Codec of {@link ReadyToTransferPdu}. */
export const readyToTransferCodec: KindCodec<ReadyToTransferPdu> = {
  opcode: Opcode.ReadyToTransfer,
  carriesData: false,
  write(p, bhs) {
    bhs[1] = FINAL_BIT;
    putU64(bhs, 8, p.lun, 'LUN');
    putU32(bhs, 16, p.itt, 'ITT');
    putU32(bhs, 20, p.ttt, 'TTT');
    writeTargetSequence(bhs, p);
    putU32(bhs, 36, p.r2tSN, 'R2TSN');
    putU32(bhs, 40, p.bufferOffset, 'BufferOffset');
    putU32(bhs, 44, p.desiredDataTransferLength, 'DesiredDataTransferLength');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'r2t',
      lun: bhs.readBigUInt64BE(8),
      itt: bhs.readUInt32BE(16),
      ttt: bhs.readUInt32BE(20),
      ...readTargetSequence(bhs),
      r2tSN: bhs.readUInt32BE(36),
      bufferOffset: bhs.readUInt32BE(40),
      desiredDataTransferLength: bhs.readUInt32BE(44),
    };
  },
};
