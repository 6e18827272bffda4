/**
 * Persistent reservation data (SPC-4 §6.15-6.16): the PERSISTENT RESERVE IN parameter data of its four service
 * actions, the 24-byte PERSISTENT RESERVE OUT basic parameter list, and iSCSI TransportIDs (SPC-4 §7.6.4.6).
 */
import { requireLength } from '../bytes.js';
import { ScsiDecodeError, ScsiEncodeError } from '../errors.js';

/** READ KEYS data. */
export interface PrReadKeys {
  /** PRGENERATION. */
  readonly generation: number;
  /** Registered reservation keys that were returned whole. */
  readonly keys: readonly bigint[];
  /** ADDITIONAL LENGTH as declared: 8 x the number of registered keys, even if fewer were returned. */
  readonly additionalLength: number;
}

/** Encodes READ KEYS data. */
export function encodePrReadKeys(generation: number, keys: readonly bigint[]): Buffer {
  const buf = Buffer.alloc(8 + 8 * keys.length);
  buf.writeUInt32BE(generation >>> 0, 0);
  buf.writeUInt32BE(8 * keys.length, 4);
  keys.forEach((key, i) => buf.writeBigUInt64BE(BigInt.asUintN(64, key), 8 + 8 * i));
  return buf;
}

/** Decodes READ KEYS data. Throws only `ScsiDecodeError`. */
export function decodePrReadKeys(buf: Buffer): PrReadKeys {
  requireLength(buf, 8, 'READ KEYS data');
  const additionalLength = buf.readUInt32BE(4);
  const end = Math.min(buf.length, 8 + additionalLength);
  const keys: bigint[] = [];
  for (let offset = 8; offset + 8 <= end; offset += 8) keys.push(buf.readBigUInt64BE(offset));
  return { generation: buf.readUInt32BE(0), keys, additionalLength };
}

/** The reservation READ RESERVATION reports. */
export interface PrReservation {
  /** RESERVATION KEY (0 for the all-registrants types). */
  readonly key: bigint;
  /** SCOPE (0: logical unit). */
  readonly scope: number;
  /** TYPE (`PrType`). */
  readonly type: number;
}

/** READ RESERVATION data. */
export interface PrReadReservation {
  /** PRGENERATION. */
  readonly generation: number;
  /** The reservation, or undefined when none is held. */
  readonly reservation?: PrReservation;
}

/** Encodes READ RESERVATION data (8 bytes, or 24 with a reservation). */
export function encodePrReadReservation(generation: number, reservation?: PrReservation): Buffer {
  const buf = Buffer.alloc(reservation === undefined ? 8 : 24);
  buf.writeUInt32BE(generation >>> 0, 0);
  if (reservation !== undefined) {
    buf.writeUInt32BE(16, 4);
    buf.writeBigUInt64BE(BigInt.asUintN(64, reservation.key), 8);
    buf[21] = ((reservation.scope & 0x0f) << 4) | (reservation.type & 0x0f);
  }
  return buf;
}

/** Decodes READ RESERVATION data. Throws only `ScsiDecodeError`. */
export function decodePrReadReservation(buf: Buffer): PrReadReservation {
  requireLength(buf, 8, 'READ RESERVATION data');
  const generation = buf.readUInt32BE(0);
  if (buf.readUInt32BE(4) === 0) return { generation };
  requireLength(buf, 22, 'READ RESERVATION data with a reservation');
  return {
    generation,
    reservation: { key: buf.readBigUInt64BE(8), scope: buf.readUInt8(21) >> 4, type: buf.readUInt8(21) & 0x0f },
  };
}

/** Persistent reservation type mask bits of REPORT CAPABILITIES (SPC-4 table 174), as a 16-bit value. */
export const PrTypeMask = {
  WriteExclusiveAllRegistrants: 0x8000,
  ExclusiveAccessRegistrantsOnly: 0x4000,
  WriteExclusiveRegistrantsOnly: 0x2000,
  ExclusiveAccess: 0x0800,
  WriteExclusive: 0x0200,
  ExclusiveAccessAllRegistrants: 0x0001,
} as const;

/** REPORT CAPABILITIES data. */
export interface PrCapabilities {
  /** RLR_C: replace lost reservation capable. */
  readonly rlrC: boolean;
  /** CRH: compatible reservation handling. */
  readonly crh: boolean;
  /** SIP_C: specify initiator ports capable. */
  readonly sipC: boolean;
  /** ATP_C: all target ports capable. */
  readonly atpC: boolean;
  /** PTPL_C: persist through power loss capable. */
  readonly ptplC: boolean;
  /** TMV: the type mask is valid. */
  readonly tmv: boolean;
  /** ALLOW COMMANDS. */
  readonly allowCommands: number;
  /** PTPL_A: persist through power loss activated. */
  readonly ptplA: boolean;
  /** PERSISTENT RESERVATION TYPE MASK ({@link PrTypeMask} bits). */
  readonly typeMask: number;
}

