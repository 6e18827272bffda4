/**
 * The UNMAP parameter list (SBC-3 §5.28.2): an 8-byte header and 16-byte block descriptors (LBA, count).
 */
import { requireLength } from '../bytes.js';
import { ScsiEncodeError } from '../errors.js';

/** One UNMAP block descriptor. */
export interface UnmapDescriptor {
  /** UNMAP LOGICAL BLOCK ADDRESS. */
  readonly lba: bigint;
  /** NUMBER OF LOGICAL BLOCKS. */
  readonly blocks: number;
}

/** A decoded UNMAP parameter list. */
export interface UnmapParameterList {
  /** UNMAP DATA LENGTH as declared. */
  readonly dataLength: number;
  /** UNMAP BLOCK DESCRIPTOR DATA LENGTH as declared. */
  readonly descriptorDataLength: number;
  /** The descriptors present whole in both the declared length and the bytes given. */
  readonly descriptors: readonly UnmapDescriptor[];
}

/** Encodes an UNMAP parameter list for the given ranges. */
export function encodeUnmapParameterList(descriptors: readonly UnmapDescriptor[]): Buffer {
  const length = 8 + 16 * descriptors.length;
  if (length > 0xffff) throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'too many UNMAP descriptors');
  const buf = Buffer.alloc(length);
  buf.writeUInt16BE(length - 2, 0);
  buf.writeUInt16BE(length - 8, 2);
  descriptors.forEach((d, i) => {
    if (
      d.lba < 0n ||
      d.lba > 0xffff_ffff_ffff_ffffn ||
      !Number.isInteger(d.blocks) ||
      d.blocks < 0 ||
      d.blocks > 0xffff_ffff
    ) {
      throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', `UNMAP descriptor ${i} does not fit its fields`);
    }
    buf.writeBigUInt64BE(d.lba, 8 + 16 * i);
    buf.writeUInt32BE(d.blocks, 16 + 16 * i);
  });
  return buf;
}

/** Decodes an UNMAP parameter list (at least 8 bytes). Throws only `ScsiDecodeError`. */
export function decodeUnmapParameterList(buf: Buffer): UnmapParameterList {
  requireLength(buf, 8, 'UNMAP parameter list');
  const dataLength = buf.readUInt16BE(0);
  const descriptorDataLength = buf.readUInt16BE(2);
  const end = Math.min(buf.length, 8 + descriptorDataLength);
  const descriptors: UnmapDescriptor[] = [];
  for (let offset = 8; offset + 16 <= end; offset += 16) {
    descriptors.push({ lba: buf.readBigUInt64BE(offset), blocks: buf.readUInt32BE(offset + 8) });
  }
  return { dataLength, descriptorDataLength, descriptors };
}
