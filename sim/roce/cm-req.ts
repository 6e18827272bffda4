/**
 * CM REQ (IBA 12.6.5, Table 106): the active side's connection request. Field positions are those of Linux
 * `ibta_vol1_c12.h`; byte offsets below are from the start of the 256-byte MAD (message offset + 24).
 */
import { CM_PATH_BYTES, readCmPath, writeCmPath, type CmPath } from './cm-path.js';
import { CM_PRIVATE_DATA_BYTES, readPrivateData, writePrivateData } from './cm-private-data.js';
import { checkUint, checkUint64, flag, readU24, writeU24 } from './fields.js';
import { MAD_HEADER_BYTES } from './mad.js';

const D = MAD_HEADER_BYTES;

/** Transport service types in a REQ (2 bits). */
export const CmTransportServiceType = { RC: 0, UC: 1, RD: 2 } as const;

/** IB path MTU enum (4 bits) as carried in REQ and modify_qp: 1 = 256 … 5 = 4096 bytes. */
export const IbMtu = { MTU_256: 1, MTU_512: 2, MTU_1024: 3, MTU_2048: 4, MTU_4096: 5 } as const;

/** Bytes of an IB MTU enum value (undefined for values outside 1..5). */
export function ibMtuBytes(mtu: number): number | undefined {
  return Number.isInteger(mtu) && mtu >= 1 && mtu <= 5 ? 128 << mtu : undefined;
}

/** A decoded CM REQ. */
export interface CmReq {
  /** Discriminator. */
  readonly kind: 'REQ';
  /** The sender's communication ID. */
  readonly localCommId: number;
  /** Vendor ID (24 bits; 0 unless ECE is used). */
  readonly vendorId: number;
  /** Service ID: for rdma_cm, port space << 16 | port (iSER on 3260: 0x0000000001060CBC). */
  readonly serviceId: bigint;
  /** The sender's CA GUID. */
  readonly localCaGuid: bigint;
  /** Local Q_Key (UD/RD only; 0 for RC). */
  readonly localQkey: number;
  /** The sender's QP number (24 bits). */
  readonly localQpn: number;
  /** RDMA READ / atomic requests the sender will accept at once. */
  readonly responderResources: number;
  /** Local EE context (RD only; 24 bits). */
  readonly localEecn: number;
  /** RDMA READ / atomic requests the sender will issue at once. */
  readonly initiatorDepth: number;
  /** Remote EE context (RD only; 24 bits). */
  readonly remoteEecn: number;
  /** How long the passive side may take to answer (5-bit exponent). */
  readonly remoteCmResponseTimeout: number;
  /** 0 RC, 1 UC, 2 RD (2 bits). */
  readonly transportServiceType: number;
  /** End-to-end flow control (credits). */
  readonly endToEndFlowControl: boolean;
  /** The sender's first send PSN: the passive side's expected receive PSN. */
  readonly startingPsn: number;
  /** How long the sender takes to answer (5-bit exponent). */
  readonly localCmResponseTimeout: number;
  /** Transport retry count (3 bits; rxe treats 7 as infinite). */
  readonly retryCount: number;
  /** Partition key. */
  readonly pkey: number;
  /** Path MTU enum (4 bits: 1 = 256 … 5 = 4096). */
  readonly pathMtu: number;
  /** RDC exists (RD only). */
  readonly rdcExists: boolean;
  /** RNR retry count (3 bits; 7 = infinite). */
  readonly rnrRetryCount: number;
  /** Max CM retries (4 bits). */
  readonly maxCmRetries: number;
  /** The sender's QP uses an SRQ. */
  readonly srq: boolean;
  /** Extended transport type (3 bits; 0 unless XRC). */
  readonly extendedTransportType: number;
  /** Primary path. */
  readonly primaryPath: CmPath;
  /** Alternate path; absent (all zero on the wire) for rdma_cm over RoCE. */
  readonly alternatePath?: CmPath;
  /** SAP supported (byte 139 bit 2). */
  readonly sapSupported: boolean;
  /** Private data, 92 bytes (shorter input is zero-filled); rdma_cm puts its `cma_hdr` first. */
  readonly privateData: Buffer;
}

const PRIMARY = D + 52;
const ALTERNATE = D + 96;
const PRIVATE = D + 140;

