/**
 * CM RTU (IBA 12.6.9, Table 111): "ready to use", the active side's last handshake message.
 */
import { CM_PRIVATE_DATA_BYTES, readPrivateData, writePrivateData } from './cm-private-data.js';
import { checkUint } from './fields.js';
import { MAD_HEADER_BYTES } from './mad.js';

const D = MAD_HEADER_BYTES;

/** A decoded CM RTU. */
export interface CmRtu {
  /** Discriminator. */
  readonly kind: 'RTU';
  /** The sender's communication ID. */
  readonly localCommId: number;
  /** The peer's communication ID. */
  readonly remoteCommId: number;
  /** Private data, 224 bytes. */
  readonly privateData: Buffer;
}

/** Writes the RTU body into a zeroed 256-byte MAD. */
export function writeCmRtu(rtu: CmRtu, mad: Buffer): void {
  mad.writeUInt32BE(checkUint('RTU local comm ID', rtu.localCommId, 32), D);
  mad.writeUInt32BE(checkUint('RTU remote comm ID', rtu.remoteCommId, 32), D + 4);
  writePrivateData('RTU', rtu.privateData, CM_PRIVATE_DATA_BYTES.RTU, mad, D + 8);
}

/** Reads the RTU body of a 256-byte MAD. */
export function readCmRtu(mad: Buffer): CmRtu {
  return {
    kind: 'RTU',
    localCommId: mad.readUInt32BE(D),
    remoteCommId: mad.readUInt32BE(D + 4),
    privateData: readPrivateData(mad, D + 8, CM_PRIVATE_DATA_BYTES.RTU),
  };
}
