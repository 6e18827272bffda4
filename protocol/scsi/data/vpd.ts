/**
 * Vital product data pages (SPC-4 §7.8, SBC-3 §6.5): supported pages (00h), unit serial number (80h), device
 * identification (83h), block limits (B0h), block device characteristics (B1h) and logical block provisioning
 * (B2h). Every page starts with the same 4-byte header; each encoder writes it and each decoder checks it.
 */
import { requireLength, TRAILING_PAD } from '../bytes.js';
import { ScsiDecodeError, ScsiEncodeError } from '../errors.js';

/** VPD page codes. */
export const VpdPage = {
  SupportedPages: 0x00,
  UnitSerialNumber: 0x80,
  DeviceIdentification: 0x83,
  BlockLimits: 0xb0,
  BlockDeviceCharacteristics: 0xb1,
  LogicalBlockProvisioning: 0xb2,
} as const;

/** The 4-byte header of every VPD page. */
export interface VpdHeader {
  /** PERIPHERAL QUALIFIER. */
  readonly qualifier: number;
  /** PERIPHERAL DEVICE TYPE. */
  readonly deviceType: number;
  /** PAGE CODE. */
  readonly pageCode: number;
  /** PAGE LENGTH (bytes after the header, as declared; may exceed what was returned). */
  readonly pageLength: number;
}

/** Decodes the 4-byte VPD header. Throws only `ScsiDecodeError`. */
export function decodeVpdHeader(buf: Buffer): VpdHeader {
  requireLength(buf, 4, 'VPD page');
  return {
    qualifier: buf.readUInt8(0) >> 5,
    deviceType: buf.readUInt8(0) & 0x1f,
    pageCode: buf.readUInt8(1),
    pageLength: buf.readUInt16BE(2),
  };
}

/** Builds a VPD page from its header fields and body. */
function vpdPage(byte0: number, pageCode: number, body: Buffer): Buffer {
  if (body.length > 0xffff) throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'VPD page longer than 65535 bytes');
  const header = Buffer.alloc(4);
  header[0] = byte0;
  header[1] = pageCode;
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

/** The body of a VPD page as returned (cut to what arrived), after checking the page code. */
function vpdBody(buf: Buffer, pageCode: number): Buffer {
  const header = decodeVpdHeader(buf);
  if (header.pageCode !== pageCode) {
    throw new ScsiDecodeError(
      'ERR_SCSI_FIELD',
      `expected VPD page 0x${pageCode.toString(16)}, got 0x${header.pageCode.toString(16)}`,
    );
  }
  return buf.subarray(4, Math.min(buf.length, 4 + header.pageLength));
}

/** Encodes the Supported VPD Pages page (00h); `byte0` is qualifier << 5 | device type. */
export function encodeSupportedVpdPages(pages: readonly number[], byte0 = 0): Buffer {
  return vpdPage(byte0, VpdPage.SupportedPages, Buffer.from(pages));
}

/** Decodes the Supported VPD Pages page (00h). */
export function decodeSupportedVpdPages(buf: Buffer): number[] {
  return [...vpdBody(buf, VpdPage.SupportedPages)];
}

/** Encodes the Unit Serial Number page (80h). */
export function encodeUnitSerialNumber(serial: string, byte0 = 0): Buffer {
  if (!/^[\x20-\x7e]*$/.test(serial)) {
    throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'the unit serial number must be printable ASCII');
  }
  return vpdPage(byte0, VpdPage.UnitSerialNumber, Buffer.from(serial, 'latin1'));
}

/** Decodes the Unit Serial Number page (80h), dropping trailing spaces and NULs. */
export function decodeUnitSerialNumber(buf: Buffer): string {
  return vpdBody(buf, VpdPage.UnitSerialNumber).toString('latin1').replace(TRAILING_PAD, '');
}

/** Code sets of a designator (SPC-4 table 488). */
export const CodeSet = { Binary: 1, Ascii: 2, Utf8: 3 } as const;

