/**
 * CM SIDR_REQ and SIDR_REP (IBA 12.11, Tables 119-120): service ID resolution for UD QPs (rdma_cm RDMA_PS_UDP).
 */
import { CM_PRIVATE_DATA_BYTES, readPrivateData, writePrivateData } from './cm-private-data.js';
import { RoceError } from './errors.js';
import { checkMaxLength, checkUint, checkUint64, readU24, writeU24 } from './fields.js';
import { MAD_HEADER_BYTES } from './mad.js';

const D = MAD_HEADER_BYTES;

/** Size of the SIDR_REP additional information area. */
export const CM_SIDR_ADDITIONAL_INFO_BYTES = 72;

/** A decoded SIDR_REQ. */
export interface CmSidrReq {
  /** Discriminator. */
  readonly kind: 'SIDR_REQ';
  /** Request ID the SIDR_REP echoes. */
  readonly requestId: number;
  /** Partition key. */
  readonly pkey: number;
  /** Service ID to resolve. */
  readonly serviceId: bigint;
  /** Private data, 216 bytes (rdma_cm puts its `cma_hdr` first). */
  readonly privateData: Buffer;
}

/** A decoded SIDR_REP. */
export interface CmSidrRep {
  /** Discriminator. */
  readonly kind: 'SIDR_REP';
  /** The SIDR_REQ's request ID. */
  readonly requestId: number;
  /** Status: 0 valid, 1 unsupported service ID, 2 rejected, 3 no QP, 4 redirect, 5 unsupported version. */
  readonly status: number;
  /** Vendor ID (24 bits, bytes 6-7 and 11). */
  readonly vendorId: number;
  /** The service's UD QP number (24 bits). */
  readonly qpn: number;
  /** Service ID resolved. */
  readonly serviceId: bigint;
  /** The service's Q_Key. */
  readonly qkey: number;
  /** Additional information, up to 72 bytes; its length goes in its own field. */
  readonly additionalInfo: Buffer;
  /** Private data, 136 bytes. */
  readonly privateData: Buffer;
}

/** Writes the SIDR_REQ body into a zeroed 256-byte MAD. */
export function writeCmSidrReq(req: CmSidrReq, mad: Buffer): void {
  mad.writeUInt32BE(checkUint('SIDR_REQ request ID', req.requestId, 32), D);
  mad.writeUInt16BE(checkUint('SIDR_REQ P_Key', req.pkey, 16), D + 4);
  mad.writeBigUInt64BE(checkUint64('SIDR_REQ service ID', req.serviceId), D + 8);
  writePrivateData('SIDR_REQ', req.privateData, CM_PRIVATE_DATA_BYTES.SIDR_REQ, mad, D + 16);
}

/** Reads the SIDR_REQ body of a 256-byte MAD. */
export function readCmSidrReq(mad: Buffer): CmSidrReq {
  return {
    kind: 'SIDR_REQ',
    requestId: mad.readUInt32BE(D),
    pkey: mad.readUInt16BE(D + 4),
    serviceId: mad.readBigUInt64BE(D + 8),
    privateData: readPrivateData(mad, D + 16, CM_PRIVATE_DATA_BYTES.SIDR_REQ),
  };
}

/** Writes the SIDR_REP body into a zeroed 256-byte MAD. */
export function writeCmSidrRep(rep: CmSidrRep, mad: Buffer): void {
  checkMaxLength('SIDR_REP additional info', rep.additionalInfo, CM_SIDR_ADDITIONAL_INFO_BYTES);
  const vendorId = checkUint('SIDR_REP vendor ID', rep.vendorId, 24);
  mad.writeUInt32BE(checkUint('SIDR_REP request ID', rep.requestId, 32), D);
  mad[D + 4] = checkUint('SIDR_REP status', rep.status, 8);
  mad[D + 5] = rep.additionalInfo.length;
  mad.writeUInt16BE(vendorId >> 8, D + 6);
  writeU24(mad, D + 8, checkUint('SIDR_REP QPN', rep.qpn, 24));
  mad[D + 11] = vendorId & 0xff;
  mad.writeBigUInt64BE(checkUint64('SIDR_REP service ID', rep.serviceId), D + 12);
  mad.writeUInt32BE(checkUint('SIDR_REP Q_Key', rep.qkey, 32), D + 20);
  rep.additionalInfo.copy(mad, D + 24);
  writePrivateData('SIDR_REP', rep.privateData, CM_PRIVATE_DATA_BYTES.SIDR_REP, mad, D + 96);
}

/** Reads the SIDR_REP body of a 256-byte MAD (an info length beyond 72 throws ERR_CM_BAD_LENGTH). */
export function readCmSidrRep(mad: Buffer): CmSidrRep {
  const infoLength = mad[D + 5] ?? 0;
  if (infoLength > CM_SIDR_ADDITIONAL_INFO_BYTES) {
    throw new RoceError('ERR_CM_BAD_LENGTH', `SIDR_REP additional info length ${infoLength} exceeds 72`);
  }
  return {
    kind: 'SIDR_REP',
    requestId: mad.readUInt32BE(D),
    status: mad[D + 4] ?? 0,
    vendorId: (mad.readUInt16BE(D + 6) << 8) | (mad[D + 11] ?? 0),
    qpn: readU24(mad, D + 8),
    serviceId: mad.readBigUInt64BE(D + 12),
    qkey: mad.readUInt32BE(D + 20),
    additionalInfo: Buffer.from(mad.subarray(D + 24, D + 24 + infoLength)),
    privateData: readPrivateData(mad, D + 96, CM_PRIVATE_DATA_BYTES.SIDR_REP),
  };
}
