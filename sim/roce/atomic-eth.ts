/**
 * Atomic Extended Transport Header (IBA 9.3.6; 28 bytes packed) and Atomic ACK ETH (IBA 9.3.5.3; 8 bytes).
 */
import { checkUint, checkUint64, need } from './fields.js';

/** Size of the AtomicETH in bytes. */
export const ATOMIC_ETH_BYTES = 28;

/** Size of the AtomicAckETH in bytes. */
export const ATOMIC_ACK_ETH_BYTES = 8;

/** Target and operands of a COMPARE_SWAP or FETCH_ADD. */
export interface AtomicEth {
  /** Remote virtual address of the 8-byte target (must be 8-aligned; the responder checks). */
  readonly va: bigint;
  /** Remote key of the target memory region. */
  readonly rkey: number;
  /** Swap value (COMPARE_SWAP) or addend (FETCH_ADD). */
  readonly swapAdd: bigint;
  /** Compare value (COMPARE_SWAP; ignored by FETCH_ADD). */
  readonly compare: bigint;
}

/** Writes `eth` at `offset` of `out`. */
export function writeAtomicEth(eth: AtomicEth, out: Buffer, offset: number): void {
  need(out, offset, ATOMIC_ETH_BYTES, 'AtomicETH');
  out.writeBigUInt64BE(checkUint64('AtomicETH VA', eth.va), offset);
  out.writeUInt32BE(checkUint('AtomicETH R_Key', eth.rkey, 32), offset + 8);
  out.writeBigUInt64BE(checkUint64('AtomicETH swap/add', eth.swapAdd), offset + 12);
  out.writeBigUInt64BE(checkUint64('AtomicETH compare', eth.compare), offset + 20);
}

/** Reads the AtomicETH at `offset` of `buf`. */
export function readAtomicEth(buf: Buffer, offset = 0): AtomicEth {
  need(buf, offset, ATOMIC_ETH_BYTES, 'AtomicETH');
  return {
    va: buf.readBigUInt64BE(offset),
    rkey: buf.readUInt32BE(offset + 8),
    swapAdd: buf.readBigUInt64BE(offset + 12),
    compare: buf.readBigUInt64BE(offset + 20),
  };
}

/** Writes the original value of an atomic (AtomicAckETH) at `offset` of `out`. */
export function writeAtomicAckEth(original: bigint, out: Buffer, offset: number): void {
  need(out, offset, ATOMIC_ACK_ETH_BYTES, 'AtomicAckETH');
  out.writeBigUInt64BE(checkUint64('AtomicAckETH original', original), offset);
}

/** Reads the AtomicAckETH (the target's value before the atomic) at `offset` of `buf`. */
export function readAtomicAckEth(buf: Buffer, offset = 0): bigint {
  need(buf, offset, ATOMIC_ACK_ETH_BYTES, 'AtomicAckETH');
  return buf.readBigUInt64BE(offset);
}
