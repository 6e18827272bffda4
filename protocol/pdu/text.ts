/** Text Request (RFC 7143 §11.10) and Text Response (§11.11): key=value negotiation in full feature phase. */
import { bit, readTargetSequence, writeTargetSequence, type KindCodec, type TargetSequence } from './codec.js';
import { putU32, putU64 } from './fields.js';
import { FINAL_BIT, IMMEDIATE_BIT, Opcode } from './opcodes.js';

const CONTINUE_BIT = 0x40;

/** Text Request. */
export interface TextRequestPdu {
  readonly kind: 'text-request';
  readonly immediate: boolean;
  /** F bit: the last PDU of this request. */
  readonly final: boolean;
  /** C bit: the text continues in the next PDU. */
  readonly continue: boolean;
  readonly lun: bigint;
  readonly itt: number;
  /** 0xffffffff to start; the target's TTT to continue a multi-PDU exchange. */
  readonly ttt: number;
  readonly cmdSN: number;
  readonly expStatSN: number;
  /** key=value text (NUL separated). */
  readonly data: readonly Buffer[];
}

/** Text Response. */
export interface TextResponsePdu extends TargetSequence {
  readonly kind: 'text-response';
  readonly final: boolean;
  readonly continue: boolean;
  readonly lun: bigint;
  readonly itt: number;
  /** 0xffffffff when the exchange is complete; otherwise a tag the initiator echoes. */
  readonly ttt: number;
  /** key=value text (NUL separated). */
  readonly data: readonly Buffer[];
}

/** Codec of {@link TextRequestPdu}. */
export const textRequestCodec: KindCodec<TextRequestPdu> = {
  opcode: Opcode.TextRequest,
  carriesData: true,
  write(p, bhs) {
    if (p.immediate) bhs[0] = bhs.readUInt8(0) | IMMEDIATE_BIT;
    bhs[1] = (p.final ? FINAL_BIT : 0) | (p.continue ? CONTINUE_BIT : 0);
    putU64(bhs, 8, p.lun, 'LUN');
    putU32(bhs, 16, p.itt, 'ITT');
    putU32(bhs, 20, p.ttt, 'TTT');
    putU32(bhs, 24, p.cmdSN, 'CmdSN');
    putU32(bhs, 28, p.expStatSN, 'ExpStatSN');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'text-request',
      immediate: bit(bhs, 0, IMMEDIATE_BIT),
      final: bit(bhs, 1, FINAL_BIT),
      continue: bit(bhs, 1, CONTINUE_BIT),
      lun: bhs.readBigUInt64BE(8),
      itt: bhs.readUInt32BE(16),
      ttt: bhs.readUInt32BE(20),
      cmdSN: bhs.readUInt32BE(24),
      expStatSN: bhs.readUInt32BE(28),
    };
  },
};

/** Codec of {@link TextResponsePdu}. */
export const textResponseCodec: KindCodec<TextResponsePdu> = {
  opcode: Opcode.TextResponse,
  carriesData: true,
  write(p, bhs) {
    bhs[1] = (p.final ? FINAL_BIT : 0) | (p.continue ? CONTINUE_BIT : 0);
    putU64(bhs, 8, p.lun, 'LUN');
    putU32(bhs, 16, p.itt, 'ITT');
    putU32(bhs, 20, p.ttt, 'TTT');
    writeTargetSequence(bhs, p);
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'text-response',
      final: bit(bhs, 1, FINAL_BIT),
      continue: bit(bhs, 1, CONTINUE_BIT),
      lun: bhs.readBigUInt64BE(8),
      itt: bhs.readUInt32BE(16),
      ttt: bhs.readUInt32BE(20),
      ...readTargetSequence(bhs),
    };
  },
};