/** Encodes REPORT CAPABILITIES data (8 bytes). */
export function encodePrCapabilities(caps: PrCapabilities): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeUInt16BE(8, 0);
  buf[2] = (caps.rlrC ? 0x80 : 0) | (caps.crh ? 0x10 : 0) | (caps.sipC ? 0x08 : 0) | (caps.atpC ? 0x04 : 0);
  buf[2] |= caps.ptplC ? 0x01 : 0;
  buf[3] = (caps.tmv ? 0x80 : 0) | ((caps.allowCommands & 0x07) << 4) | (caps.ptplA ? 0x01 : 0);
  buf.writeUInt16BE(caps.typeMask & 0xffff, 4);
  return buf;
}

/** Decodes REPORT CAPABILITIES data. Throws only `ScsiDecodeError`. */
export function decodePrCapabilities(buf: Buffer): PrCapabilities {
  requireLength(buf, 6, 'REPORT CAPABILITIES data');
  return {
    rlrC: (buf.readUInt8(2) & 0x80) !== 0,
    crh: (buf.readUInt8(2) & 0x10) !== 0,
    sipC: (buf.readUInt8(2) & 0x08) !== 0,
    atpC: (buf.readUInt8(2) & 0x04) !== 0,
    ptplC: (buf.readUInt8(2) & 0x01) !== 0,
    tmv: (buf.readUInt8(3) & 0x80) !== 0,
    allowCommands: (buf.readUInt8(3) >> 4) & 0x07,
    ptplA: (buf.readUInt8(3) & 0x01) !== 0,
    typeMask: buf.readUInt16BE(4),
  };
}

/** One registration of READ FULL STATUS. */
export interface PrFullStatusDescriptor {
  /** RESERVATION KEY. */
  readonly key: bigint;
  /** ALL_TG_PT: registered on all target ports. */
  readonly allTgPt: boolean;
  /** R_HOLDER: this I_T nexus holds the reservation. */
  readonly holder: boolean;
  /** SCOPE (meaningful when holder). */
  readonly scope: number;
  /** TYPE (meaningful when holder). */
  readonly type: number;
  /** RELATIVE TARGET PORT IDENTIFIER. */
  readonly relativeTargetPortId: number;
  /** TransportID of the initiator port. */
  readonly transportId: Buffer;
}

/** READ FULL STATUS data. */
export interface PrFullStatus {
  /** PRGENERATION. */
  readonly generation: number;
  /** The descriptors returned whole. */
  readonly descriptors: readonly PrFullStatusDescriptor[];
  /** ADDITIONAL LENGTH as declared. */
  readonly additionalLength: number;
}

/** Encodes READ FULL STATUS data. */
export function encodePrFullStatus(generation: number, descriptors: readonly PrFullStatusDescriptor[]): Buffer {
  const parts = descriptors.map((d) => {
    const buf = Buffer.alloc(24 + d.transportId.length);
    buf.writeBigUInt64BE(BigInt.asUintN(64, d.key), 0);
    buf[12] = (d.allTgPt ? 0x02 : 0) | (d.holder ? 0x01 : 0);
    buf[13] = ((d.scope & 0x0f) << 4) | (d.type & 0x0f);
    buf.writeUInt16BE(d.relativeTargetPortId & 0xffff, 18);
    buf.writeUInt32BE(d.transportId.length, 20);
    d.transportId.copy(buf, 24);
    return buf;
  });
  const header = Buffer.alloc(8);
  header.writeUInt32BE(generation >>> 0, 0);
  header.writeUInt32BE(
    parts.reduce((n, p) => n + p.length, 0),
    4,
  );
  return Buffer.concat([header, ...parts]);
}

/** Decodes READ FULL STATUS data; a descriptor cut off by the allocation length is dropped. */
export function decodePrFullStatus(buf: Buffer): PrFullStatus {
  requireLength(buf, 8, 'READ FULL STATUS data');
  const additionalLength = buf.readUInt32BE(4);
  const end = Math.min(buf.length, 8 + additionalLength);
  const descriptors: PrFullStatusDescriptor[] = [];
  let offset = 8;
  while (offset + 24 <= end) {
    const idLength = buf.readUInt32BE(offset + 20);
    if (idLength > end - offset - 24) break;
    descriptors.push({
      key: buf.readBigUInt64BE(offset),
      allTgPt: (buf.readUInt8(offset + 12) & 0x02) !== 0,
      holder: (buf.readUInt8(offset + 12) & 0x01) !== 0,
      scope: buf.readUInt8(offset + 13) >> 4,
      type: buf.readUInt8(offset + 13) & 0x0f,
      relativeTargetPortId: buf.readUInt16BE(offset + 18),
      transportId: Buffer.from(buf.subarray(offset + 24, offset + 24 + idLength)),
    });
    offset += 24 + idLength;
  }
  return { generation: buf.readUInt32BE(0), descriptors, additionalLength };
}

