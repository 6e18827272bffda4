/**
 * The fields every BHS shares (RFC 7143 §11.2.1), read without decoding the rest: enough for a framer to find
 * the PDU's end, and for a target to copy the header into a Reject.
 */
import { BHS_LENGTH } from './constants.js';
import { PduDecodeError } from './errors.js';
import { getU24 } from './fields.js';
import { FINAL_BIT, IMMEDIATE_BIT, OPCODE_MASK } from './opcodes.js';

/** What byte 0-7 and 16-19 of any BHS say. */
export interface BhsSummary {
  /** Opcode (6 bits); may be one RFC 7143 does not define. */
  readonly opcode: number;
  /** I bit. */
  readonly immediate: boolean;
  /** Bit 7 of byte 1 (F, or T for login). */
  readonly final: boolean;
  /** AHS length in bytes (TotalAHSLength × 4). */
  readonly ahsLength: number;
  /** DataSegmentLength (without padding). */
  readonly dataSegmentLength: number;
  /** Initiator Task Tag. */
  readonly itt: number;
}

/** Reads the common BHS fields from the first 48 bytes of `bytes`. */
export function peekBhs(bytes: Buffer): BhsSummary {
  if (bytes.length < BHS_LENGTH) {
    throw new PduDecodeError('ERR_PDU_TRUNCATED', `a BHS is ${BHS_LENGTH} bytes, got ${bytes.length}`);
  }
  const byte0 = bytes.readUInt8(0);
  return {
    opcode: byte0 & OPCODE_MASK,
    immediate: (byte0 & IMMEDIATE_BIT) !== 0,
    final: (bytes.readUInt8(1) & FINAL_BIT) !== 0,
    ahsLength: bytes.readUInt8(4) * 4,
    dataSegmentLength: getU24(bytes, 5),
    itt: bytes.readUInt32BE(16),
  };
}
