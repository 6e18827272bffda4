/**
 * SCSI Command (RFC 7143 §11.3). A CDB longer than 16 bytes continues in an Extended-CDB AHS, and a
 * bidirectional command states its expected read length in an AHS; both are handled here, so callers only see
 * `cdb` and `bidirectionalReadLength`.
 */
import { AhsType, decodeAhs, encodeAhs, type AhsSegment } from './ahs.js';
import { bit, type KindCodec } from './codec.js';
import { PduDecodeError } from './errors.js';
import { bitField, putU32, putU64 } from './fields.js';
import { FINAL_BIT, IMMEDIATE_BIT, Opcode } from './opcodes.js';

/** SAM task attributes (RFC 7143 §11.3.1, ATTR field). */
export const TaskAttribute = {
  Untagged: 0,
  Simple: 1,
  Ordered: 2,
  HeadOfQueue: 3,
  Aca: 4,
} as const;

/** One of the {@link TaskAttribute} values. */
export type TaskAttribute = (typeof TaskAttribute)[keyof typeof TaskAttribute];

/** Bytes of the CDB that travel in the BHS. */
export const BHS_CDB_LENGTH = 16;

/** SCSI Command. */
export interface ScsiCommandPdu {
  readonly kind: 'scsi-command';
  readonly immediate: boolean;
  /** F bit: no unsolicited Data-Out follows. */
  readonly final: boolean;
  /** R bit: data will flow target to initiator. */
  readonly read: boolean;
  /** W bit: data will flow initiator to target. */
  readonly write: boolean;
  /** ATTR (3 bits): a {@link TaskAttribute}. */
  readonly attribute: number;
  readonly lun: bigint;
  readonly itt: number;
  /** Expected Data Transfer Length (of the write data, for a bidirectional command). */
  readonly expectedDataTransferLength: number;
  readonly cmdSN: number;
  readonly expStatSN: number;
  /**
   * The CDB. On encode, shorter CDBs are zero-padded to 16 bytes and bytes beyond 16 go into an Extended-CDB AHS;
   * on decode it is at least 16 bytes.
   */
  readonly cdb: Buffer;
  /** Expected read-data length of a bidirectional command (carried in an AHS), if present. */
  readonly bidirectionalReadLength?: number | undefined;
  /** Immediate data. */
  readonly data: readonly Buffer[];
}

const READ_BIT = 0x40;
const WRITE_BIT = 0x20;
const ATTRIBUTE_MASK = 0x07;

/** Codec of {@link ScsiCommandPdu}. */
export const scsiCommandCodec: KindCodec<ScsiCommandPdu> = {
  opcode: Opcode.ScsiCommand,
  carriesData: true,
  write(p, bhs) {
    if (p.immediate) bhs[0] = bhs.readUInt8(0) | IMMEDIATE_BIT;
    bhs[1] =
      (p.final ? FINAL_BIT : 0) |
      (p.read ? READ_BIT : 0) |
      (p.write ? WRITE_BIT : 0) |
      bitField(p.attribute, 3, 'ATTR');
    putU64(bhs, 8, p.lun, 'LUN');
    putU32(bhs, 16, p.itt, 'ITT');
    putU32(bhs, 20, p.expectedDataTransferLength, 'ExpectedDataTransferLength');
    putU32(bhs, 24, p.cmdSN, 'CmdSN');
    putU32(bhs, 28, p.expStatSN, 'ExpStatSN');
    p.cdb.copy(bhs, 32, 0, Math.min(p.cdb.length, BHS_CDB_LENGTH));
    const segments: AhsSegment[] = [];
    if (p.cdb.length > BHS_CDB_LENGTH) {
      // One reserved byte, then the rest of the CDB.
      const specific = Buffer.alloc(1 + p.cdb.length - BHS_CDB_LENGTH);
      p.cdb.copy(specific, 1, BHS_CDB_LENGTH);
      segments.push({ type: AhsType.ExtendedCdb, specific });
    }
    if (p.bidirectionalReadLength !== undefined) {
      const specific = Buffer.alloc(5);
      putU32(specific, 1, p.bidirectionalReadLength, 'BidirectionalReadLength');
      segments.push({ type: AhsType.BidirectionalReadDataLength, specific });
    }
    return segments.length === 0 ? undefined : encodeAhs(segments);
  },
  read(bhs, ahs) {
    let extendedCdb: Buffer | undefined;
    let bidirectionalReadLength: number | undefined;
    for (const segment of decodeAhs(ahs)) {
      if (segment.type === AhsType.ExtendedCdb) {
        if (extendedCdb !== undefined) throw new PduDecodeError('ERR_PDU_AHS', 'two Extended-CDB AHS');
        if (segment.specific.length < 2) throw new PduDecodeError('ERR_PDU_AHS', 'Extended-CDB AHS holds no CDB bytes');
        extendedCdb = segment.specific.subarray(1);
      } else if (segment.type === AhsType.BidirectionalReadDataLength) {
        if (bidirectionalReadLength !== undefined) throw new PduDecodeError('ERR_PDU_AHS', 'two bidirectional AHS');
        if (segment.specific.length !== 5) {
          throw new PduDecodeError('ERR_PDU_AHS', `bidirectional AHS has AHSLength ${segment.specific.length}, not 5`);
        }
        bidirectionalReadLength = segment.specific.readUInt32BE(1);
      } else {
        throw new PduDecodeError('ERR_PDU_AHS', `unknown AHS type ${segment.type}`);
      }
    }
    const bhsCdb = bhs.subarray(32, 48);
    const flags = bhs.readUInt8(1);
    return {
      kind: 'scsi-command',
      immediate: bit(bhs, 0, IMMEDIATE_BIT),
      final: (flags & FINAL_BIT) !== 0,
      read: (flags & READ_BIT) !== 0,
      write: (flags & WRITE_BIT) !== 0,
      attribute: flags & ATTRIBUTE_MASK,
      lun: bhs.readBigUInt64BE(8),
      itt: bhs.readUInt32BE(16),
      expectedDataTransferLength: bhs.readUInt32BE(20),
      cmdSN: bhs.readUInt32BE(24),
      expStatSN: bhs.readUInt32BE(28),
      cdb: extendedCdb === undefined ? bhsCdb : Buffer.concat([bhsCdb, extendedCdb]),
      ...(bidirectionalReadLength === undefined ? {} : { bidirectionalReadLength }),
    };
  },
};
