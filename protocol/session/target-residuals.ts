/**
 * Residuals (RFC 7143 §11.4.5): the initiator's Expected Data Transfer Length (EDTL) against what the command
 * really moves (the SCSI Parsed Data Transfer Length, SPDTL). More than the EDTL is an overflow, less an underflow;
 * the count is the difference, reported even with a status other than GOOD.
 *
 * Reads: the target sends at most EDTL bytes and reports what the device produced beyond or short of it.
 * Writes: the target never asks for more than EDTL. When a WRITE or WRITE AND VERIFY announces more blocks than
 * the EDTL covers and the EDTL is a whole number of blocks, the command is carried out on the blocks the EDTL
 * covers (FCP-4 §9.4.2's first option, which libiscsi's iSCSIResiduals tests expect) and the rest is reported
 * as overflow; otherwise the SCSI model refuses the command before pulling any data.
 */

/** A residual, as the SCSI Response's O/U bits and ResidualCount carry it. */
export interface Residual {
  readonly overflow: boolean;
  readonly underflow: boolean;
  readonly count: number;
}

/** No residual. */
export const NO_RESIDUAL: Residual = { overflow: false, underflow: false, count: 0 };

/** The residual of moving `actual` bytes where the initiator expected `expected`. */
export function residualOf(expected: number, actual: number): Residual {
  if (actual > expected) return { overflow: true, underflow: false, count: Math.min(actual - expected, 0xffffffff) };
  if (actual < expected) return { overflow: false, underflow: true, count: expected - actual };
  return NO_RESIDUAL;
}

/** Where the TRANSFER LENGTH of each write-type CDB sits. */
const WRITE_LENGTH_FIELD: ReadonlyMap<number, { readonly offset: number; readonly bytes: 2 | 4 }> = new Map([
  [0x2a, { offset: 7, bytes: 2 }], // WRITE (10)
  [0x2e, { offset: 7, bytes: 2 }], // WRITE AND VERIFY (10)
  [0xaa, { offset: 6, bytes: 4 }], // WRITE (12)
  [0xae, { offset: 6, bytes: 4 }], // WRITE AND VERIFY (12)
  [0x8a, { offset: 10, bytes: 4 }], // WRITE (16)
  [0x8e, { offset: 10, bytes: 4 }], // WRITE AND VERIFY (16)
]);

/**
 * A copy of a WRITE / WRITE AND VERIFY CDB cut down to the blocks `edtl` bytes cover, when the command announces
 * `dataOut` bytes (> edtl) and `edtl` is a whole number of its blocks; undefined when that does not apply.
 */
export function truncatedWriteCdb(cdb: Buffer, dataOut: number, edtl: number): Buffer | undefined {
  const field = WRITE_LENGTH_FIELD.get(cdb[0] ?? -1);
  if (field === undefined || dataOut <= edtl || cdb.length < field.offset + field.bytes) return undefined;
  const blocks = field.bytes === 2 ? cdb.readUInt16BE(field.offset) : cdb.readUInt32BE(field.offset);
  if (blocks === 0 || dataOut % blocks !== 0) return undefined;
  const blockSize = dataOut / blocks;
  if (edtl % blockSize !== 0) return undefined;
  const copy = Buffer.from(cdb);
  const kept = edtl / blockSize;
  if (field.bytes === 2) copy.writeUInt16BE(kept, field.offset);
  else copy.writeUInt32BE(kept, field.offset);
  return copy;
}
