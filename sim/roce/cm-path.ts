/**
 * A CM path as carried in a REQ (primary at byte 52, alternate at byte 96 of the message): 44 bytes.
 * Layout from Linux `ibta_vol1_c12.h` (IBA Table 106); on RoCE the LIDs are 0xFFFF and the GIDs are IP addresses.
 */
import { RoceError } from './errors.js';
import { checkUint, flag } from './fields.js';

/** Size of a path in a REQ. */
export const CM_PATH_BYTES = 44;

/** The permissive LID RoCE puts in both LID fields. */
export const PERMISSIVE_LID = 0xffff;

/** One path of a REQ. */
export interface CmPath {
  /** Local port LID (0xFFFF on RoCE). */
  readonly localLid: number;
  /** Remote port LID (0xFFFF on RoCE). */
  readonly remoteLid: number;
  /** Local port GID, 16 bytes (RoCEv2 IPv4: `::ffff:a.b.c.d`). */
  readonly localGid: Buffer;
  /** Remote port GID, 16 bytes. */
  readonly remoteGid: Buffer;
  /** Flow label (20 bits). */
  readonly flowLabel: number;
  /** Packet rate (6 bits, IBA rate enum). */
  readonly packetRate: number;
  /** Traffic class (8 bits). */
  readonly trafficClass: number;
  /** Hop limit (8 bits). */
  readonly hopLimit: number;
  /** Service level (4 bits). */
  readonly sl: number;
  /** Subnet local: Linux sets it when hop limit ≤ 1. */
  readonly subnetLocal: boolean;
  /** Local ACK timeout exponent (5 bits): 4.096 µs · 2^n. */
  readonly localAckTimeout: number;
}

function checkGid(name: string, gid: Buffer): Buffer {
  if (gid.length !== 16) throw new RoceError('ERR_ROCE_INVALID_FIELD', `${name} must be 16 bytes, got ${gid.length}`);
  return gid;
}

/** Writes `path` at `offset` of `out` (the caller has sized `out`). */
export function writeCmPath(path: CmPath, out: Buffer, offset: number): void {
  out.writeUInt16BE(checkUint('path local LID', path.localLid, 16), offset);
  out.writeUInt16BE(checkUint('path remote LID', path.remoteLid, 16), offset + 2);
  checkGid('path local GID', path.localGid).copy(out, offset + 4);
  checkGid('path remote GID', path.remoteGid).copy(out, offset + 20);
  out.writeUInt32BE((checkUint('path flow label', path.flowLabel, 20) << 12) >>> 0, offset + 36);
  out[offset + 39] = checkUint('path packet rate', path.packetRate, 6);
  out[offset + 40] = checkUint('path traffic class', path.trafficClass, 8);
  out[offset + 41] = checkUint('path hop limit', path.hopLimit, 8);
  out[offset + 42] = (checkUint('path SL', path.sl, 4) << 4) | (path.subnetLocal ? 0x08 : 0);
  out[offset + 43] = checkUint('path local ACK timeout', path.localAckTimeout, 5) << 3;
}

/** Reads the path at `offset` of `buf` (the caller has checked the bounds). */
export function readCmPath(buf: Buffer, offset: number): CmPath {
  const b42 = buf[offset + 42] ?? 0;
  return {
    localLid: buf.readUInt16BE(offset),
    remoteLid: buf.readUInt16BE(offset + 2),
    localGid: Buffer.from(buf.subarray(offset + 4, offset + 20)),
    remoteGid: Buffer.from(buf.subarray(offset + 20, offset + 36)),
    flowLabel: buf.readUInt32BE(offset + 36) >>> 12,
    packetRate: (buf[offset + 39] ?? 0) & 0x3f,
    trafficClass: buf[offset + 40] ?? 0,
    hopLimit: buf[offset + 41] ?? 0,
    sl: b42 >> 4,
    subnetLocal: flag(b42, 3),
    localAckTimeout: (buf[offset + 43] ?? 0) >> 3,
  };
}

/** True when the 44 path bytes at `offset` are all zero (an absent alternate path). */
export function isEmptyCmPath(buf: Buffer, offset: number): boolean {
  return buf.subarray(offset, offset + CM_PATH_BYTES).every((b) => b === 0);
}
