/**
 * Base Transport Header (IBA 9.2; rxe `rxe_bth`): 12 bytes, big-endian, in front of every RoCEv2 packet.
 */
import { checkUint, flag, need, readU24, writeU24 } from './fields.js';

/** Size of the BTH in bytes. */
export const BTH_BYTES = 12;

/** The P_Key rxe sends and accepts on every QP (`IB_DEFAULT_PKEY_FULL`). */
export const DEFAULT_PKEY = 0xffff;

/** Every BTH field; reserved bits (resv6a, resv7) are written as 0 and ignored on read. */
export interface Bth {
  /** OpCode: transport prefix (RC 0x00, UC 0x20, UD 0x60) plus operation. */
  readonly opcode: number;
  /** SE: the responder should raise a solicited event. */
  readonly solicited: boolean;
  /** M: migration request (rxe sends 0). */
  readonly migReq: boolean;
  /** PadCnt: pad bytes after the payload, 0..3 (derived from the payload on encode). */
  readonly padCount: number;
  /** TVer: transport header version; rxe sends 0 and drops anything else. */
  readonly tver: number;
  /** P_Key (16 bits). */
  readonly pkey: number;
  /** FECN: forward explicit congestion notification. */
  readonly fecn: boolean;
  /** BECN: backward explicit congestion notification. */
  readonly becn: boolean;
  /** Destination QP number (24 bits). */
  readonly destQp: number;
  /** AckReq: the requester wants an ACK for this packet. */
  readonly ackReq: boolean;
  /** Packet sequence number (24 bits). */
  readonly psn: number;
}

/** Writes `bth` at `offset` of `out` (throws ERR_ROCE_INVALID_FIELD for out-of-range fields). */
export function writeBth(bth: Bth, out: Buffer, offset: number): void {
  need(out, offset, BTH_BYTES, 'BTH');
  out[offset] = checkUint('BTH opcode', bth.opcode, 8);
  out[offset + 1] =
    (bth.solicited ? 0x80 : 0) |
    (bth.migReq ? 0x40 : 0) |
    (checkUint('BTH PadCnt', bth.padCount, 2) << 4) |
    checkUint('BTH TVer', bth.tver, 4);
  out.writeUInt16BE(checkUint('BTH P_Key', bth.pkey, 16), offset + 2);
  out[offset + 4] = (bth.fecn ? 0x80 : 0) | (bth.becn ? 0x40 : 0);
  writeU24(out, offset + 5, checkUint('BTH DestQP', bth.destQp, 24));
  out[offset + 8] = bth.ackReq ? 0x80 : 0;
  writeU24(out, offset + 9, checkUint('BTH PSN', bth.psn, 24));
}

/** Encodes a BTH into a new 12-byte buffer. */
export function encodeBth(bth: Bth): Buffer {
  const out = Buffer.alloc(BTH_BYTES);
  writeBth(bth, out, 0);
  return out;
}

/** Reads the BTH at `offset` of `buf` (throws ERR_ROCE_TRUNCATED when short). */
export function readBth(buf: Buffer, offset = 0): Bth {
  need(buf, offset, BTH_BYTES, 'BTH');
  const b1 = buf[offset + 1] ?? 0;
  const b4 = buf[offset + 4] ?? 0;
  return {
    opcode: buf[offset] ?? 0,
    solicited: flag(b1, 7),
    migReq: flag(b1, 6),
    padCount: (b1 >> 4) & 3,
    tver: b1 & 0xf,
    pkey: buf.readUInt16BE(offset + 2),
    fecn: flag(b4, 7),
    becn: flag(b4, 6),
    destQp: readU24(buf, offset + 5),
    ackReq: flag(buf[offset + 8] ?? 0, 7),
    psn: readU24(buf, offset + 9),
  };
}
