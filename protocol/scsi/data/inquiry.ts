/**
 * Standard INQUIRY data (SPC-4 §6.6.2): what a logical unit is, who made it, which standards it claims.
 * The encoder writes the 96-byte SPC-4 layout; the decoder accepts anything from 36 bytes up (an allocation
 * length may have cut the rest) and reads version descriptors only where they were returned.
 */
import { readAsciiField, requireLength, writeAsciiField } from '../bytes.js';
import { ScsiEncodeError } from '../errors.js';

/** Peripheral qualifier values (SPC-4 §6.6.2). */
export const PeripheralQualifier = {
  /** A device of the reported type is connected to this LU. */
  Connected: 0b000,
  /** The LU supports a device of this type, but none is connected now. */
  NotConnected: 0b001,
  /** No device can be supported on this LU (with device type 1Fh: the LU does not exist). */
  NotSupported: 0b011,
} as const;

/** Peripheral device types used here (SPC-4 table 142). */
export const DeviceType = {
  /** SBC direct-access block device. */
  DirectAccess: 0x00,
  /** Well known logical unit. */
  WellKnown: 0x1e,
  /** Unknown or no device type. */
  Unknown: 0x1f,
} as const;

/** Version descriptors (SPC-4 table 145) this stack claims or recognises. */
export const VersionDescriptor = {
  Sam5: 0x00a0,
  Spc4: 0x0460,
  Sbc3: 0x04c0,
  Iscsi: 0x0960,
  Sbc3Iso: 0x04c8,
} as const;

/** Standard INQUIRY data. */
export interface StandardInquiry {
  /** PERIPHERAL QUALIFIER. */
  readonly qualifier: number;
  /** PERIPHERAL DEVICE TYPE. */
  readonly deviceType: number;
  /** RMB: removable medium. */
  readonly removable: boolean;
  /** VERSION: 5 SPC-3, 6 SPC-4. */
  readonly version: number;
  /** NORMACA. */
  readonly normaca: boolean;
  /** HISUP: hierarchical LUN addressing. */
  readonly hisup: boolean;
  /** RESPONSE DATA FORMAT (2). */
  readonly responseDataFormat: number;
  /** SCCS. */
  readonly sccs: boolean;
  /** ACC. */
  readonly acc: boolean;
  /** TPGS: asymmetric logical unit access support. */
  readonly tpgs: number;
  /** 3PC: third-party copy. */
  readonly thirdPartyCopy: boolean;
  /** PROTECT: protection information. */
  readonly protect: boolean;
  /** ENCSERV. */
  readonly encserv: boolean;
  /** MULTIP: multiple ports. */
  readonly multip: boolean;
  /** CMDQUE: command queuing. */
  readonly cmdque: boolean;
  /** T10 VENDOR IDENTIFICATION (8 ASCII characters). */
  readonly vendor: string;
  /** PRODUCT IDENTIFICATION (16). */
  readonly product: string;
  /** PRODUCT REVISION LEVEL (4). */
  readonly revision: string;
  /** VERSION DESCRIPTORs, at most 8, zeros dropped. */
  readonly versionDescriptors: readonly number[];
}

/** Length of the standard INQUIRY data this encoder writes (SPC-4 table 142 up to the reserved tail). */
export const STANDARD_INQUIRY_LENGTH = 96;

/** Encodes standard INQUIRY data (96 bytes; the caller cuts it to the allocation length). */
export function encodeStandardInquiry(inq: StandardInquiry): Buffer {
  if (inq.versionDescriptors.length > 8) {
    throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'at most 8 version descriptors fit in standard INQUIRY data');
  }
  const buf = Buffer.alloc(STANDARD_INQUIRY_LENGTH);
  buf[0] = ((inq.qualifier & 0x07) << 5) | (inq.deviceType & 0x1f);
  buf[1] = inq.removable ? 0x80 : 0;
  buf[2] = inq.version & 0xff;
  buf[3] = (inq.normaca ? 0x20 : 0) | (inq.hisup ? 0x10 : 0) | (inq.responseDataFormat & 0x0f);
  buf[4] = STANDARD_INQUIRY_LENGTH - 5;
  buf[5] =
    (inq.sccs ? 0x80 : 0) |
    (inq.acc ? 0x40 : 0) |
    ((inq.tpgs & 0x03) << 4) |
    (inq.thirdPartyCopy ? 0x08 : 0) |
    (inq.protect ? 0x01 : 0);
  buf[6] = (inq.encserv ? 0x40 : 0) | (inq.multip ? 0x10 : 0);
  buf[7] = inq.cmdque ? 0x02 : 0;
  writeAsciiField(buf, 8, 8, inq.vendor, 'vendor identification');
  writeAsciiField(buf, 16, 16, inq.product, 'product identification');
  writeAsciiField(buf, 32, 4, inq.revision, 'product revision level');
  inq.versionDescriptors.forEach((descriptor, i) => buf.writeUInt16BE(descriptor & 0xffff, 58 + 2 * i));
  return buf;
}

/** Decodes standard INQUIRY data (at least 36 bytes). Throws only `ScsiDecodeError`. */
export function decodeStandardInquiry(buf: Buffer): StandardInquiry {
  requireLength(buf, 36, 'standard INQUIRY data');
  const end = Math.min(buf.length, 5 + buf.readUInt8(4));
  const versionDescriptors: number[] = [];
  for (let offset = 58; offset + 2 <= Math.min(end, 74); offset += 2) {
    const descriptor = buf.readUInt16BE(offset);
    if (descriptor !== 0) versionDescriptors.push(descriptor);
  }
  return {
    qualifier: buf.readUInt8(0) >> 5,
    deviceType: buf.readUInt8(0) & 0x1f,
    removable: (buf.readUInt8(1) & 0x80) !== 0,
    version: buf.readUInt8(2),
    normaca: (buf.readUInt8(3) & 0x20) !== 0,
    hisup: (buf.readUInt8(3) & 0x10) !== 0,
    responseDataFormat: buf.readUInt8(3) & 0x0f,
    sccs: (buf.readUInt8(5) & 0x80) !== 0,
    acc: (buf.readUInt8(5) & 0x40) !== 0,
    tpgs: (buf.readUInt8(5) >> 4) & 0x03,
    thirdPartyCopy: (buf.readUInt8(5) & 0x08) !== 0,
    protect: (buf.readUInt8(5) & 0x01) !== 0,
    encserv: (buf.readUInt8(6) & 0x40) !== 0,
    multip: (buf.readUInt8(6) & 0x10) !== 0,
    cmdque: (buf.readUInt8(7) & 0x02) !== 0,
    vendor: readAsciiField(buf, 8, 8),
    product: readAsciiField(buf, 16, 16),
    revision: readAsciiField(buf, 32, 4),
    versionDescriptors,
  };
}
