/**
 * The 24-byte MAD common header (IBA 13.4.2) and the constants of the Communication Management class.
 *
 * IB CM MADs travel on QP1 as UD SEND_ONLY packets (DETH Q_Key 0x80010000, SrcQP 1) with a 256-byte payload.
 */
import { checkUint, checkUint64, need } from './fields.js';

/** Size of every MAD on the wire. */
export const MAD_BYTES = 256;

/** Size of the MAD common header. */
export const MAD_HEADER_BYTES = 24;

/** Size of a CM message body after the MAD header. */
export const CM_DATA_BYTES = MAD_BYTES - MAD_HEADER_BYTES;

/** MAD base version. */
export const MAD_BASE_VERSION = 1;

/** Management class of Communication Management. */
export const MGMT_CLASS_CM = 0x07;

/** Class version of CM MADs (`IB_CM_CLASS_VERSION`). */
export const CM_CLASS_VERSION = 2;

/** The QP number of the General Services Interface (QP1), where CM MADs go. */
export const GSI_QPN = 1;

/** MAD methods used by the CM class. */
export const MadMethod = {
  /** Get (ClassPortInfo). */
  Get: 0x01,
  /** Send: every CM protocol message. */
  Send: 0x03,
  /** GetResp (ClassPortInfo). */
  GetResp: 0x81,
} as const;

/** CM attribute IDs (IBA Table 104). */
export const CmAttributeId = {
  ClassPortInfo: 0x0001,
  REQ: 0x0010,
  MRA: 0x0011,
  REJ: 0x0012,
  REP: 0x0013,
  RTU: 0x0014,
  DREQ: 0x0015,
  DREP: 0x0016,
  SIDR_REQ: 0x0017,
  SIDR_REP: 0x0018,
  LAP: 0x0019,
  APR: 0x001a,
} as const;

/** The MAD common header. */
export interface MadHeader {
  /** Base version (1). */
  readonly baseVersion: number;
  /** Management class (0x07 for CM). */
  readonly mgmtClass: number;
  /** Class version (2 for CM). */
  readonly classVersion: number;
  /** Method (0x03 Send for CM messages). */
  readonly method: number;
  /** Status (16 bits). */
  readonly status: number;
  /** Class-specific (16 bits). */
  readonly classSpecific: number;
  /** Transaction ID: REP and RTU reuse the REQ's, so peers match them up by it. */
  readonly tid: bigint;
  /** Attribute ID: which CM message this is. */
  readonly attributeId: number;
  /** Attribute modifier (ECE puts vendor options here; 0 otherwise). */
  readonly attributeModifier: number;
}

/** Writes `hdr` at the start of `out`. */
export function writeMadHeader(hdr: MadHeader, out: Buffer): void {
  need(out, 0, MAD_HEADER_BYTES, 'MAD header');
  out[0] = checkUint('MAD base version', hdr.baseVersion, 8);
  out[1] = checkUint('MAD management class', hdr.mgmtClass, 8);
  out[2] = checkUint('MAD class version', hdr.classVersion, 8);
  out[3] = checkUint('MAD method', hdr.method, 8);
  out.writeUInt16BE(checkUint('MAD status', hdr.status, 16), 4);
  out.writeUInt16BE(checkUint('MAD class specific', hdr.classSpecific, 16), 6);
  out.writeBigUInt64BE(checkUint64('MAD TID', hdr.tid), 8);
  out.writeUInt16BE(checkUint('MAD attribute ID', hdr.attributeId, 16), 16);
  out.writeUInt16BE(0, 18);
  out.writeUInt32BE(checkUint('MAD attribute modifier', hdr.attributeModifier, 32), 20);
}

/** Reads the MAD header at the start of `buf`. */
export function readMadHeader(buf: Buffer): MadHeader {
  need(buf, 0, MAD_HEADER_BYTES, 'MAD header');
  return {
    baseVersion: buf[0] ?? 0,
    mgmtClass: buf[1] ?? 0,
    classVersion: buf[2] ?? 0,
    method: buf[3] ?? 0,
    status: buf.readUInt16BE(4),
    classSpecific: buf.readUInt16BE(6),
    tid: buf.readBigUInt64BE(8),
    attributeId: buf.readUInt16BE(16),
    attributeModifier: buf.readUInt32BE(20),
  };
}
