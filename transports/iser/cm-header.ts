/**
 * The 4-byte `iser_cm_hdr` at the start of the rdma_cm private data (Linux `include/scsi/iser.h`, from IB Annex
 * A12): the initiator's REQ says what it cannot do, the target's REP says what it will not use.
 *
 * Flags: 0x80 ZBVA not supported (we always send virtual addresses), 0x40 send-with-invalidate not supported
 * (initiator) / not used (target). The rest of the byte and the 3 reserved bytes are zero and ignored on receipt,
 * as isert does.
 */

/** Bytes of an `iser_cm_hdr`. */
export const ISER_CM_HEADER_LENGTH = 4;

/** Flag: zero-based virtual addresses are not supported. */
export const ISER_ZBVA_NOT_SUPPORTED = 0x80;

/** Flag: send-with-invalidate not supported (initiator) or not used (target). */
export const ISER_SEND_W_INV_NOT_SUPPORTED = 0x40;

/** The capabilities an `iser_cm_hdr` carries. */
export interface IserCmHeader {
  readonly zbvaNotSupported: boolean;
  readonly sendWithInvalidateNotSupported: boolean;
}

/** Encodes an `iser_cm_hdr`. */
export function encodeIserCmHeader(header: IserCmHeader): Buffer {
  const out = Buffer.alloc(ISER_CM_HEADER_LENGTH);
  out[0] =
    (header.zbvaNotSupported ? ISER_ZBVA_NOT_SUPPORTED : 0) |
    (header.sendWithInvalidateNotSupported ? ISER_SEND_W_INV_NOT_SUPPORTED : 0);
  return out;
}

/**
 * Decodes the `iser_cm_hdr` at the start of a peer's private data, or undefined when there is none (tgt sends no
 * private data at all: treat that as "no send-with-invalidate").
 */
export function decodeIserCmHeader(privateData: Buffer): IserCmHeader | undefined {
  if (privateData.length < ISER_CM_HEADER_LENGTH) return undefined;
  const flags = privateData[0] ?? 0;
  return {
    zbvaNotSupported: (flags & ISER_ZBVA_NOT_SUPPORTED) !== 0,
    sendWithInvalidateNotSupported: (flags & ISER_SEND_W_INV_NOT_SUPPORTED) !== 0,
  };
}