/** Associations of a designator (SPC-4 table 489). */
export const Association = { LogicalUnit: 0, TargetPort: 1, TargetDevice: 2 } as const;

/** Designator types (SPC-4 table 490). */
export const DesignatorType = {
  VendorSpecific: 0x0,
  T10VendorId: 0x1,
  Eui64: 0x2,
  Naa: 0x3,
  RelativeTargetPort: 0x4,
  TargetPortGroup: 0x5,
  LogicalUnitGroup: 0x6,
  Md5LogicalUnit: 0x7,
  ScsiNameString: 0x8,
} as const;

/** Protocol identifiers (SPC-4 table 362). */
export const ProtocolId = { Iscsi: 0x5 } as const;

/** One identification descriptor of the Device Identification page. */
export interface Designator {
  /** PROTOCOL IDENTIFIER (meaningful when PIV). */
  readonly protocolIdentifier: number;
  /** CODE SET ({@link CodeSet}). */
  readonly codeSet: number;
  /** PIV: the protocol identifier is valid. */
  readonly piv: boolean;
  /** ASSOCIATION ({@link Association}). */
  readonly association: number;
  /** DESIGNATOR TYPE ({@link DesignatorType}). */
  readonly designatorType: number;
  /** The designator bytes. */
  readonly designator: Buffer;
}

/** Encodes the Device Identification page (83h). */
export function encodeDeviceIdentification(designators: readonly Designator[], byte0 = 0): Buffer {
  const parts = designators.map((d) => {
    if (d.designator.length > 0xff) {
      throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'a designator is at most 255 bytes');
    }
    const header = Buffer.from([
      ((d.protocolIdentifier & 0x0f) << 4) | (d.codeSet & 0x0f),
      (d.piv ? 0x80 : 0) | ((d.association & 0x03) << 4) | (d.designatorType & 0x0f),
      0,
      d.designator.length,
    ]);
    return Buffer.concat([header, d.designator]);
  });
  return vpdPage(byte0, VpdPage.DeviceIdentification, Buffer.concat(parts));
}

/** Decodes the Device Identification page (83h); a designator cut off by the allocation length is dropped. */
export function decodeDeviceIdentification(buf: Buffer): Designator[] {
  const body = vpdBody(buf, VpdPage.DeviceIdentification);
  const out: Designator[] = [];
  let offset = 0;
  while (offset + 4 <= body.length) {
    const length = body.readUInt8(offset + 3);
    if (offset + 4 + length > body.length) break;
    out.push({
      protocolIdentifier: body.readUInt8(offset) >> 4,
      codeSet: body.readUInt8(offset) & 0x0f,
      piv: (body.readUInt8(offset + 1) & 0x80) !== 0,
      association: (body.readUInt8(offset + 1) >> 4) & 0x03,
      designatorType: body.readUInt8(offset + 1) & 0x0f,
      designator: Buffer.from(body.subarray(offset + 4, offset + 4 + length)),
    });
    offset += 4 + length;
  }
  return out;
}

/** The Block Limits page (B0h), SBC-3 r36 layout. */
export interface BlockLimits {
  /** WSNZ: WRITE SAME with NUMBER OF BLOCKS 0 is refused. */
  readonly wsnz: boolean;
  /** MAXIMUM COMPARE AND WRITE LENGTH (blocks). */
  readonly maxCompareAndWriteLength: number;
  /** OPTIMAL TRANSFER LENGTH GRANULARITY (blocks). */
  readonly optimalTransferLengthGranularity: number;
  /** MAXIMUM TRANSFER LENGTH (blocks; 0 = no limit reported). */
  readonly maxTransferLength: number;
  /** OPTIMAL TRANSFER LENGTH (blocks). */
  readonly optimalTransferLength: number;
  /** MAXIMUM PREFETCH LENGTH (blocks). */
  readonly maxPrefetchLength: number;
  /** MAXIMUM UNMAP LBA COUNT (0xffffffff = no limit). */
  readonly maxUnmapLbaCount: number;
  /** MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT. */
  readonly maxUnmapBlockDescriptorCount: number;
  /** OPTIMAL UNMAP GRANULARITY (blocks). */
  readonly optimalUnmapGranularity: number;
  /** UGAVALID: the alignment field is valid. */
  readonly unmapGranularityAlignmentValid: boolean;
  /** UNMAP GRANULARITY ALIGNMENT. */
  readonly unmapGranularityAlignment: number;
  /** MAXIMUM WRITE SAME LENGTH (blocks; 0 = no limit reported). */
  readonly maxWriteSameLength: bigint;
}

