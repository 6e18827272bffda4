/**
 * Splitting text into PDU-sized data segments: every piece but the last carries the Continue (C) bit
 * (RFC 7143 §11.10.2). Pieces are views into one encoded buffer, not copies.
 */
import { encodeText, type TextPair } from './codec.js';
import { TextError } from './errors.js';

/** One PDU's worth of text. */
export interface TextPiece {
  /** The data segment, as a chunk list. */
  readonly data: readonly Buffer[];
  /** True when the C bit must be set: more text follows in the next PDU. */
  readonly continues: boolean;
}

/**
 * Encodes `pairs` and cuts the bytes into pieces of at most `maxDataSegmentLength`. An empty text is one empty
 * piece, so a caller always has a PDU to send.
 */
export function splitText(pairs: readonly TextPair[], maxDataSegmentLength: number): TextPiece[] {
  if (!Number.isSafeInteger(maxDataSegmentLength) || maxDataSegmentLength < 1) {
    throw new TextError(
      'ERR_TEXT_BAD_CONFIG',
      `maxDataSegmentLength must be a positive integer, not ${maxDataSegmentLength}`,
    );
  }
  const bytes = encodeText(pairs);
  if (bytes.length === 0) return [{ data: [], continues: false }];
  const pieces: TextPiece[] = [];
  for (let offset = 0; offset < bytes.length; offset += maxDataSegmentLength) {
    const end = Math.min(offset + maxDataSegmentLength, bytes.length);
    pieces.push({ data: [bytes.subarray(offset, end)], continues: end < bytes.length });
  }
  return pieces;
}
