/**
 * One entry point for CM MADs: encode any CM message into a 256-byte MAD, and decode a MAD into a typed
 * message, treating the bytes as hostile (wrong size, version, class or method, unknown attribute: typed errors).
 */
import { readCmDrep, readCmDreq, writeCmDrep, writeCmDreq, type CmDrep, type CmDreq } from './cm-disconnect.js';
import { readCmMra, writeCmMra, type CmMra } from './cm-mra.js';
import { readCmRej, writeCmRej, type CmRej } from './cm-rej.js';
import { readCmRep, writeCmRep, type CmRep } from './cm-rep.js';
import { readCmReq, writeCmReq, type CmReq } from './cm-req.js';
import { readCmRtu, writeCmRtu, type CmRtu } from './cm-rtu.js';
import {
  readCmSidrRep,
  readCmSidrReq,
  writeCmSidrRep,
  writeCmSidrReq,
  type CmSidrRep,
  type CmSidrReq,
} from './cm-sidr.js';
import { RoceError } from './errors.js';
import {
  CM_CLASS_VERSION,
  CmAttributeId,
  MAD_BASE_VERSION,
  MAD_BYTES,
  MadMethod,
  MGMT_CLASS_CM,
  readMadHeader,
  writeMadHeader,
  type MadHeader,
} from './mad.js';

/** Any CM message this codec handles, discriminated by `kind` (the attribute's name). */
export type CmMessage = CmReq | CmRep | CmRtu | CmRej | CmMra | CmDreq | CmDrep | CmSidrReq | CmSidrRep;

/** A CM MAD: its transaction ID (and attribute modifier) and the message. */
export interface CmMad {
  /** Transaction ID: REP and RTU carry the REQ's; DREQ starts a new one. */
  readonly tid: bigint;
  /** Attribute modifier; default 0. */
  readonly attributeModifier?: number;
  /** The message. */
  readonly message: CmMessage;
}

/** Encodes a CM message as a 256-byte MAD (method Send). */
export function encodeCmMad(mad: CmMad): Buffer {
  const out = Buffer.alloc(MAD_BYTES);
  const { message } = mad;
  writeMadHeader(
    {
      baseVersion: MAD_BASE_VERSION,
      mgmtClass: MGMT_CLASS_CM,
      classVersion: CM_CLASS_VERSION,
      method: MadMethod.Send,
      status: 0,
      classSpecific: 0,
      tid: mad.tid,
      attributeId: CmAttributeId[message.kind],
      attributeModifier: mad.attributeModifier ?? 0,
    },
    out,
  );
  switch (message.kind) {
    case 'REQ':
      writeCmReq(message, out);
      break;
    case 'REP':
      writeCmRep(message, out);
      break;
    case 'RTU':
      writeCmRtu(message, out);
      break;
    case 'REJ':
      writeCmRej(message, out);
      break;
    case 'MRA':
      writeCmMra(message, out);
      break;
    case 'DREQ':
      writeCmDreq(message, out);
      break;
    case 'DREP':
      writeCmDrep(message, out);
      break;
    case 'SIDR_REQ':
      writeCmSidrReq(message, out);
      break;
    case 'SIDR_REP':
      writeCmSidrRep(message, out);
      break;
  }
  return out;
}

/** A decoded CM MAD: the whole header and the message. */
export interface DecodedCmMad {
  /** The MAD common header as received. */
  readonly header: MadHeader;
  /** The message. */
  readonly message: CmMessage;
}

/** Decodes a 256-byte CM MAD. Throws only {@link RoceError}. */
export function decodeCmMad(buf: Buffer): DecodedCmMad {
  if (buf.length !== MAD_BYTES) {
    throw new RoceError('ERR_CM_BAD_MAD', `a MAD is ${MAD_BYTES} bytes, got ${buf.length}`);
  }
  const header = readMadHeader(buf);
  if (header.baseVersion !== MAD_BASE_VERSION || header.mgmtClass !== MGMT_CLASS_CM) {
    throw new RoceError(
      'ERR_CM_BAD_MAD',
      `not a CM MAD: base version ${header.baseVersion}, class 0x${header.mgmtClass.toString(16)}`,
    );
  }
  if (header.classVersion !== CM_CLASS_VERSION || header.method !== MadMethod.Send) {
    throw new RoceError(
      'ERR_CM_BAD_MAD',
      `CM MAD with class version ${header.classVersion}, method 0x${header.method.toString(16)}: expected 2, Send`,
    );
  }
  return { header, message: readMessage(header.attributeId, buf) };
}

function readMessage(attributeId: number, buf: Buffer): CmMessage {
  switch (attributeId) {
    case CmAttributeId.REQ:
      return readCmReq(buf);
    case CmAttributeId.REP:
      return readCmRep(buf);
    case CmAttributeId.RTU:
      return readCmRtu(buf);
    case CmAttributeId.REJ:
      return readCmRej(buf);
    case CmAttributeId.MRA:
      return readCmMra(buf);
    case CmAttributeId.DREQ:
      return readCmDreq(buf);
    case CmAttributeId.DREP:
      return readCmDrep(buf);
    case CmAttributeId.SIDR_REQ:
      return readCmSidrReq(buf);
    case CmAttributeId.SIDR_REP:
      return readCmSidrRep(buf);
    default:
      throw new RoceError(
        'ERR_CM_UNSUPPORTED_ATTRIBUTE',
        `CM attribute 0x${attributeId.toString(16).padStart(4, '0')} is not decoded here`,
      );
  }
}
