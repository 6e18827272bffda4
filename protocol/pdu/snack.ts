/** SNACK Request (RFC 7143 §11.16): asks the target to resend data, R2Ts or status, or acknowledges data. */
import { type KindCodec } from './codec.js';
import { bitField, putU32, putU64 } from './fields.js';
import { FINAL_BIT, Opcode } from './opcodes.js';

/** SNACK types (RFC 7143 §11.16.1). */
export const SnackType = {
  /** Data/R2T SNACK: resend Data-In or R2T PDUs. */
  DataR2t: 0,
  /** Status SNACK: resend responses. */
  Status: 1,
  /** DataACK: positive acknowledgement of Data-In. */
  DataAck: 2,
  /** R-Data SNACK: resend all Data-In, resegmented. */
  RData: 3,
} as const;

/** One of the {@link SnackType} values. */
export type SnackType = (typeof SnackType)[keyof typeof SnackType];

/** SNACK Request. */
export interface SnackRequestPdu {
  readonly kind: 'snack-request';
  /** Type (4 bits), a {@link SnackType}. */
  readonly type: number;
  readonly lun: bigint;
  /** ITT of the task (0xffffffff for a Status SNACK). */
  readonly itt: number;
  /** TTT (DataACK) or SNACK Tag (R-Data), else 0xffffffff. */
  readonly ttt: number;
  readonly expStatSN: number;
  /** First DataSN, R2TSN or StatSN to resend. */
  readonly begRun: number;
  /** How many to resend; 0 means all from BegRun on. */
  readonly runLength: number;
}

/** Codec of {@link SnackRequestPdu}. */
export const snackRequestCodec: KindCodec<SnackRequestPdu> = {
  opcode: Opcode.SnackRequest,
  carriesData: false,
  write(p, bhs) {
    bhs[1] = FINAL_BIT | bitField(p.type, 4, 'Type');
    putU64(bhs, 8, p.lun, 'LUN');
    putU32(bhs, 16, p.itt, 'ITT');
    putU32(bhs, 20, p.ttt, 'TTT');
    putU32(bhs, 28, p.expStatSN, 'ExpStatSN');
    putU32(bhs, 40, p.begRun, 'BegRun');
    putU32(bhs, 44, p.runLength, 'RunLength');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'snack-request',
      type: bhs.readUInt8(1) & 0x0f,
      lun: bhs.readBigUInt64BE(8),
      itt: bhs.readUInt32BE(16),
      ttt: bhs.readUInt32BE(20),
      expStatSN: bhs.readUInt32BE(28),
      begRun: bhs.readUInt32BE(40),
      runLength: bhs.readUInt32BE(44),
    };
  },
};
