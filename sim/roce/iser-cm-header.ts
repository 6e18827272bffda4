/**
 * iSER's `struct iser_cm_hdr` (Linux `include/scsi/iser.h`, from IB Annex A12): 4 bytes at the start of the
 * consumer private data of REQ (initiator) and REP (target). Only the flags byte has meaning.
 */
import { need } from './fields.js';

/** Size of `iser_cm_hdr`. */
export const ISER_CM_HEADER_BYTES = 4;

/** Flag: the sender does not support zero-based virtual addresses (`ISER_ZBVA_NOT_SUP`). */
export const ISER_ZBVA_NOT_SUPPORTED = 0x80;

/** Flag: the sender does not support (initiator) or use (target) send-with-invalidate. */
export const ISER_SEND_W_INV_NOT_SUPPORTED = 0x40;

/** The two iSER CM capability flags. */
export interface IserCmHeader {
  /** ZBVA not supported (the Linux initiator and LIO always set it). */
  readonly zbvaNotSupported: boolean;
  /** Send with invalidate not supported / not used. */
  readonly sendWithInvalidateNotSupported: boolean;
}

/** Encodes an `iser_cm_hdr` (reserved bits and bytes zero). */
export function encodeIserCmHeader(hdr: IserCmHeader): Buffer {
  const out = Buffer.alloc(ISER_CM_HEADER_BYTES);
  out[0] =
    (hdr.zbvaNotSupported ? ISER_ZBVA_NOT_SUPPORTED : 0) |
    (hdr.sendWithInvalidateNotSupported ? ISER_SEND_W_INV_NOT_SUPPORTED : 0);
  return out;
}

/** Decodes the `iser_cm_hdr` at the start of consumer private data (reserved bits ignored, as isert does). */
export function decodeIserCmHeader(buf: Buffer): IserCmHeader {
  need(buf, 0, ISER_CM_HEADER_BYTES, 'iser_cm_hdr');
  const flags = buf[0] ?? 0;
  return {
    zbvaNotSupported: (flags & ISER_ZBVA_NOT_SUPPORTED) !== 0,
    sendWithInvalidateNotSupported: (flags & ISER_SEND_W_INV_NOT_SUPPORTED) !== 0,
  };
}
