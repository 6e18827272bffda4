/**
 * Where each byte of an initiator's write goes over iSER, as a pure function of the caller's chunk lengths: the
 * immediate data (second SGE of the command's Send), the unsolicited Data-Out PDUs (Sends, each within one chunk and
 * at most the target's RecvDataSegmentLength), and the solicited rest, which the target fetches with RDMA Read from
 * the Write STag. The Write VA points at the first byte *not* already sent unsolicited (RFC 7145 §7.3.1; Linux
 * `write_va = base + unsol_sz`), and WSV is set only when such bytes remain.
 *
 * A piece that lies inside one chunk is sent from that chunk (registered in place, zero copy). One that spans
 * chunks has no single address: it is `spanning` and the caller copies it into one registered bounce buffer. Data-Out
 * PDUs are cut at chunk boundaries so they never span.
 */

/** Bytes `[offset, offset + length)` of the write, all inside chunk `chunk` starting at `chunkOffset`. */
export interface WritePiece {
  /** Offset in the whole write (the BufferOffset of a Data-Out). */
  readonly offset: number;
  readonly length: number;
  /** The chunk holding every byte, or undefined when the piece spans chunks (bounce it). */
  readonly chunk: number | undefined;
  /** Offset of the piece's first byte inside `chunk` (0 when spanning). */
  readonly chunkOffset: number;
}

/** The plan of one write. */
export interface WritePlan {
  /** Immediate data, if any. */
  readonly immediate: WritePiece | undefined;
  /** Unsolicited Data-Out PDUs in order (DataSN = index); the last one carries the F bit. */
  readonly dataOuts: readonly WritePiece[];
  /** What the target RDMA-Reads (Write STag/VA), if anything remains. */
  readonly solicited: WritePiece | undefined;
}

/** What a write consists of. */
export interface WriteShape {
  /** Lengths of the caller's chunks, in order; they add up to EDTL. */
  readonly chunkLengths: readonly number[];
  readonly immediateLength: number;
  readonly unsolicitedDataOutLength: number;
  /** The largest Data-Out data segment (the target's RecvDataSegmentLength). */
  readonly maxSegmentLength: number;
}

/** Plans a write; the caller has checked the lengths against the negotiated rules. */
export function planWrite(shape: WriteShape): WritePlan {
  const starts: number[] = [];
  let total = 0;
  for (const length of shape.chunkLengths) {
    starts.push(total);
    total += length;
  }
  const locate = (offset: number, length: number): WritePiece => {
    for (let i = 0; i < starts.length; i++) {
      const start = starts[i] ?? 0;
      const end = start + (shape.chunkLengths[i] ?? 0);
      if (offset >= start && offset + length <= end && end > start) {
        return { offset, length, chunk: i, chunkOffset: offset - start };
      }
    }
    return { offset, length, chunk: undefined, chunkOffset: 0 };
  };
  const immediateEnd = shape.immediateLength;
  const unsolicitedEnd = immediateEnd + shape.unsolicitedDataOutLength;
  const dataOuts: WritePiece[] = [];
  const segment = Math.max(1, shape.maxSegmentLength);
  for (let offset = immediateEnd; offset < unsolicitedEnd;) {
    // Never cross a chunk boundary: find the end of the chunk holding `offset`.
    let chunkEnd = unsolicitedEnd;
    for (let i = 0; i < starts.length; i++) {
      const start = starts[i] ?? 0;
      const end = start + (shape.chunkLengths[i] ?? 0);
      if (offset >= start && offset < end) {
        chunkEnd = end;
        break;
      }
    }
    const length = Math.min(segment, unsolicitedEnd - offset, chunkEnd - offset);
    dataOuts.push(locate(offset, length));
    offset += length;
  }
  return {
    immediate: immediateEnd > 0 ? locate(0, immediateEnd) : undefined,
    dataOuts,
    solicited: unsolicitedEnd < total ? locate(unsolicitedEnd, total - unsolicitedEnd) : undefined,
  };
}
