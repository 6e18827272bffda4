/**
 * rdma_cm's IP addressing over IB CM (Linux `cma.c`, IBA Annex A11 "RDMA IP CM service"): the service ID of a
 * port, and the 36-byte `cma_hdr` at the start of REQ (and SIDR_REQ) private data, before the consumer's bytes.
 */
import { CM_PRIVATE_DATA_BYTES } from './cm-private-data.js';
import { RoceError } from './errors.js';
import { checkMaxLength, checkUint, need } from './fields.js';
import { formatIp, ipv4Bytes, ipv6Bytes, type IpAddress } from './ip-address.js';

/** `CMA_VERSION`: the only `cma_hdr` version. */
export const CMA_VERSION = 0x00;

/** Size of `struct cma_hdr`. */
export const CMA_HEADER_BYTES = 36;

/** Consumer private data that fits in a REQ after the `cma_hdr` (92 − 36). */
export const CMA_REQ_CONSUMER_BYTES = CM_PRIVATE_DATA_BYTES.REQ - CMA_HEADER_BYTES;

/** rdma_cm port spaces (`enum rdma_ucm_port_space`). */
export const RdmaPortSpace = { IPOIB: 0x0002, IB: 0x013f, TCP: 0x0106, UDP: 0x0111 } as const;

/** The IB service ID rdma_cm listens on for `port` (port space TCP by default): 3260 → 0x0000000001060CBC. */
export function rdmaCmServiceId(port: number, portSpace: number = RdmaPortSpace.TCP): bigint {
  return (BigInt(checkUint('port space', portSpace, 16)) << 16n) | BigInt(checkUint('port', port, 16));
}

/** Port space and port of an rdma_cm service ID, or undefined when it is not one (upper 32 bits set). */
export function parseRdmaCmServiceId(serviceId: bigint): { portSpace: number; port: number } | undefined {
  if (serviceId < 0n || serviceId > 0xffff_ffffn) return undefined;
  return { portSpace: Number(serviceId >> 16n), port: Number(serviceId & 0xffffn) };
}

/** The addressing rdma_cm puts in front of a REQ's private data. */
export interface CmaHeader {
  /** IP version of both addresses. */
  readonly ipVersion: 4 | 6;
  /** The active side's source port. */
  readonly srcPort: number;
  /** The active side's IP address. */
  readonly srcAddr: string;
  /** The address the active side connects to (the passive rdma_cm matches it against its listener). */
  readonly dstAddr: string;
}

function addressBytes(addr: IpAddress, version: 4 | 6): Buffer {
  // IPv4 sits in the last 4 bytes of the 16-byte union, after 12 zero bytes (`cma_ip_addr.ip4.pad`).
  return version === 4 ? Buffer.concat([Buffer.alloc(12), ipv4Bytes(addr)]) : ipv6Bytes(addr);
}

/** Encodes a `cma_hdr` (36 bytes). */
export function encodeCmaHeader(hdr: CmaHeader): Buffer {
  const out = Buffer.alloc(CMA_HEADER_BYTES);
  out[0] = CMA_VERSION;
  out[1] = hdr.ipVersion << 4;
  out.writeUInt16BE(checkUint('cma_hdr port', hdr.srcPort, 16), 2);
  addressBytes(hdr.srcAddr, hdr.ipVersion).copy(out, 4);
  addressBytes(hdr.dstAddr, hdr.ipVersion).copy(out, 20);
  return out;
}

/** Decodes the `cma_hdr` at the start of `buf` (ERR_CM_BAD_CMA_HEADER for a wrong version or IP version). */
export function decodeCmaHeader(buf: Buffer): CmaHeader {
  need(buf, 0, CMA_HEADER_BYTES, 'cma_hdr');
  if (buf[0] !== CMA_VERSION) {
    throw new RoceError('ERR_CM_BAD_CMA_HEADER', `cma_hdr version ${buf[0] ?? 0} is not ${CMA_VERSION}`);
  }
  const ipVersion = (buf[1] ?? 0) >> 4;
  if (ipVersion !== 4 && ipVersion !== 6) {
    throw new RoceError('ERR_CM_BAD_CMA_HEADER', `cma_hdr IP version ${ipVersion} is neither 4 nor 6`);
  }
  const address = (offset: number): string =>
    formatIp(ipVersion === 4 ? buf.subarray(offset + 12, offset + 16) : buf.subarray(offset, offset + 16));
  return { ipVersion, srcPort: buf.readUInt16BE(2), srcAddr: address(4), dstAddr: address(20) };
}

/** REQ private data: the `cma_hdr` then the consumer's bytes (at most 56). */
export function encodeRdmaCmReqPrivateData(hdr: CmaHeader, consumer: Buffer): Buffer {
  checkMaxLength('rdma_cm consumer private data', consumer, CMA_REQ_CONSUMER_BYTES);
  return Buffer.concat([encodeCmaHeader(hdr), consumer]);
}

/** Splits REQ private data into the `cma_hdr` and the consumer's bytes (all that follows, 56 in a full REQ). */
export function decodeRdmaCmReqPrivateData(privateData: Buffer): { cma: CmaHeader; consumer: Buffer } {
  return { cma: decodeCmaHeader(privateData), consumer: Buffer.from(privateData.subarray(CMA_HEADER_BYTES)) };
}
