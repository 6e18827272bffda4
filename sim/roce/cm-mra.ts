/**
 * CM MRA (IBA 12.6.6, Table 107): "message received, answer later" — extends the peer's response timeout.
 */
import { CM_PRIVATE_DATA_BYTES, readPrivateData, writePrivateData } from './cm-private-data.js';
import { checkUint } from './fields.js';
import { MAD_HEADER_BYTES } from './mad.js';

const D = MAD_HEADER_BYTES;

/** A decoded CM MRA. */
export interface CmMra {
  /** Discriminator. */
  readonly kind: 'MRA';
  /** The sender's communication ID. */
  readonly localCommId: number;
  /** The peer's communication ID. */
  readonly remoteCommId: number;
  /** Which message is acknowledged: 0 REQ, 1 REP, 2 LAP (2 bits). */
  readonly messageMraed: number;
  /** Extra time the sender needs (5-bit exponent, 4.096 µs · 2^n). */
  readonly serviceTimeout: number;
  /** Private data, 222 bytes. */
  readonly privateData: Buffer;
}

/** Writes the MRA body into a zeroed 256-byte MAD. */
export function writeCmMra(mra: CmMra, mad: Buffer): void {
  mad.writeUInt32BE(checkUint('MRA local comm ID', mra.localCommId, 32), D);
  mad.writeUInt32BE(checkUint('MRA remote comm ID', mra.remoteCommId, 32), D + 4);
  mad[D + 8] = checkUint('MRA message MRAed', mra.messageMraed, 2) << 6;
  mad[D + 9] = checkUint('MRA service timeout', mra.serviceTimeout, 5) << 3;
  writePrivateData('MRA', mra.privateData, CM_PRIVATE_DATA_BYTES.MRA, mad, D + 10);
}

/** Reads the MRA body of a 256-byte MAD. */
export function readCmMra(mad: Buffer): CmMra {
  return {
    kind: 'MRA',
    localCommId: mad.readUInt32BE(D),
    remoteCommId: mad.readUInt32BE(D + 4),
    messageMraed: (mad[D + 8] ?? 0) >> 6,
    serviceTimeout: (mad[D + 9] ?? 0) >> 3,
    privateData: readPrivateData(mad, D + 10, CM_PRIVATE_DATA_BYTES.MRA),
  };
}
