/** NOP-Out (RFC 7143 §11.18) and NOP-In (§11.19): pings and keepalives, with optional ping data. */
import { bit, readTargetSequence, writeTargetSequence, type KindCodec, type TargetSequence } from './codec.js';
import { putU32, putU64 } from './fields.js';
import { FINAL_BIT, IMMEDIATE_BIT, Opcode } from './opcodes.js';

/** NOP-Out: an initiator ping (ITT set) or the answer to a target's NOP-In (TTT set). */
export interface NopOutPdu {
  readonly kind: 'nop-out';
  /** I bit: deliver immediately, outside the CmdSN window. */
  readonly immediate: boolean;
  /** LUN (raw 64-bit SAM encoding); echoes the NOP-In's LUN when answering one. */
  readonly lun: bigint;
  /** Initiator Task Tag; 0xffffffff when this is only an answer and no NOP-In is wanted back. */
  readonly itt: number;
  /** Target Transfer Tag copied from the NOP-In being answered, else 0xffffffff. */
  readonly ttt: number;
  readonly cmdSN: number;
  readonly expStatSN: number;
  /** Ping data, echoed by the target. */
  readonly data: readonly Buffer[];
}

/** NOP-In: a target's answer to a NOP-Out, or its own ping (TTT set). */
export interface NopInPdu extends TargetSequence {
  readonly kind: 'nop-in';
  readonly lun: bigint;
  /** ITT of the NOP-Out answered, or 0xffffffff for a target ping. */
  readonly itt: number;
  /** Target Transfer Tag: 0xffffffff unless the target wants an answer. */
  readonly ttt: number;
  /** Ping data. */
  readonly data: readonly Buffer[];
}

/** Codec of {@link NopOutPdu}. */
export const nopOutCodec: KindCodec<NopOutPdu> = {
  opcode: Opcode.NopOut,
  carriesData: true,
  write(p, bhs) {
    if (p.immediate) bhs[0] = bhs.readUInt8(0) | IMMEDIATE_BIT;
    bhs[1] = FINAL_BIT;
    putU64(bhs, 8, p.lun, 'LUN');
    putU32(bhs, 16, p.itt, 'ITT');
    putU32(bhs, 20, p.ttt, 'TTT');
    putU32(bhs, 24, p.cmdSN, 'CmdSN');
    putU32(bhs, 28, p.expStatSN, 'ExpStatSN');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'nop-out',
      immediate: bit(bhs, 0, IMMEDIATE_BIT),
      lun: bhs.readBigUInt64BE(8),
      itt: bhs.readUInt32BE(16),
      ttt: bhs.readUInt32BE(20),
      cmdSN: bhs.readUInt32BE(24),
      expStatSN: bhs.readUInt32BE(28),
    };
  },
};

/** Codec of {@link NopInPdu}. */
export const nopInCodec: KindCodec<NopInPdu> = {
  opcode: Opcode.NopIn,
  carriesData: true,
  write(p, bhs) {
    bhs[1] = FINAL_BIT;
    putU64(bhs, 8, p.lun, 'LUN');
    putU32(bhs, 16, p.itt, 'ITT');
    putU32(bhs, 20, p.ttt, 'TTT');
    writeTargetSequence(bhs, p);
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'nop-in',
      lun: bhs.readBigUInt64BE(8),
      itt: bhs.readUInt32BE(16),
      ttt: bhs.readUInt32BE(20),
      ...readTargetSequence(bhs),
    };
  },
};
