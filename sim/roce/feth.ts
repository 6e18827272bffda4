/**
 * FLUSH Extended Transport Header (IBA 1.5 memory placement extensions; rxe `rxe_feth`, newer kernels).
 * Bits 3:0 = placement type, bits 5:4 = selectivity; the other 26 bits are reserved (0 on write, ignored on read).
 */
import { checkUint, need } from './fields.js';

/** Size of the FETH in bytes. */
export const FETH_BYTES = 4;

/** What a FLUSH makes persistent or visible, and over which range. */
export interface Feth {
  /** Placement type (4 bits): 1 global visibility, 2 persistence (rxe `IB_FLUSH_*`). */
  readonly placementType: number;
  /** Selectivity (2 bits): 0 the RETH range, 1 the whole memory region. */
  readonly selectivity: number;
}

/** Writes `feth` at `offset` of `out`. */
export function writeFeth(feth: Feth, out: Buffer, offset: number): void {
  need(out, offset, FETH_BYTES, 'FETH');
  const word =
    (checkUint('FETH selectivity', feth.selectivity, 2) << 4) | checkUint('FETH placement', feth.placementType, 4);
  out.writeUInt32BE(word, offset);
}

/** Reads the FETH at `offset` of `buf`. */
export function readFeth(buf: Buffer, offset = 0): Feth {
  need(buf, offset, FETH_BYTES, 'FETH');
  const word = buf.readUInt32BE(offset);
  return { placementType: word & 0xf, selectivity: (word >> 4) & 3 };
}