/** Encodes the Block Limits page (B0h), 64 bytes. */
export function encodeBlockLimits(limits: BlockLimits, byte0 = 0): Buffer {
  const body = Buffer.alloc(0x3c);
  body[0] = limits.wsnz ? 0x01 : 0;
  body[1] = limits.maxCompareAndWriteLength & 0xff;
  body.writeUInt16BE(limits.optimalTransferLengthGranularity & 0xffff, 2);
  body.writeUInt32BE(limits.maxTransferLength >>> 0, 4);
  body.writeUInt32BE(limits.optimalTransferLength >>> 0, 8);
  body.writeUInt32BE(limits.maxPrefetchLength >>> 0, 12);
  body.writeUInt32BE(limits.maxUnmapLbaCount >>> 0, 16);
  body.writeUInt32BE(limits.maxUnmapBlockDescriptorCount >>> 0, 20);
  body.writeUInt32BE(limits.optimalUnmapGranularity >>> 0, 24);
  body.writeUInt32BE(
    ((limits.unmapGranularityAlignmentValid ? 0x8000_0000 : 0) | (limits.unmapGranularityAlignment & 0x7fff_ffff)) >>>
      0,
    28,
  );
  body.writeBigUInt64BE(BigInt.asUintN(64, limits.maxWriteSameLength), 32);
  return vpdPage(byte0, VpdPage.BlockLimits, body);
}

/** Decodes the Block Limits page (B0h); an SBC-2 page (length 8) leaves the later fields 0. */
export function decodeBlockLimits(buf: Buffer): BlockLimits {
  const body = vpdBody(buf, VpdPage.BlockLimits);
  const u8 = (offset: number): number => (offset < body.length ? body.readUInt8(offset) : 0);
  const u16 = (offset: number): number => (offset + 2 <= body.length ? body.readUInt16BE(offset) : 0);
  const u32 = (offset: number): number => (offset + 4 <= body.length ? body.readUInt32BE(offset) : 0);
  const alignment = u32(28);
  return {
    wsnz: (u8(0) & 0x01) !== 0,
    maxCompareAndWriteLength: u8(1),
    optimalTransferLengthGranularity: u16(2),
    maxTransferLength: u32(4),
    optimalTransferLength: u32(8),
    maxPrefetchLength: u32(12),
    maxUnmapLbaCount: u32(16),
    maxUnmapBlockDescriptorCount: u32(20),
    optimalUnmapGranularity: u32(24),
    unmapGranularityAlignmentValid: alignment >= 0x8000_0000,
    unmapGranularityAlignment: alignment & 0x7fff_ffff,
    maxWriteSameLength: 40 <= body.length ? body.readBigUInt64BE(32) : 0n,
  };
}

/** The Block Device Characteristics page (B1h). */
export interface BlockDeviceCharacteristics {
  /** MEDIUM ROTATION RATE: 1 = non-rotating (solid state), else RPM. */
  readonly mediumRotationRate: number;
  /** PRODUCT TYPE. */
  readonly productType: number;
  /** WABEREQ. */
  readonly wabereq: number;
  /** WACEREQ. */
  readonly wacereq: number;
  /** NOMINAL FORM FACTOR. */
  readonly nominalFormFactor: number;
  /** FUAB: FUA also covers previously written data. */
  readonly fuab: boolean;
  /** VBULS: verify byte check unmapped LBA supported. */
  readonly vbuls: boolean;
}

