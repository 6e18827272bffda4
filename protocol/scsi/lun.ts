/**
 * The 8-byte LUN field (SAM-5 §4.7), single level: peripheral device addressing for LUNs 0-255 and flat space
 * addressing for 256-16383, the two forms Linux, libiscsi, tgt and LIO use. iSCSI carries this field in the BHS
 * and REPORT LUNS lists it.
 */
import { checkUint, requireLength } from './bytes.js';
import { ScsiDecodeError } from './errors.js';

/** The largest LUN the single-level flat space format can hold. */
export const MAX_FLAT_LUN = 0x3fff;

/** Encodes a LUN number as the 8-byte SAM LUN field. */
export function encodeLun(lun: number): Buffer {
  checkUint(lun, MAX_FLAT_LUN, 'LUN');
  const buf = Buffer.alloc(8);
  if (lun < 256) {
    buf[1] = lun; // peripheral device addressing, bus 0
  } else {
    buf[0] = 0x40 | (lun >> 8); // flat space addressing
    buf[1] = lun & 0xff;
  }
  return buf;
}

/** Decodes a single-level 8-byte LUN field to its number. Throws only {@link ScsiDecodeError}. */
export function decodeLun(buf: Buffer, offset = 0): number {
  requireLength(buf, offset + 8, 'LUN');
  const method = buf.readUInt8(offset) >> 6;
  for (let i = 2; i < 8; i++) {
    if (buf[offset + i] !== 0) {
      throw new ScsiDecodeError('ERR_SCSI_FIELD', 'multi-level (hierarchical) LUNs are not supported');
    }
  }
  if (method === 0) {
    if ((buf.readUInt8(offset) & 0x3f) !== 0) {
      throw new ScsiDecodeError(
        'ERR_SCSI_FIELD',
        'peripheral device addressing with a bus identifier is not supported',
      );
    }
    return buf.readUInt8(offset + 1);
  }
  if (method === 1) return ((buf.readUInt8(offset) & 0x3f) << 8) | buf.readUInt8(offset + 1);
  throw new ScsiDecodeError('ERR_SCSI_FIELD', `LUN address method ${method} is not supported`);
}
