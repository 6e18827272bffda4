/**
 * Datagram Extended Transport Header (IBA 9.3.2; rxe `rxe_deth`): Q_Key and source QP of a UD packet.
 */
import { checkUint, need, readU24, writeU24 } from './fields.js';

/** Size of the DETH in bytes. */
export const DETH_BYTES = 8;

/** The Q_Key of the GSI QP (QP1), which carries IB CM MADs (`IB_QP1_QKEY`). */
export const GSI_QKEY = 0x8001_0000;

/** Q_Key and source QP number of a datagram. */
export interface Deth {
  /** Queue key the receiving UD QP checks. */
  readonly qkey: number;
  /** Source QP number (24 bits). */
  readonly srcQp: number;
}

/** Writes `deth` at `offset` of `out` (the reserved byte is 0). */
export function writeDeth(deth: Deth, out: Buffer, offset: number): void {
  need(out, offset, DETH_BYTES, 'DETH');
  out.writeUInt32BE(checkUint('DETH Q_Key', deth.qkey, 32), offset);
  out[offset + 4] = 0;
  writeU24(out, offset + 5, checkUint('DETH SrcQP', deth.srcQp, 24));
}

/** Reads the DETH at `offset` of `buf`. */
export function readDeth(buf: Buffer, offset = 0): Deth {
  need(buf, offset, DETH_BYTES, 'DETH');
  return { qkey: buf.readUInt32BE(offset), srcQp: readU24(buf, offset + 5) };
}
