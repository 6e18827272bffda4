/**
 * Decoding PDUs from a header (BHS+AHS, as the framer or an iSER receive buffer delivers it) and the data segment
 * chunks. Throws only {@link PduDecodeError}; the data in the result are the given chunks, not copies.
 */
import { peekBhs } from './bhs.js';
import { BHS_LENGTH } from './constants.js';
import { chunksLength } from './encode.js';
import { PduDecodeError } from './errors.js';
import { opcodeName } from './opcodes.js';
import { codecs, kindOfOpcode, type Pdu, type PduHeader } from './pdu.js';

/** A decoded header and the data segment length it announces. */
export interface DecodedHeader {
  readonly header: PduHeader;
  /** DataSegmentLength, padding excluded. */
  readonly dataSegmentLength: number;
}

/** Decodes BHS+AHS; `bytes` must be exactly 48 + TotalAHSLength×4 long. */
export function decodeHeader(bytes: Buffer): DecodedHeader {
  const summary = peekBhs(bytes);
  const expected = BHS_LENGTH + summary.ahsLength;
  if (bytes.length !== expected) {
    throw new PduDecodeError(
      bytes.length < expected ? 'ERR_PDU_TRUNCATED' : 'ERR_PDU_LENGTH',
      `header is ${bytes.length} bytes but TotalAHSLength makes it ${expected}`,
      { header: bytes },
    );
  }
  const kind = kindOfOpcode(summary.opcode);
  if (kind === undefined) {
    throw new PduDecodeError('ERR_PDU_OPCODE', `opcode ${opcodeName(summary.opcode)} is not defined by RFC 7143`, {
      header: bytes,
    });
  }
  const codec = codecs[kind];
  if (summary.dataSegmentLength > 0 && !codec.carriesData) {
    throw new PduDecodeError(
      'ERR_PDU_UNEXPECTED_DATA',
      `${kind} declares DataSegmentLength ${summary.dataSegmentLength} but carries no data`,
      { header: bytes },
    );
  }
  if (summary.ahsLength > 0 && kind !== 'scsi-command') {
    throw new PduDecodeError('ERR_PDU_AHS', `${kind} carries no AHS, yet TotalAHSLength is ${summary.ahsLength / 4}`, {
      header: bytes,
    });
  }
  try {
    const header = codec.read(bytes.subarray(0, BHS_LENGTH), bytes.subarray(BHS_LENGTH));
    return { header, dataSegmentLength: summary.dataSegmentLength };
  } catch (err) {
    if (err instanceof PduDecodeError && err.header === undefined) {
      throw new PduDecodeError(err.code, err.message, { header: bytes, cause: err });
    }
    throw err;
  }
}

/** Decodes a whole PDU; `data` (without padding) must add up to the header's DataSegmentLength. */
export function decodePdu(header: Buffer, data: readonly Buffer[] = []): Pdu {
  const decoded = decodeHeader(header);
  const length = chunksLength(data);
  if (length !== decoded.dataSegmentLength) {
    throw new PduDecodeError(
      'ERR_PDU_LENGTH',
      `data segment is ${length} bytes but DataSegmentLength is ${decoded.dataSegmentLength}`,
      { header },
    );
  }
  if (!codecs[decoded.header.kind].carriesData) return decoded.header as Pdu;
  return { ...decoded.header, data: data.filter((c) => c.length > 0) } as Pdu;
}
