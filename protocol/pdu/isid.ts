/**
 * The Initiator Session ID (RFC 7143 §11.12.5, §10.1.1): 6 bytes laid out as T (2 bits), A (6 bits), B (16),
 * C (8), D (16). T says how A-D are used: OUI, IANA enterprise number, random, or reserved.
 */
import { bitField, putU16, putU8 } from './fields.js';

/** ISID formats (the T field). */
export const IsidType = {
  /** A+B: 22-bit OUI; C+D: qualifier. */
  Oui: 0,
  /** B+C: IANA enterprise number; D: qualifier. */
  EnterpriseNumber: 1,
  /** B+C: random; D: qualifier. */
  Random: 2,
  Reserved: 3,
} as const;

/** The ISID's five fields. */
export interface Isid {
  /** T (2 bits): an {@link IsidType}. */
  readonly type: number;
  /** A (6 bits). */
  readonly a: number;
  /** B (16 bits). */
  readonly b: number;
  /** C (8 bits). */
  readonly c: number;
  /** D (16 bits): the qualifier. */
  readonly d: number;
}

/** Writes an ISID into 6 bytes at `offset`. */
export function writeIsid(buf: Buffer, offset: number, isid: Isid): void {
  buf[offset] = (bitField(isid.type, 2, 'ISID.T') << 6) | bitField(isid.a, 6, 'ISID.A');
  putU16(buf, offset + 1, isid.b, 'ISID.B');
  putU8(buf, offset + 3, isid.c, 'ISID.C');
  putU16(buf, offset + 4, isid.d, 'ISID.D');
}

/** Reads an ISID from 6 bytes at `offset` (the caller guarantees they exist). */
export function readIsid(buf: Buffer, offset: number): Isid {
  const ta = buf.readUInt8(offset);
  return {
    type: ta >>> 6,
    a: ta & 0x3f,
    b: buf.readUInt16BE(offset + 1),
    c: buf.readUInt8(offset + 3),
    d: buf.readUInt16BE(offset + 4),
  };
}

/** The ISID as 12 hex digits, the form iscsiadm and targetcli print (e.g. `400001370000`). */
export function formatIsid(isid: Isid): string {
  const buf = Buffer.alloc(6);
  writeIsid(buf, 0, isid);
  return buf.toString('hex');
}
