/**
 * READ CAPACITY parameter data (SBC-3 §5.15.2 and §5.16.2): how many blocks, how big, and (16) the
 * provisioning and protection bits.
 */
import { requireLength } from '../bytes.js';

/** READ CAPACITY(10) data. */
export interface ReadCapacity10Data {
  /** RETURNED LOGICAL BLOCK ADDRESS: the last LBA, or 0xffffffff when it does not fit. */
  readonly returnedLba: number;
  /** LOGICAL BLOCK LENGTH IN BYTES. */
  readonly blockLength: number;
}

/** Encodes READ CAPACITY(10) data (8 bytes). */
export function encodeReadCapacity10(data: ReadCapacity10Data): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeUInt32BE(data.returnedLba >>> 0, 0);
  buf.writeUInt32BE(data.blockLength >>> 0, 4);
  return buf;
}

/** Decodes READ CAPACITY(10) data. Throws only `ScsiDecodeError`. */
export function decodeReadCapacity10(buf: Buffer): ReadCapacity10Data {
  requireLength(buf, 8, 'READ CAPACITY(10) data');
  return { returnedLba: buf.readUInt32BE(0), blockLength: buf.readUInt32BE(4) };
}

/** READ CAPACITY(16) data. */
export interface ReadCapacity16Data {
  /** RETURNED LOGICAL BLOCK ADDRESS: the last LBA. */
  readonly returnedLba: bigint;
  /** LOGICAL BLOCK LENGTH IN BYTES. */
  readonly blockLength: number;
  /** P_TYPE: protection type. */
  readonly protectionType: number;
  /** PROT_EN: protection enabled. */
  readonly protectionEnabled: boolean;
  /** P_I_EXPONENT. */
  readonly protectionIntervalExponent: number;
  /** LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT. */
  readonly lbppbe: number;
  /** LBPME: logical block provisioning management (thin provisioning) enabled. */
  readonly lbpme: boolean;
  /** LBPRZ: unmapped blocks read as zeros. */
  readonly lbprz: boolean;
  /** LOWEST ALIGNED LOGICAL BLOCK ADDRESS. */
  readonly lowestAlignedLba: number;
}

/** Encodes READ CAPACITY(16) data (32 bytes). */
export function encodeReadCapacity16(data: ReadCapacity16Data): Buffer {
  const buf = Buffer.alloc(32);
  buf.writeBigUInt64BE(BigInt.asUintN(64, data.returnedLba), 0);
  buf.writeUInt32BE(data.blockLength >>> 0, 8);
  buf[12] = ((data.protectionType & 0x07) << 1) | (data.protectionEnabled ? 0x01 : 0);
  buf[13] = ((data.protectionIntervalExponent & 0x0f) << 4) | (data.lbppbe & 0x0f);
  buf.writeUInt16BE((data.lbpme ? 0x8000 : 0) | (data.lbprz ? 0x4000 : 0) | (data.lowestAlignedLba & 0x3fff), 14);
  return buf;
}

/** Decodes READ CAPACITY(16) data (at least 16 bytes; the rest is reserved). Throws only `ScsiDecodeError`. */
export function decodeReadCapacity16(buf: Buffer): ReadCapacity16Data {
  requireLength(buf, 16, 'READ CAPACITY(16) data');
  const word = buf.readUInt16BE(14);
  return {
    returnedLba: buf.readBigUInt64BE(0),
    blockLength: buf.readUInt32BE(8),
    protectionType: (buf.readUInt8(12) >> 1) & 0x07,
    protectionEnabled: (buf.readUInt8(12) & 0x01) !== 0,
    protectionIntervalExponent: buf.readUInt8(13) >> 4,
    lbppbe: buf.readUInt8(13) & 0x0f,
    lbpme: (word & 0x8000) !== 0,
    lbprz: (word & 0x4000) !== 0,
    lowestAlignedLba: word & 0x3fff,
  };
}
