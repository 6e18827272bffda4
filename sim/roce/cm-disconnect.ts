/**
 * CM DREQ and DREP (IBA 12.6.10-11, Tables 112-113): the disconnect request and its reply.
 */
import { CM_PRIVATE_DATA_BYTES, readPrivateData, writePrivateData } from './cm-private-data.js';
import { checkUint, readU24, writeU24 } from './fields.js';
import { MAD_HEADER_BYTES } from './mad.js';

const D = MAD_HEADER_BYTES;

/** A decoded CM DREQ. */
export interface CmDreq {
  /** Discriminator. */
  readonly kind: 'DREQ';
  /** The sender's communication ID. */
  readonly localCommId: number;
  /** The peer's communication ID. */
  readonly remoteCommId: number;
  /** The peer's QP number (24 bits), so it can check the DREQ is for that QP. */
  readonly remoteQpn: number;
  /** Private data, 220 bytes. */
  readonly privateData: Buffer;
}

/** A decoded CM DREP. */
export interface CmDrep {
  /** Discriminator. */
  readonly kind: 'DREP';
  /** The sender's communication ID. */
  readonly localCommId: number;
  /** The peer's communication ID. */
  readonly remoteCommId: number;
  /** Private data, 224 bytes. */
  readonly privateData: Buffer;
}

/** Writes the DREQ body into a zeroed 256-byte MAD. */
export function writeCmDreq(dreq: CmDreq, mad: Buffer): void {
  mad.writeUInt32BE(checkUint('DREQ local comm ID', dreq.localCommId, 32), D);
  mad.writeUInt32BE(checkUint('DREQ remote comm ID', dreq.remoteCommId, 32), D + 4);
  writeU24(mad, D + 8, checkUint('DREQ remote QPN', dreq.remoteQpn, 24));
  writePrivateData('DREQ', dreq.privateData, CM_PRIVATE_DATA_BYTES.DREQ, mad, D + 12);
}

/** Reads the DREQ body of a 256-byte MAD. */
export function readCmDreq(mad: Buffer): CmDreq {
  return {
    kind: 'DREQ',
    localCommId: mad.readUInt32BE(D),
    remoteCommId: mad.readUInt32BE(D + 4),
    remoteQpn: readU24(mad, D + 8),
    privateData: readPrivateData(mad, D + 12, CM_PRIVATE_DATA_BYTES.DREQ),
  };
}

/** Writes the DREP body into a zeroed 256-byte MAD. */
export function writeCmDrep(drep: CmDrep, mad: Buffer): void {
  mad.writeUInt32BE(checkUint('DREP local comm ID', drep.localCommId, 32), D);
  mad.writeUInt32BE(checkUint('DREP remote comm ID', drep.remoteCommId, 32), D + 4);
  writePrivateData('DREP', drep.privateData, CM_PRIVATE_DATA_BYTES.DREP, mad, D + 8);
}

/** Reads the DREP body of a 256-byte MAD. */
export function readCmDrep(mad: Buffer): CmDrep {
  return {
    kind: 'DREP',
    localCommId: mad.readUInt32BE(D),
    remoteCommId: mad.readUInt32BE(D + 4),
    privateData: readPrivateData(mad, D + 8, CM_PRIVATE_DATA_BYTES.DREP),
  };
}
