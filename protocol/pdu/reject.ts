/** Reject (RFC 7143 §11.17): the target refuses a PDU and returns a copy of its header. */
import { readTargetSequence, writeTargetSequence, type KindCodec, type TargetSequence } from './codec.js';
import { RESERVED_TAG } from './constants.js';
import { putU32, putU8 } from './fields.js';
import { FINAL_BIT, Opcode } from './opcodes.js';

export { RejectReason, rejectReasonName } from './reject-reason.js';

/** Reject (ITT is always 0xffffffff on the wire). */
export interface RejectPdu extends TargetSequence {
  readonly kind: 'reject';
  /** A {@link RejectReason}. */
  readonly reason: number;
  /** DataSN/R2TSN to ask for with a SNACK (ERL > 0), else 0. */
  readonly dataSN: number;
  /** The complete header (BHS, and AHS if any) of the rejected PDU. */
  readonly data: readonly Buffer[];
}

/** Codec of {@link RejectPdu}. */
export const rejectCodec: KindCodec<RejectPdu> = {
  opcode: Opcode.Reject,
  carriesData: true,
  write(p, bhs) {
    bhs[1] = FINAL_BIT;
    putU8(bhs, 2, p.reason, 'Reason');
    bhs.writeUInt32BE(RESERVED_TAG, 16);
    writeTargetSequence(bhs, p);
    putU32(bhs, 36, p.dataSN, 'DataSN/R2TSN');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'reject',
      reason: bhs.readUInt8(2),
      ...readTargetSequence(bhs),
      dataSN: bhs.readUInt32BE(36),
    };
  },
};
