/** Helpers for PDU tests: run bytes through a framer and decode what comes out. */
import {
  decodePdu,
  encodePdu,
  PduFramer,
  type DigestOptions,
  type Framed,
  type FramerOptions,
  type Pdu,
} from '../../protocol/pdu/index.js';

/** One contiguous buffer with the PDUs encoded back to back. */
export function encodeStream(pdus: readonly Pdu[], digests: DigestOptions): Buffer {
  return Buffer.concat(pdus.flatMap((p) => encodePdu(p, digests)));
}

/** Feeds `bytes` to a fresh framer cut at `cuts` (sorted offsets) and returns every framed entry. */
export function frameWithCuts(bytes: Buffer, cuts: readonly number[], options: FramerOptions): Framed[] {
  const framer = new PduFramer(options);
  const out: Framed[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...framer.push(bytes.subarray(start, cut)));
    start = cut;
  }
  return out;
}

/** Decodes framed entries, failing loudly on a data digest error. */
export function decodeFramed(framed: readonly Framed[]): Pdu[] {
  return framed.map((f) => {
    if (f.type !== 'pdu') throw f.error;
    return decodePdu(f.header, f.data);
  });
}
