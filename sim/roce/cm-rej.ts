/**
 * CM REJ (IBA 12.6.7, Table 108) and the reject reasons of Linux `enum ib_cm_rej_reason`.
 * rdma_cm's `rdma_reject` sends reason 28 (consumer defined) with the consumer's private data.
 */
import { CM_PRIVATE_DATA_BYTES, readPrivateData, writePrivateData } from './cm-private-data.js';
import { RoceError } from './errors.js';
import { checkMaxLength, checkUint } from './fields.js';
import { MAD_HEADER_BYTES } from './mad.js';

const D = MAD_HEADER_BYTES;

/** Size of the Additional Rejection Information area. */
export const CM_REJ_ARI_BYTES = 72;

/** Which message a REJ or MRA answers (2 bits). */
export const CmMessageRef = { REQ: 0, REP: 1, Other: 2 } as const;

/** Reject reasons (IBA Table 109; Linux `IB_CM_REJ_*`). */
export const CmRejectReason = {
  NoQp: 1,
  NoEec: 2,
  NoResources: 3,
  Timeout: 4,
  Unsupported: 5,
  InvalidCommId: 6,
  InvalidCommInstance: 7,
  InvalidServiceId: 8,
  InvalidTransportType: 9,
  StaleConnection: 10,
  RdcNotExist: 11,
  InvalidGid: 12,
  InvalidLid: 13,
  InvalidSl: 14,
  InvalidTrafficClass: 15,
  InvalidHopLimit: 16,
  InvalidPacketRate: 17,
  InvalidAltGid: 18,
  InvalidAltLid: 19,
  InvalidAltSl: 20,
  InvalidAltTrafficClass: 21,
  InvalidAltHopLimit: 22,
  InvalidAltPacketRate: 23,
  PortCmRedirect: 24,
  PortRedirect: 25,
  InvalidMtu: 26,
  InsufficientRespResources: 27,
  ConsumerDefined: 28,
  InvalidRnrRetry: 29,
  DuplicateLocalCommId: 30,
  InvalidClassVersion: 31,
  InvalidFlowLabel: 32,
  InvalidAltFlowLabel: 33,
  VendorOptionNotSupported: 35,
} as const;

const REASON_NAMES = new Map<number, string>(Object.entries(CmRejectReason).map(([name, code]) => [code, name]));

/** A reject reason in words for messages: 10 → "stale connection"; an unknown code → "reason 99". */
export function cmRejectReasonText(reason: number): string {
  const name = REASON_NAMES.get(reason);
  if (name === undefined) return `reason ${reason}`;
  return name
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .replace(/\bqp\b/, 'QP')
    .replace(/\beec\b/, 'EEC');
}

/** A decoded CM REJ. */
export interface CmRej {
  /** Discriminator. */
  readonly kind: 'REJ';
  /** The sender's communication ID (0 if it never allocated one). */
  readonly localCommId: number;
  /** The rejected side's communication ID. */
  readonly remoteCommId: number;
  /** Which message is rejected: 0 REQ, 1 REP, 2 other (2 bits). */
  readonly messageRejected: number;
  /** Reject reason (see {@link CmRejectReason}). */
  readonly reason: number;
  /** Additional rejection information, up to 72 bytes; its length goes in the Reject Info Length field. */
  readonly ari: Buffer;
  /** Private data, 148 bytes. */
  readonly privateData: Buffer;
}

/** Writes the REJ body into a zeroed 256-byte MAD. */
export function writeCmRej(rej: CmRej, mad: Buffer): void {
  checkMaxLength('REJ ARI', rej.ari, CM_REJ_ARI_BYTES);
  mad.writeUInt32BE(checkUint('REJ local comm ID', rej.localCommId, 32), D);
  mad.writeUInt32BE(checkUint('REJ remote comm ID', rej.remoteCommId, 32), D + 4);
  mad[D + 8] = checkUint('REJ message rejected', rej.messageRejected, 2) << 6;
  mad[D + 9] = rej.ari.length << 1;
  mad.writeUInt16BE(checkUint('REJ reason', rej.reason, 16), D + 10);
  rej.ari.copy(mad, D + 12);
  writePrivateData('REJ', rej.privateData, CM_PRIVATE_DATA_BYTES.REJ, mad, D + 84);
}

/** Reads the REJ body of a 256-byte MAD (an ARI length beyond 72 bytes throws ERR_CM_BAD_LENGTH). */
export function readCmRej(mad: Buffer): CmRej {
  const ariLength = (mad[D + 9] ?? 0) >> 1;
  if (ariLength > CM_REJ_ARI_BYTES) {
    throw new RoceError('ERR_CM_BAD_LENGTH', `REJ reject info length ${ariLength} exceeds ${CM_REJ_ARI_BYTES}`);
  }
  return {
    kind: 'REJ',
    localCommId: mad.readUInt32BE(D),
    remoteCommId: mad.readUInt32BE(D + 4),
    messageRejected: (mad[D + 8] ?? 0) >> 6,
    reason: mad.readUInt16BE(D + 10),
    ari: Buffer.from(mad.subarray(D + 12, D + 12 + ariLength)),
    privateData: readPrivateData(mad, D + 84, CM_PRIVATE_DATA_BYTES.REJ),
  };
}
