/**
 * GET LBA STATUS parameter data (SBC-3 §5.4.2): which extents from a starting LBA are mapped, deallocated or
 * anchored.
 */
import { requireLength } from '../bytes.js';

/** PROVISIONING STATUS values (SBC-3 table 35). */
export const ProvisioningStatus = { Mapped: 0, Deallocated: 1, Anchored: 2 } as const;

/** One LBA status descriptor. */
export interface LbaStatusDescriptor {
  /** LBA of the extent's first block. */
  readonly lba: bigint;
  /** NUMBER OF LOGICAL BLOCKS in the extent. */
  readonly blocks: number;
  /** PROVISIONING STATUS ({@link ProvisioningStatus}). */
  readonly status: number;
}

/** Decoded GET LBA STATUS data. */
export interface LbaStatusData {
  /** PARAMETER DATA LENGTH as declared (bytes after the first 4). */
  readonly parameterDataLength: number;
  /** The descriptors that were returned whole. */
  readonly descriptors: readonly LbaStatusDescriptor[];
}

/** Encodes GET LBA STATUS data. */
export function encodeLbaStatus(descriptors: readonly LbaStatusDescriptor[]): Buffer {
  const buf = Buffer.alloc(8 + 16 * descriptors.length);
  buf.writeUInt32BE(4 + 16 * descriptors.length, 0);
  descriptors.forEach((d, i) => {
    const offset = 8 + 16 * i;
    buf.writeBigUInt64BE(BigInt.asUintN(64, d.lba), offset);
    buf.writeUInt32BE(d.blocks >>> 0, offset + 8);
    buf[offset + 12] = d.status & 0x0f;
  });
  return buf;
}

/** Decodes GET LBA STATUS data. Throws only `ScsiDecodeError`. */
export function decodeLbaStatus(buf: Buffer): LbaStatusData {
  requireLength(buf, 8, 'GET LBA STATUS data');
  const parameterDataLength = buf.readUInt32BE(0);
  const end = Math.min(buf.length, 4 + parameterDataLength);
  const descriptors: LbaStatusDescriptor[] = [];
  for (let offset = 8; offset + 16 <= end; offset += 16) {
    descriptors.push({
      lba: buf.readBigUInt64BE(offset),
      blocks: buf.readUInt32BE(offset + 8),
      status: buf.readUInt8(offset + 12) & 0x0f,
    });
  }
  return { parameterDataLength, descriptors };
}