/** Writes the REQ body into a zeroed 256-byte MAD (the header is written by the caller). */
export function writeCmReq(req: CmReq, mad: Buffer): void {
  mad.writeUInt32BE(checkUint('REQ local comm ID', req.localCommId, 32), D);
  writeU24(mad, D + 5, checkUint('REQ vendor ID', req.vendorId, 24));
  mad.writeBigUInt64BE(checkUint64('REQ service ID', req.serviceId), D + 8);
  mad.writeBigUInt64BE(checkUint64('REQ local CA GUID', req.localCaGuid), D + 16);
  mad.writeUInt32BE(checkUint('REQ local Q_Key', req.localQkey, 32), D + 28);
  writeU24(mad, D + 32, checkUint('REQ local QPN', req.localQpn, 24));
  mad[D + 35] = checkUint('REQ responder resources', req.responderResources, 8);
  writeU24(mad, D + 36, checkUint('REQ local EECN', req.localEecn, 24));
  mad[D + 39] = checkUint('REQ initiator depth', req.initiatorDepth, 8);
  writeU24(mad, D + 40, checkUint('REQ remote EECN', req.remoteEecn, 24));
  mad[D + 43] =
    (checkUint('REQ remote CM response timeout', req.remoteCmResponseTimeout, 5) << 3) |
    (checkUint('REQ transport service type', req.transportServiceType, 2) << 1) |
    (req.endToEndFlowControl ? 1 : 0);
  writeU24(mad, D + 44, checkUint('REQ starting PSN', req.startingPsn, 24));
  mad[D + 47] =
    (checkUint('REQ local CM response timeout', req.localCmResponseTimeout, 5) << 3) |
    checkUint('REQ retry count', req.retryCount, 3);
  mad.writeUInt16BE(checkUint('REQ P_Key', req.pkey, 16), D + 48);
  mad[D + 50] =
    (checkUint('REQ path MTU', req.pathMtu, 4) << 4) |
    (req.rdcExists ? 0x08 : 0) |
    checkUint('REQ RNR retry count', req.rnrRetryCount, 3);
  mad[D + 51] =
    (checkUint('REQ max CM retries', req.maxCmRetries, 4) << 4) |
    (req.srq ? 0x08 : 0) |
    checkUint('REQ extended transport type', req.extendedTransportType, 3);
  writeCmPath(req.primaryPath, mad, PRIMARY);
  if (req.alternatePath !== undefined) writeCmPath(req.alternatePath, mad, ALTERNATE);
  if (req.sapSupported) mad[D + 139] = (mad[D + 139] ?? 0) | 0x04;
  writePrivateData('REQ', req.privateData, CM_PRIVATE_DATA_BYTES.REQ, mad, PRIVATE);
}

function alternatePathPresent(mad: Buffer): boolean {
  // Byte 139 also holds the SAP bit, which is not part of the path.
  const lastByte = (mad[ALTERNATE + CM_PATH_BYTES - 1] ?? 0) & 0xf8;
  return lastByte !== 0 || mad.subarray(ALTERNATE, ALTERNATE + CM_PATH_BYTES - 1).some((b) => b !== 0);
}

/** Reads the REQ body of a 256-byte MAD (the caller has checked the length and header). */
export function readCmReq(mad: Buffer): CmReq {
  const b43 = mad[D + 43] ?? 0;
  const b47 = mad[D + 47] ?? 0;
  const b50 = mad[D + 50] ?? 0;
  const b51 = mad[D + 51] ?? 0;
  const alternatePath = alternatePathPresent(mad) ? { alternatePath: readCmPath(mad, ALTERNATE) } : {};
  return {
    kind: 'REQ',
    localCommId: mad.readUInt32BE(D),
    vendorId: readU24(mad, D + 5),
    serviceId: mad.readBigUInt64BE(D + 8),
    localCaGuid: mad.readBigUInt64BE(D + 16),
    localQkey: mad.readUInt32BE(D + 28),
    localQpn: readU24(mad, D + 32),
    responderResources: mad[D + 35] ?? 0,
    localEecn: readU24(mad, D + 36),
    initiatorDepth: mad[D + 39] ?? 0,
    remoteEecn: readU24(mad, D + 40),
    remoteCmResponseTimeout: b43 >> 3,
    transportServiceType: (b43 >> 1) & 3,
    endToEndFlowControl: flag(b43, 0),
    startingPsn: readU24(mad, D + 44),
    localCmResponseTimeout: b47 >> 3,
    retryCount: b47 & 7,
    pkey: mad.readUInt16BE(D + 48),
    pathMtu: b50 >> 4,
    rdcExists: flag(b50, 3),
    rnrRetryCount: b50 & 7,
    maxCmRetries: b51 >> 4,
    srq: flag(b51, 3),
    extendedTransportType: b51 & 7,
    primaryPath: readCmPath(mad, PRIMARY),
    ...alternatePath,
    sapSupported: flag(mad[D + 139] ?? 0, 2),
    privateData: readPrivateData(mad, PRIVATE, CM_PRIVATE_DATA_BYTES.REQ),
  };
}
