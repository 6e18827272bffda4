/**
 * Encoding PDUs. {@link encodePdu} returns a chunk list for a byte stream (header and digest, the caller's data
 * chunks untouched, padding, data digest); {@link encodeHeader} returns BHS+AHS alone for iSER, which carries no
 * padding and no digests.
 */
import { BHS_LENGTH, DIGEST_LENGTH, MAX_DATA_SEGMENT_LENGTH, paddingLength } from './constants.js';
import { dataDigest, headerDigest, writeDigest } from './digest.js';
import { PduEncodeError } from './errors.js';
import { codecs, pduData, type Pdu, type PduKind, type PduOf } from './pdu.js';

/** Which digests a connection negotiated (HeaderDigest/DataDigest = CRC32C). */
export interface DigestOptions {
  readonly headerDigest: boolean;
  readonly dataDigest: boolean;
}

/** No digests: the state before login negotiates them, and always over iSER. */
export const NO_DIGESTS: DigestOptions = { headerDigest: false, dataDigest: false };

const ZERO_PAD = Buffer.alloc(3);

/** Sum of chunk lengths. */
export function chunksLength(chunks: readonly Uint8Array[]): number {
  let total = 0;
  for (const c of chunks) total += c.length;
  return total;
}

function writeHeader<K extends PduKind>(pdu: PduOf<K>, dataLength: number, extra: number): Buffer {
  const codec = codecs[pdu.kind];
  if (dataLength > 0 && !codec.carriesData) {
    throw new PduEncodeError('ERR_PDU_ENCODE_LENGTH', `${pdu.kind} carries no data segment`);
  }
  if (dataLength > MAX_DATA_SEGMENT_LENGTH) {
    throw new PduEncodeError('ERR_PDU_ENCODE_LENGTH', `data segment of ${dataLength} bytes exceeds 2^24-1`);
  }
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = codec.opcode;
  const ahs = codec.write(pdu, bhs);
  const ahsLength = ahs?.length ?? 0;
  bhs[4] = ahsLength / 4;
  bhs.writeUIntBE(dataLength, 5, 3);
  if (ahs === undefined && extra === 0) return bhs;
  // One buffer for BHS, AHS and the header digest, so the header stays a single chunk.
  const header = Buffer.alloc(BHS_LENGTH + ahsLength + extra);
  bhs.copy(header, 0);
  ahs?.copy(header, BHS_LENGTH);
  return header;
}

/** BHS+AHS of a PDU (DataSegmentLength is that of its data), with no digest: the iSER form. */
export function encodeHeader(pdu: Pdu): Buffer {
  return writeHeader(pdu, chunksLength(pduData(pdu)), 0);
}

/**
 * The PDU as a byte-stream chunk list: header (+AHS, +header digest), the data chunks as given (never copied),
 * zero padding to 4 bytes and the data digest (together in one small chunk). Empty chunks are left out.
 */
export function encodePdu(pdu: Pdu, digests: DigestOptions = NO_DIGESTS): Buffer[] {
  const data = pduData(pdu);
  const dataLength = chunksLength(data);
  const header = writeHeader(pdu, dataLength, digests.headerDigest ? DIGEST_LENGTH : 0);
  if (digests.headerDigest) {
    const covered = header.length - DIGEST_LENGTH;
    writeDigest(header, covered, headerDigest(header.subarray(0, covered)));
  }
  const out: Buffer[] = [header];
  if (dataLength === 0) return out;
  for (const chunk of data) if (chunk.length > 0) out.push(chunk);
  const pad = paddingLength(dataLength);
  if (digests.dataDigest) {
    const trailer = Buffer.alloc(pad + DIGEST_LENGTH);
    writeDigest(trailer, pad, dataDigest(data));
    out.push(trailer);
  } else if (pad > 0) {
    out.push(ZERO_PAD.subarray(0, pad));
  }
  return out;
}
