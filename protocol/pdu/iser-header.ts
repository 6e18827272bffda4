/**
 * The iSER header (RFC 7145 §9.2) that precedes every iSCSI control-type PDU in an RDMA Send, and the optional
 * Hello/HelloReply messages (§9.3, §9.4). All fields big-endian. Over iSER there is no padding and no digest:
 * a Send is iSER header + BHS + AHS + data, exactly.
 */
import { peekBhs } from './bhs.js';
import { BHS_LENGTH } from './constants.js';
import { PduDecodeError } from './errors.js';
import { bitField, putU16, putU32, putU64 } from './fields.js';

/** Bytes of the iSER header for control-type PDUs. */
export const ISER_HEADER_LENGTH = 28;

/** Bytes of a Hello or HelloReply message. */
export const ISER_HELLO_LENGTH = 12;

/**
 * The iSER version put in Hello/HelloReply. We could not retrieve RFC 7145's text for this value here; Wireshark's
 * dissector (packet-iser.c, Mellanox 2014, the RFC's year and authors' company) only accepts 10 in both nibbles,
 * while illumos (written against RFC 5046) sends 1. We send 10 and accept any value on decode.
 */
export const ISER_HELLO_VERSION = 10;

/** iSER opcodes (high nibble of byte 0). */
export const IserOpcode = {
  /** iSCSI control-type PDU. */
  Control: 0x1,
  Hello: 0x2,
  HelloReply: 0x3,
} as const;

const WSV = 0x08;
const RSV = 0x04;
const REJ = 0x01;

/** A tagged buffer the peer may access remotely: STag (rkey) and base address/offset. */
export interface TaggedBuffer {
  /** STag (rkey), u32. */
  readonly stag: number;
  /** Base virtual address or offset, u64. */
  readonly va: bigint;
}

/** The iSER header of a control-type PDU. */
export interface IserControlHeader {
  readonly kind: 'control';
  /** Write STag/VA (WSV set): where the target RDMA-Reads the SCSI write data from. */
  readonly write?: TaggedBuffer | undefined;
  /** Read STag/VA (RSV set): where the target RDMA-Writes the SCSI read data to. */
  readonly read?: TaggedBuffer | undefined;
}

/** Hello: the initiator's iSER versions and its inbound RDMA Read depth. */
export interface IserHello {
  readonly kind: 'hello';
  /** MaxVer (4 bits). */
  readonly maxVersion: number;
  /** MinVer (4 bits). */
  readonly minVersion: number;
  /** iSER-IRD: RDMA Read requests the initiator can take inbound. */
  readonly ird: number;
}

/** HelloReply: the target's answer, possibly rejecting the connection. */
export interface IserHelloReply {
  readonly kind: 'hello-reply';
  /** RejBit: the target rejects the connection. */
  readonly reject: boolean;
  /** MaxVer (4 bits). */
  readonly maxVersion: number;
  /** CurVer (4 bits): the version in use. */
  readonly currentVersion: number;
  /** iSER-ORD: RDMA Read requests the target will have outstanding. */
  readonly ord: number;
}

/** Any message that starts an iSER Send. */
export type IserMessage = IserControlHeader | IserHello | IserHelloReply;

/** Encodes an iSER header (28 bytes) or a Hello/HelloReply (12 bytes); reserved bytes are zero. */
export function encodeIserMessage(message: IserMessage): Buffer {
  switch (message.kind) {
    case 'control': {
      const out = Buffer.alloc(ISER_HEADER_LENGTH);
      out[0] = (IserOpcode.Control << 4) | (message.write ? WSV : 0) | (message.read ? RSV : 0);
      if (message.write) {
        putU32(out, 4, message.write.stag, 'Write STag');
        putU64(out, 8, message.write.va, 'Write VA');
      }
      if (message.read) {
        putU32(out, 16, message.read.stag, 'Read STag');
        putU64(out, 20, message.read.va, 'Read VA');
      }
      return out;
    }
    case 'hello': {
      const out = Buffer.alloc(ISER_HELLO_LENGTH);
      out[0] = IserOpcode.Hello << 4;
      out[1] = (bitField(message.maxVersion, 4, 'MaxVer') << 4) | bitField(message.minVersion, 4, 'MinVer');
      putU16(out, 2, message.ird, 'iSER-IRD');
      return out;
    }
    case 'hello-reply': {
      const out = Buffer.alloc(ISER_HELLO_LENGTH);
      out[0] = (IserOpcode.HelloReply << 4) | (message.reject ? REJ : 0);
      out[1] = (bitField(message.maxVersion, 4, 'MaxVer') << 4) | bitField(message.currentVersion, 4, 'CurVer');
      putU16(out, 2, message.ord, 'iSER-ORD');
      return out;
    }
  }
}

