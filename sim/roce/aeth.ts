/**
 * ACK Extended Transport Header (IBA 9.3.5; rxe `rxe_aeth`): syndrome + MSN, on ACKs, NAKs and read responses.
 *
 * Syndrome bits 7:5 give the kind (rxe `AETH_TYPE_MASK` 0xe0): 000 ACK (bits 4:0 = credits, rxe always sends
 * 0x1F "unlimited"), 001 RNR NAK (bits 4:0 = RNR timer code), 011 NAK (bits 4:0 = NAK code). 010 and any
 * syndrome with bit 7 set are reserved and rejected.
 */
import { RoceError } from './errors.js';
import { checkUint, need, readU24, writeU24 } from './fields.js';

/** Size of the AETH in bytes. */
export const AETH_BYTES = 4;

/** Credit count rxe puts in every ACK: "unlimited" (`AETH_ACK_UNLIMITED`). */
export const AETH_CREDITS_UNLIMITED = 0x1f;

/** NAK codes (syndrome bits 4:0 when bits 6:5 = 11). */
export const NakCode = {
  /** PSN sequence error: the responder expected the PSN in this NAK (class B, go back N). */
  PsnSequenceError: 0,
  /** Invalid request: bad opcode sequence, length, unsupported operation (class C). */
  InvalidRequest: 1,
  /** Remote access error: R_Key, range or access-right check failed (class C). */
  RemoteAccessError: 2,
  /** Remote operational error: the responder could not complete the request (class C). */
  RemoteOperationalError: 3,
  /** Invalid RD request (reliable datagram only). */
  InvalidRdRequest: 4,
} as const;

/** One of the named {@link NakCode} values. */
export type NakCodeValue = (typeof NakCode)[keyof typeof NakCode];

/** What an AETH says: an ACK with credits, an RNR NAK with a timer code, or a NAK with a code. */
export type AethSyndrome =
  | { readonly kind: 'ack'; readonly credits: number }
  | { readonly kind: 'rnr-nak'; readonly timer: number }
  | { readonly kind: 'nak'; readonly code: number };

/** A decoded AETH. */
export interface Aeth {
  /** The syndrome, by kind. */
  readonly syndrome: AethSyndrome;
  /** Message sequence number: messages the responder has completed (24 bits). */
  readonly msn: number;
}

/** The syndrome byte of `syndrome`. */
export function syndromeByte(syndrome: AethSyndrome): number {
  switch (syndrome.kind) {
    case 'ack':
      return checkUint('AETH credits', syndrome.credits, 5);
    case 'rnr-nak':
      return 0x20 | checkUint('AETH RNR timer', syndrome.timer, 5);
    case 'nak':
      return 0x60 | checkUint('AETH NAK code', syndrome.code, 5);
  }
}

/** Decodes a syndrome byte (throws ERR_ROCE_BAD_AETH for reserved kinds). */
export function parseSyndrome(byte: number): AethSyndrome {
  const value = byte & 0x1f;
  switch (byte & 0xe0) {
    case 0x00:
      return { kind: 'ack', credits: value };
    case 0x20:
      return { kind: 'rnr-nak', timer: value };
    case 0x60:
      return { kind: 'nak', code: value };
    default:
      throw new RoceError('ERR_ROCE_BAD_AETH', `AETH syndrome 0x${byte.toString(16)} has a reserved type`);
  }
}

/** Writes `aeth` at `offset` of `out`. */
export function writeAeth(aeth: Aeth, out: Buffer, offset: number): void {
  need(out, offset, AETH_BYTES, 'AETH');
  out[offset] = syndromeByte(aeth.syndrome);
  writeU24(out, offset + 1, checkUint('AETH MSN', aeth.msn, 24));
}

/** Reads the AETH at `offset` of `buf`. */
export function readAeth(buf: Buffer, offset = 0): Aeth {
  need(buf, offset, AETH_BYTES, 'AETH');
  return { syndrome: parseSyndrome(buf[offset] ?? 0), msn: readU24(buf, offset + 1) };
}
