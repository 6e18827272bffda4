/**
 * Additional Header Segments (RFC 7143 §11.2.2): each is AHSLength (16 bits, counting the AHS-specific bytes
 * after the type byte), AHSType (low 6 bits of a byte), the specific bytes, and zero padding to 4 bytes.
 */
import { MAX_TOTAL_AHS_LENGTH, paddingLength } from './constants.js';
import { PduDecodeError, PduEncodeError } from './errors.js';

/** AHS types RFC 7143 defines. */
export const AhsType = {
  /** The CDB bytes beyond the first 16 (after one reserved byte). */
  ExtendedCdb: 1,
  /** Expected read-data length of a bidirectional command (after one reserved byte). */
  BidirectionalReadDataLength: 2,
} as const;

/** One AHS: its type and its AHS-specific bytes (AHSLength of them, padding excluded). */
export interface AhsSegment {
  readonly type: number;
  readonly specific: Buffer;
}

/** Bytes of an AHS: 3 bytes of length and type, the specific bytes, padding. */
function segmentLength(specificLength: number): number {
  return 3 + specificLength + paddingLength(3 + specificLength);
}

/** Lays out segments into AHS bytes (a multiple of 4); throws when they exceed the 1020-byte TotalAHSLength. */
export function encodeAhs(segments: readonly AhsSegment[]): Buffer {
  let total = 0;
  for (const s of segments) {
    if (s.specific.length > 0xffff) {
      throw new PduEncodeError('ERR_PDU_ENCODE_LENGTH', `AHS type ${s.type} is ${s.specific.length} bytes (max 65535)`);
    }
    total += segmentLength(s.specific.length);
  }
  if (total > MAX_TOTAL_AHS_LENGTH) {
    throw new PduEncodeError('ERR_PDU_ENCODE_LENGTH', `AHS total ${total} bytes exceeds ${MAX_TOTAL_AHS_LENGTH}`);
  }
  const out = Buffer.alloc(total);
  let offset = 0;
  for (const s of segments) {
    out.writeUInt16BE(s.specific.length, offset);
    out[offset + 2] = s.type & 0x3f;
    s.specific.copy(out, offset + 3);
    offset += segmentLength(s.specific.length);
  }
  return out;
}

/** Splits AHS bytes into segments (views of `ahs`); any length that overruns the AHS is an ERR_PDU_AHS. */
export function decodeAhs(ahs: Buffer): AhsSegment[] {
  const segments: AhsSegment[] = [];
  let offset = 0;
  // Each segment takes at least 4 bytes, so this loop runs at most 255 times.
  while (offset < ahs.length) {
    if (offset + 4 > ahs.length) throw new PduDecodeError('ERR_PDU_AHS', `AHS header at ${offset} overruns the AHS`);
    const specificLength = ahs.readUInt16BE(offset);
    const end = offset + segmentLength(specificLength);
    if (end > ahs.length) {
      throw new PduDecodeError('ERR_PDU_AHS', `AHS at ${offset} declares ${specificLength} bytes, overrunning the AHS`);
    }
    // AHSType: the top two bits are reserved.
    const type = ahs.readUInt8(offset + 2) & 0x3f;
    segments.push({ type, specific: ahs.subarray(offset + 3, offset + 3 + specificLength) });
    offset = end;
  }
  return segments;
}
