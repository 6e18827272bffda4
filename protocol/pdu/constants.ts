/** Fixed sizes and reserved values of the iSCSI wire format (RFC 7143 §11.2). */

/** Length of the Basic Header Segment. */
export const BHS_LENGTH = 48;

/** Largest DataSegmentLength the 24-bit field can carry. */
export const MAX_DATA_SEGMENT_LENGTH = 0xffffff;

/** Largest AHS total: TotalAHSLength is one byte counting 4-byte words. */
export const MAX_TOTAL_AHS_LENGTH = 255 * 4;

/** Length of a CRC32C header or data digest on the wire. */
export const DIGEST_LENGTH = 4;

/** The reserved task tag (ITT/TTT 0xffffffff): "no task". */
export const RESERVED_TAG = 0xffffffff;

/** The only iSCSI version RFC 7143 defines (Version-max/min/active). */
export const ISCSI_VERSION = 0x00;

/** MaxRecvDataSegmentLength before negotiation, and during login (RFC 7143 §13.12). */
export const DEFAULT_MAX_RECV_DATA_SEGMENT_LENGTH = 8192;

/** Bytes of zero padding that follow `length` bytes to reach a 4-byte boundary. */
export function paddingLength(length: number): number {
  return (4 - (length & 3)) & 3;
}