function need(bytes: Buffer, length: number, what: string): void {
  if (bytes.length < length) {
    throw new PduDecodeError('ERR_ISER_HEADER', `${what} needs ${length} bytes, got ${bytes.length}`);
  }
}

/** Decodes the message at the start of an iSER Send (trailing bytes, e.g. the BHS, are not looked at). */
export function decodeIserMessage(bytes: Buffer): IserMessage {
  need(bytes, 1, 'an iSER message');
  const flags = bytes.readUInt8(0);
  switch (flags >>> 4) {
    case IserOpcode.Control: {
      need(bytes, ISER_HEADER_LENGTH, 'an iSER header');
      return {
        kind: 'control',
        ...((flags & WSV) !== 0 && { write: { stag: bytes.readUInt32BE(4), va: bytes.readBigUInt64BE(8) } }),
        ...((flags & RSV) !== 0 && { read: { stag: bytes.readUInt32BE(16), va: bytes.readBigUInt64BE(20) } }),
      };
    }
    case IserOpcode.Hello: {
      need(bytes, ISER_HELLO_LENGTH, 'an iSER Hello');
      const versions = bytes.readUInt8(1);
      return { kind: 'hello', maxVersion: versions >>> 4, minVersion: versions & 0xf, ird: bytes.readUInt16BE(2) };
    }
    case IserOpcode.HelloReply: {
      need(bytes, ISER_HELLO_LENGTH, 'an iSER HelloReply');
      const versions = bytes.readUInt8(1);
      return {
        kind: 'hello-reply',
        reject: (flags & REJ) !== 0,
        maxVersion: versions >>> 4,
        currentVersion: versions & 0xf,
        ord: bytes.readUInt16BE(2),
      };
    }
    default:
      throw new PduDecodeError('ERR_ISER_HEADER', `unknown iSER opcode 0x${(flags >>> 4).toString(16)}`);
  }
}

/** An iSCSI PDU received over iSER, split into views of the receive buffer. */
export interface IserControlPdu {
  readonly iser: IserControlHeader;
  /** BHS+AHS, for `decodeHeader`/`decodePdu`. */
  readonly header: Buffer;
  /** The data segment (one view, or none). */
  readonly data: readonly Buffer[];
}

/**
 * Splits a received Send of a control-type PDU into iSER header, BHS+AHS and data, checking that the lengths the
 * BHS declares fill the Send: exactly, or with the data segment padded to 4 bytes as over TCP (iSER needs no
 * padding, but Linux isert pads its Login Responses, and a Send we posted a buffer for costs nothing to accept).
 * Views, not copies; the pad bytes are left out.
 */
export function splitIserControlPdu(send: Buffer): IserControlPdu {
  const iser = decodeIserMessage(send);
  if (iser.kind !== 'control') throw new PduDecodeError('ERR_ISER_HEADER', `expected a control PDU, got ${iser.kind}`);
  const rest = send.subarray(ISER_HEADER_LENGTH);
  const bhs = peekBhs(rest);
  const headerLength = BHS_LENGTH + bhs.ahsLength;
  const total = headerLength + bhs.dataSegmentLength;
  const padded = total + ((4 - (bhs.dataSegmentLength % 4)) % 4);
  if (rest.length !== total && rest.length !== padded) {
    throw new PduDecodeError(
      rest.length < total ? 'ERR_PDU_TRUNCATED' : 'ERR_PDU_LENGTH',
      `Send holds ${rest.length} bytes after the iSER header, the BHS declares ${total}`,
      { header: rest.subarray(0, Math.min(rest.length, headerLength)) },
    );
  }
  const data = bhs.dataSegmentLength === 0 ? [] : [rest.subarray(headerLength, total)];
  return { iser, header: rest.subarray(0, headerLength), data };
}

/** Encodes the iSER header; kept for symmetry with {@link encodeIserMessage} when only a header is wanted. */
export function encodeIserHeader(header: Omit<IserControlHeader, 'kind'>): Buffer {
  return encodeIserMessage({ kind: 'control', ...header });
}
