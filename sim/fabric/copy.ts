/**
 * The data movement of the fabric: one `Buffer.copy` from the source region's bytes into the destination
 * region's bytes per contiguous piece. This copy *is* the RDMA; the fabric counts every byte of it.
 */
import type { Sge } from '../../transports/verbs.js';

/** A contiguous piece of memory. */
export interface Segment {
  readonly buffer: Buffer;
  readonly offset: number;
  readonly length: number;
}

/** The segments a scatter/gather list names. */
export function segmentsOf(sgl: readonly Sge[]): Segment[] {
  return sgl.map((sge) => ({ buffer: sge.mr.buffer, offset: sge.offset, length: sge.length }));
}

/**
 * Copies the first `bytes` bytes described by `source` into `dest` (gathering and scattering across segments).
 * Returns how many `Buffer.copy` calls it took. Both lists must hold at least `bytes` bytes.
 */
export function copySegments(source: readonly Segment[], dest: readonly Segment[], bytes: number): number {
  let calls = 0;
  let remaining = bytes;
  let si = 0;
  let sOff = 0;
  let di = 0;
  let dOff = 0;
  while (remaining > 0) {
    const s = source[si];
    const d = dest[di];
    if (s === undefined || d === undefined) throw new RangeError('copySegments: segments shorter than the copy');
    const n = Math.min(s.length - sOff, d.length - dOff, remaining);
    if (n > 0) {
      s.buffer.copy(d.buffer, d.offset + dOff, s.offset + sOff, s.offset + sOff + n);
      calls++;
      remaining -= n;
      sOff += n;
      dOff += n;
    }
    if (sOff === s.length) {
      si++;
      sOff = 0;
    }
    if (dOff === d.length) {
      di++;
      dOff = 0;
    }
  }
  return calls;
}
