/**
 * RDMA Extended Transport Header (IBA 9.3.3; rxe `rxe_reth`): the remote buffer of an RDMA WRITE or READ.
 */
import { checkUint, checkUint64, need } from './fields.js';

/** Size of the RETH in bytes. */
export const RETH_BYTES = 16;

/** Remote virtual address, R_Key and DMA length of an RDMA operation. */
export interface Reth {
  /** Remote virtual address (64 bits). */
  readonly va: bigint;
  /** Remote key of the target memory region. */
  readonly rkey: number;
  /** DMA length: the whole message, not this packet's share. */
  readonly length: number;
}

/** Writes `reth` at `offset` of `out`. */
export function writeReth(reth: Reth, out: Buffer, offset: number): void {
  need(out, offset, RETH_BYTES, 'RETH');
  out.writeBigUInt64BE(checkUint64('RETH VA', reth.va), offset);
  out.writeUInt32BE(checkUint('RETH R_Key', reth.rkey, 32), offset + 8);
  out.writeUInt32BE(checkUint('RETH DMA length', reth.length, 32), offset + 12);
}

/** Reads the RETH at `offset` of `buf`. */
export function readReth(buf: Buffer, offset = 0): Reth {
  need(buf, offset, RETH_BYTES, 'RETH');
  return { va: buf.readBigUInt64BE(offset), rkey: buf.readUInt32BE(offset + 8), length: buf.readUInt32BE(offset + 12) };
}
