/**
 * CM REP (IBA 12.6.8, Table 110): the passive side's reply. Offsets are from the start of the MAD (message + 24).
 * rdma_cm adds no header to REP private data; LIO isert puts its `iser_cm_hdr` there.
 */
import { CM_PRIVATE_DATA_BYTES, readPrivateData, writePrivateData } from './cm-private-data.js';
import { checkUint, checkUint64, flag, readU24, writeU24 } from './fields.js';
import { MAD_HEADER_BYTES } from './mad.js';

const D = MAD_HEADER_BYTES;

/** A decoded CM REP. */
export interface CmRep {
  /** Discriminator. */
  readonly kind: 'REP';
  /** The sender's (passive side's) communication ID. */
  readonly localCommId: number;
  /** The REQ sender's communication ID. */
  readonly remoteCommId: number;
  /** Local Q_Key (UD/RD only). */
  readonly localQkey: number;
  /** The sender's QP number (24 bits). */
  readonly localQpn: number;
  /** Vendor ID (24 bits, split over bytes 15, 19 and 23). */
  readonly vendorId: number;
  /** Local EE context (RD only; 24 bits). */
  readonly localEecn: number;
  /** The sender's first send PSN: the active side's expected receive PSN. */
  readonly startingPsn: number;
  /** RDMA READ / atomic requests the sender will accept at once. */
  readonly responderResources: number;
  /** RDMA READ / atomic requests the sender will issue at once. */
  readonly initiatorDepth: number;
  /** Target ACK delay (5 bits). */
  readonly targetAckDelay: number;
  /** Failover accepted (2 bits: 0 accepted, 1 not supported, 2 rejected). */
  readonly failoverAccepted: number;
  /** End-to-end flow control. */
  readonly endToEndFlowControl: boolean;
  /** RNR retry count (3 bits). */
  readonly rnrRetryCount: number;
  /** The sender's QP uses an SRQ. */
  readonly srq: boolean;
  /** The sender's CA GUID. */
  readonly localCaGuid: bigint;
  /** Private data, 196 bytes. */
  readonly privateData: Buffer;
}

/** Writes the REP body into a zeroed 256-byte MAD. */
export function writeCmRep(rep: CmRep, mad: Buffer): void {
  const vendorId = checkUint('REP vendor ID', rep.vendorId, 24);
  mad.writeUInt32BE(checkUint('REP local comm ID', rep.localCommId, 32), D);
  mad.writeUInt32BE(checkUint('REP remote comm ID', rep.remoteCommId, 32), D + 4);
  mad.writeUInt32BE(checkUint('REP local Q_Key', rep.localQkey, 32), D + 8);
  writeU24(mad, D + 12, checkUint('REP local QPN', rep.localQpn, 24));
  mad[D + 15] = vendorId >> 16;
  writeU24(mad, D + 16, checkUint('REP local EECN', rep.localEecn, 24));
  mad[D + 19] = (vendorId >> 8) & 0xff;
  writeU24(mad, D + 20, checkUint('REP starting PSN', rep.startingPsn, 24));
  mad[D + 23] = vendorId & 0xff;
  mad[D + 24] = checkUint('REP responder resources', rep.responderResources, 8);
  mad[D + 25] = checkUint('REP initiator depth', rep.initiatorDepth, 8);
  mad[D + 26] =
    (checkUint('REP target ACK delay', rep.targetAckDelay, 5) << 3) |
    (checkUint('REP failover accepted', rep.failoverAccepted, 2) << 1) |
    (rep.endToEndFlowControl ? 1 : 0);
  mad[D + 27] = (checkUint('REP RNR retry count', rep.rnrRetryCount, 3) << 5) | (rep.srq ? 0x10 : 0);
  mad.writeBigUInt64BE(checkUint64('REP local CA GUID', rep.localCaGuid), D + 28);
  writePrivateData('REP', rep.privateData, CM_PRIVATE_DATA_BYTES.REP, mad, D + 36);
}

/** Reads the REP body of a 256-byte MAD. */
export function readCmRep(mad: Buffer): CmRep {
  const b26 = mad[D + 26] ?? 0;
  const b27 = mad[D + 27] ?? 0;
  return {
    kind: 'REP',
    localCommId: mad.readUInt32BE(D),
    remoteCommId: mad.readUInt32BE(D + 4),
    localQkey: mad.readUInt32BE(D + 8),
    localQpn: readU24(mad, D + 12),
    vendorId: ((mad[D + 15] ?? 0) << 16) | ((mad[D + 19] ?? 0) << 8) | (mad[D + 23] ?? 0),
    localEecn: readU24(mad, D + 16),
    startingPsn: readU24(mad, D + 20),
    responderResources: mad[D + 24] ?? 0,
    initiatorDepth: mad[D + 25] ?? 0,
    targetAckDelay: b26 >> 3,
    failoverAccepted: (b26 >> 1) & 3,
    endToEndFlowControl: flag(b26, 0),
    rnrRetryCount: b27 >> 5,
    srq: flag(b27, 4),
    localCaGuid: mad.readBigUInt64BE(D + 28),
    privateData: readPrivateData(mad, D + 36, CM_PRIVATE_DATA_BYTES.REP),
  };
}
