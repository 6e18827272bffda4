/** SCSI Response (RFC 7143 §11.4): status, residuals and, in the data segment, SenseLength + sense + response data. */
import { readTargetSequence, writeTargetSequence, type KindCodec, type TargetSequence } from './codec.js';
import { putU32, putU8 } from './fields.js';
import { FINAL_BIT, Opcode } from './opcodes.js';

/** iSCSI service response codes (RFC 7143 §11.4.3); 0x80-0xff are vendor specific. */
export const ScsiServiceResponse = {
  CommandCompletedAtTarget: 0x00,
  TargetFailure: 0x01,
} as const;

/** One of the {@link ScsiServiceResponse} values. */
export type ScsiServiceResponse = (typeof ScsiServiceResponse)[keyof typeof ScsiServiceResponse];

/** SAM status codes most often seen in the Status field (RFC 7143 §11.4.2). */
export const ScsiStatus = {
  Good: 0x00,
  CheckCondition: 0x02,
  ConditionMet: 0x04,
  Busy: 0x08,
  ReservationConflict: 0x18,
  TaskSetFull: 0x28,
  AcaActive: 0x30,
  TaskAborted: 0x40,
} as const;

/** One of the {@link ScsiStatus} values. */
export type ScsiStatus = (typeof ScsiStatus)[keyof typeof ScsiStatus];

/** SCSI Response. */
export interface ScsiResponsePdu extends TargetSequence {
  readonly kind: 'scsi-response';
  /** o bit: bidirectional read residual overflow. */
  readonly bidirectionalReadResidualOverflow: boolean;
  /** u bit: bidirectional read residual underflow. */
  readonly bidirectionalReadResidualUnderflow: boolean;
  /** O bit: residual overflow. */
  readonly residualOverflow: boolean;
  /** U bit: residual underflow. */
  readonly residualUnderflow: boolean;
  /** iSCSI service response, a {@link ScsiServiceResponse}. */
  readonly response: number;
  /** SAM status, a {@link ScsiStatus}; valid when `response` is CommandCompletedAtTarget. */
  readonly status: number;
  readonly itt: number;
  /** SNACK Tag (ERL > 0), else 0. */
  readonly snackTag: number;
  /** Number of Data-In PDUs the target sent for this command. */
  readonly expDataSN: number;
  readonly bidirectionalReadResidualCount: number;
  readonly residualCount: number;
  /** SenseLength (2 bytes), sense data and response data, when present. */
  readonly data: readonly Buffer[];
}

const BIDI_OVERFLOW = 0x10;
const BIDI_UNDERFLOW = 0x08;
const OVERFLOW = 0x04;
const UNDERFLOW = 0x02;

/** Codec of {@link ScsiResponsePdu}. */
export const scsiResponseCodec: KindCodec<ScsiResponsePdu> = {
  opcode: Opcode.ScsiResponse,
  carriesData: true,
  write(p, bhs) {
    bhs[1] =
      FINAL_BIT |
      (p.bidirectionalReadResidualOverflow ? BIDI_OVERFLOW : 0) |
      (p.bidirectionalReadResidualUnderflow ? BIDI_UNDERFLOW : 0) |
      (p.residualOverflow ? OVERFLOW : 0) |
      (p.residualUnderflow ? UNDERFLOW : 0);
    putU8(bhs, 2, p.response, 'Response');
    putU8(bhs, 3, p.status, 'Status');
    putU32(bhs, 16, p.itt, 'ITT');
    putU32(bhs, 20, p.snackTag, 'SNACKTag');
    writeTargetSequence(bhs, p);
    putU32(bhs, 36, p.expDataSN, 'ExpDataSN');
    putU32(bhs, 40, p.bidirectionalReadResidualCount, 'BidirectionalReadResidualCount');
    putU32(bhs, 44, p.residualCount, 'ResidualCount');
    return undefined;
  },
  read(bhs) {
    const flags = bhs.readUInt8(1);
    return {
      kind: 'scsi-response',
      bidirectionalReadResidualOverflow: (flags & BIDI_OVERFLOW) !== 0,
      bidirectionalReadResidualUnderflow: (flags & BIDI_UNDERFLOW) !== 0,
      residualOverflow: (flags & OVERFLOW) !== 0,
      residualUnderflow: (flags & UNDERFLOW) !== 0,
      response: bhs.readUInt8(2),
      status: bhs.readUInt8(3),
      itt: bhs.readUInt32BE(16),
      snackTag: bhs.readUInt32BE(20),
      ...readTargetSequence(bhs),
      expDataSN: bhs.readUInt32BE(36),
      bidirectionalReadResidualCount: bhs.readUInt32BE(40),
      residualCount: bhs.readUInt32BE(44),
    };
  },
};