/** The PERSISTENT RESERVE OUT basic parameter list. */
export interface PrOutParameters {
  /** RESERVATION KEY: the key the sender is registered with (0 when unregistered). */
  readonly reservationKey: bigint;
  /** SERVICE ACTION RESERVATION KEY: the new key (REGISTER) or the key to preempt (PREEMPT). */
  readonly serviceActionReservationKey: bigint;
  /** SPEC_I_PT: TransportIDs follow. */
  readonly specIPt: boolean;
  /** ALL_TG_PT: register on all target ports. */
  readonly allTgPt: boolean;
  /** APTPL: persist through power loss. */
  readonly aptpl: boolean;
}

/** Length of the basic PERSISTENT RESERVE OUT parameter list. */
export const PR_OUT_PARAMETER_LENGTH = 24;

/** Encodes the 24-byte PERSISTENT RESERVE OUT parameter list. */
export function encodePrOutParameters(params: Partial<PrOutParameters>): Buffer {
  const buf = Buffer.alloc(PR_OUT_PARAMETER_LENGTH);
  buf.writeBigUInt64BE(checkKey(params.reservationKey ?? 0n, 'reservation key'), 0);
  buf.writeBigUInt64BE(checkKey(params.serviceActionReservationKey ?? 0n, 'service action reservation key'), 8);
  buf[20] =
    (params.specIPt === true ? 0x08 : 0) | (params.allTgPt === true ? 0x04 : 0) | (params.aptpl === true ? 0x01 : 0);
  return buf;
}

/** Decodes the basic PERSISTENT RESERVE OUT parameter list. Throws only `ScsiDecodeError`. */
export function decodePrOutParameters(buf: Buffer): PrOutParameters {
  requireLength(buf, PR_OUT_PARAMETER_LENGTH, 'PERSISTENT RESERVE OUT parameter list');
  return {
    reservationKey: buf.readBigUInt64BE(0),
    serviceActionReservationKey: buf.readBigUInt64BE(8),
    specIPt: (buf.readUInt8(20) & 0x08) !== 0,
    allTgPt: (buf.readUInt8(20) & 0x04) !== 0,
    aptpl: (buf.readUInt8(20) & 0x01) !== 0,
  };
}

function checkKey(key: bigint, field: string): bigint {
  if (key < 0n || key > 0xffff_ffff_ffff_ffffn) {
    throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', `${field} must fit in 64 bits`);
  }
  return key;
}

/**
 * Encodes an iSCSI TransportID (SPC-4 §7.6.4.6): format 01b (name plus ",i,0x" ISID) when the port name
 * contains one, else format 00b (device name only); NUL-terminated and padded to a multiple of 4, ADDITIONAL LENGTH at least 20.
 */
export function encodeIscsiTransportId(initiatorPortName: string): Buffer {
  const withIsid = /,i,0x[0-9a-f]{12}$/i.test(initiatorPortName);
  const name = Buffer.from(initiatorPortName, 'utf8');
  const padded = Math.max(20, (name.length + 1 + 3) & ~3);
  if (padded > 0xffff) throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'iSCSI name too long for a TransportID');
  const buf = Buffer.alloc(4 + padded);
  buf[0] = (withIsid ? 0x40 : 0x00) | 0x05; // FORMAT CODE | PROTOCOL IDENTIFIER (iSCSI)
  buf.writeUInt16BE(padded, 2);
  name.copy(buf, 4);
  return buf;
}

/** Decodes an iSCSI TransportID to the name it carries (with ",i,0x<ISID>" for format 01b). */
export function decodeIscsiTransportId(buf: Buffer): string {
  requireLength(buf, 4, 'TransportID');
  if ((buf.readUInt8(0) & 0x0f) !== 0x05) {
    throw new ScsiDecodeError('ERR_SCSI_FIELD', `TransportID protocol ${buf.readUInt8(0) & 0x0f} is not iSCSI (5)`);
  }
  const length = buf.readUInt16BE(2);
  if (4 + length > buf.length) throw new ScsiDecodeError('ERR_SCSI_LENGTH', 'TransportID runs past its buffer');
  const body = buf.subarray(4, 4 + length);
  const nul = body.indexOf(0);
  return body.toString('utf8', 0, nul === -1 ? body.length : nul);
}