/** Encodes the Block Device Characteristics page (B1h), 64 bytes. */
export function encodeBlockDeviceCharacteristics(page: BlockDeviceCharacteristics, byte0 = 0): Buffer {
  const body = Buffer.alloc(0x3c);
  body.writeUInt16BE(page.mediumRotationRate & 0xffff, 0);
  body[2] = page.productType & 0xff;
  body[3] = ((page.wabereq & 0x03) << 6) | ((page.wacereq & 0x03) << 4) | (page.nominalFormFactor & 0x0f);
  body[4] = (page.fuab ? 0x02 : 0) | (page.vbuls ? 0x01 : 0);
  return vpdPage(byte0, VpdPage.BlockDeviceCharacteristics, body);
}

/** Decodes the Block Device Characteristics page (B1h). */
export function decodeBlockDeviceCharacteristics(buf: Buffer): BlockDeviceCharacteristics {
  const body = vpdBody(buf, VpdPage.BlockDeviceCharacteristics);
  requireLength(body, 5, 'Block Device Characteristics page');
  return {
    mediumRotationRate: body.readUInt16BE(0),
    productType: body.readUInt8(2),
    wabereq: body.readUInt8(3) >> 6,
    wacereq: (body.readUInt8(3) >> 4) & 0x03,
    nominalFormFactor: body.readUInt8(3) & 0x0f,
    fuab: (body.readUInt8(4) & 0x02) !== 0,
    vbuls: (body.readUInt8(4) & 0x01) !== 0,
  };
}

/** Provisioning types (SBC-3 table 193). */
export const ProvisioningType = { Full: 0, Resource: 1, Thin: 2 } as const;

/** The Logical Block Provisioning page (B2h). */
export interface LogicalBlockProvisioning {
  /** THRESHOLD EXPONENT. */
  readonly thresholdExponent: number;
  /** LBPU: UNMAP supported. */
  readonly lbpu: boolean;
  /** LBPWS: WRITE SAME(16) with UNMAP supported. */
  readonly lbpws: boolean;
  /** LBPWS10: WRITE SAME(10) with UNMAP supported. */
  readonly lbpws10: boolean;
  /** LBPRZ: unmapped blocks read as zeros. */
  readonly lbprz: boolean;
  /** ANC_SUP: ANCHOR supported. */
  readonly anchorSupported: boolean;
  /** DP: a provisioning group descriptor follows. */
  readonly dp: boolean;
  /** PROVISIONING TYPE ({@link ProvisioningType}). */
  readonly provisioningType: number;
}

/** Encodes the Logical Block Provisioning page (B2h), 8 bytes. */
export function encodeLogicalBlockProvisioning(page: LogicalBlockProvisioning, byte0 = 0): Buffer {
  const body = Buffer.alloc(4);
  body[0] = page.thresholdExponent & 0xff;
  body[1] =
    (page.lbpu ? 0x80 : 0) |
    (page.lbpws ? 0x40 : 0) |
    (page.lbpws10 ? 0x20 : 0) |
    (page.lbprz ? 0x04 : 0) |
    (page.anchorSupported ? 0x02 : 0) |
    (page.dp ? 0x01 : 0);
  body[2] = page.provisioningType & 0x07;
  return vpdPage(byte0, VpdPage.LogicalBlockProvisioning, body);
}

/** Decodes the Logical Block Provisioning page (B2h). */
export function decodeLogicalBlockProvisioning(buf: Buffer): LogicalBlockProvisioning {
  const body = vpdBody(buf, VpdPage.LogicalBlockProvisioning);
  requireLength(body, 3, 'Logical Block Provisioning page');
  return {
    thresholdExponent: body.readUInt8(0),
    lbpu: (body.readUInt8(1) & 0x80) !== 0,
    lbpws: (body.readUInt8(1) & 0x40) !== 0,
    lbpws10: (body.readUInt8(1) & 0x20) !== 0,
    lbprz: (body.readUInt8(1) & 0x04) !== 0,
    anchorSupported: (body.readUInt8(1) & 0x02) !== 0,
    dp: (body.readUInt8(1) & 0x01) !== 0,
    provisioningType: body.readUInt8(2) & 0x07,
  };
}
