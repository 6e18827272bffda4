/**
 * The contract every per-opcode codec fulfils. `encode.ts` writes the fields every BHS shares (opcode,
 * TotalAHSLength, DataSegmentLength) and the per-kind codec writes the rest; `decode.ts` mirrors it.
 */
import { putU32 } from './fields.js';

/** A PDU without its data segment: what a header alone describes. */
export type HeaderOf<P> = P extends unknown ? Omit<P, 'data'> : never;

/** How one PDU kind maps to and from its 48-byte BHS (and AHS). */
export interface KindCodec<P> {
  /** The opcode this kind is sent with. */
  readonly opcode: number;
  /** Whether this kind may carry a data segment (others must declare DataSegmentLength 0). */
  readonly carriesData: boolean;
  /**
   * Writes the opcode-specific fields (the I bit in byte 0, bytes 1-3 and 8-47) into a zeroed BHS, and returns the
   * AHS bytes (already padded) when the PDU needs any.
   */
  write(pdu: P, bhs: Buffer): Buffer | undefined;
  /** Reads the opcode-specific fields; `ahs` holds the (possibly empty) AHS bytes that followed the BHS. */
  read(bhs: Buffer, ahs: Buffer): HeaderOf<P>;
}

/** The sequence numbers every target PDU carries at bytes 24, 28 and 32 (RFC 7143 §11.3.x, §11.4.x ...). */
export interface TargetSequence {
  /** Status sequence number of this response. */
  readonly statSN: number;
  /** Next CmdSN the target expects. */
  readonly expCmdSN: number;
  /** Highest CmdSN the target will accept. */
  readonly maxCmdSN: number;
}

/** Writes StatSN, ExpCmdSN, MaxCmdSN at bytes 24, 28, 32. */
export function writeTargetSequence(bhs: Buffer, seq: TargetSequence): void {
  putU32(bhs, 24, seq.statSN, 'StatSN');
  putU32(bhs, 28, seq.expCmdSN, 'ExpCmdSN');
  putU32(bhs, 32, seq.maxCmdSN, 'MaxCmdSN');
}

/** Reads StatSN, ExpCmdSN, MaxCmdSN from bytes 24, 28, 32. */
export function readTargetSequence(bhs: Buffer): TargetSequence {
  return { statSN: bhs.readUInt32BE(24), expCmdSN: bhs.readUInt32BE(28), maxCmdSN: bhs.readUInt32BE(32) };
}

/** True when `mask` is set in byte `offset`. */
export function bit(bhs: Buffer, offset: number, mask: number): boolean {
  return (bhs.readUInt8(offset) & mask) !== 0;
}
