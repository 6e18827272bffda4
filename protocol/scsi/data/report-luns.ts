/**
 * REPORT LUNS parameter data (SPC-4 §6.33): a 4-byte list length, 4 reserved bytes, then 8-byte LUNs.
 */
import { requireLength } from '../bytes.js';
import { ScsiDecodeError } from '../errors.js';
import { decodeLun, encodeLun } from '../lun.js';

/** Decoded REPORT LUNS data. */
export interface ReportLunsData {
  /** LUNs in single-level peripheral or flat addressing, as numbers. */
  readonly luns: readonly number[];
  /** LUN entries in other address methods, as the raw 8 bytes. */
  readonly otherLuns: readonly Buffer[];
  /** LUN LIST LENGTH as declared: more than was returned when the allocation length cut the list. */
  readonly listLength: number;
}

/** Encodes REPORT LUNS data for the given LUN numbers. */
export function encodeReportLuns(luns: readonly number[]): Buffer {
  const buf = Buffer.alloc(8 + 8 * luns.length);
  buf.writeUInt32BE(8 * luns.length, 0);
  luns.forEach((lun, i) => encodeLun(lun).copy(buf, 8 + 8 * i));
  return buf;
}

/** Decodes REPORT LUNS data; entries past the end of the returned bytes are left out. */
export function decodeReportLuns(buf: Buffer): ReportLunsData {
  requireLength(buf, 8, 'REPORT LUNS data');
  const listLength = buf.readUInt32BE(0);
  if (listLength % 8 !== 0) {
    throw new ScsiDecodeError('ERR_SCSI_LENGTH', `LUN LIST LENGTH ${listLength} is not a multiple of 8`);
  }
  const luns: number[] = [];
  const otherLuns: Buffer[] = [];
  const end = Math.min(buf.length, 8 + listLength);
  for (let offset = 8; offset + 8 <= end; offset += 8) {
    try {
      luns.push(decodeLun(buf, offset));
    } catch (err) {
      if (!(err instanceof ScsiDecodeError)) throw err;
      otherLuns.push(Buffer.from(buf.subarray(offset, offset + 8)));
    }
  }
  return { luns, otherLuns, listLength };
}
