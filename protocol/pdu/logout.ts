/** Logout Request (RFC 7143 §11.14) and Logout Response (§11.15). */
import { bit, readTargetSequence, writeTargetSequence, type KindCodec, type TargetSequence } from './codec.js';
import { bitField, putU16, putU32, putU8 } from './fields.js';
import { FINAL_BIT, IMMEDIATE_BIT, Opcode } from './opcodes.js';

/** Logout reason codes (RFC 7143 §11.14.1). */
export const LogoutReason = {
  CloseSession: 0,
  CloseConnection: 1,
  RemoveConnectionForRecovery: 2,
} as const;

/** One of the {@link LogoutReason} values. */
export type LogoutReason = (typeof LogoutReason)[keyof typeof LogoutReason];

/** Logout response codes (RFC 7143 §11.15.1). */
export const LogoutResponse = {
  ClosedSuccessfully: 0,
  CidNotFound: 1,
  ConnectionRecoveryNotSupported: 2,
  CleanupFailed: 3,
} as const;

/** One of the {@link LogoutResponse} values. */
export type LogoutResponse = (typeof LogoutResponse)[keyof typeof LogoutResponse];

/** Logout Request. */
export interface LogoutRequestPdu {
  readonly kind: 'logout-request';
  readonly immediate: boolean;
  /** Reason code (7 bits), a {@link LogoutReason}. */
  readonly reason: number;
  readonly itt: number;
  /** Connection to close (reasons 1 and 2); reserved when closing the session. */
  readonly cid: number;
  readonly cmdSN: number;
  readonly expStatSN: number;
}

/** Logout Response. */
export interface LogoutResponsePdu extends TargetSequence {
  readonly kind: 'logout-response';
  /** A {@link LogoutResponse}. */
  readonly response: number;
  readonly itt: number;
  /** Seconds to wait before reconnecting for recovery. */
  readonly time2Wait: number;
  /** Seconds the target keeps the connection's tasks for recovery. */
  readonly time2Retain: number;
}

/** Codec of {@link LogoutRequestPdu}. */
export const logoutRequestCodec: KindCodec<LogoutRequestPdu> = {
  opcode: Opcode.LogoutRequest,
  carriesData: false,
  write(p, bhs) {
    if (p.immediate) bhs[0] = bhs.readUInt8(0) | IMMEDIATE_BIT;
    bhs[1] = FINAL_BIT | bitField(p.reason, 7, 'ReasonCode');
    putU32(bhs, 16, p.itt, 'ITT');
    putU16(bhs, 20, p.cid, 'CID');
    putU32(bhs, 24, p.cmdSN, 'CmdSN');
    putU32(bhs, 28, p.expStatSN, 'ExpStatSN');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'logout-request',
      immediate: bit(bhs, 0, IMMEDIATE_BIT),
      reason: bhs.readUInt8(1) & 0x7f,
      itt: bhs.readUInt32BE(16),
      cid: bhs.readUInt16BE(20),
      cmdSN: bhs.readUInt32BE(24),
      expStatSN: bhs.readUInt32BE(28),
    };
  },
};

/** Codec of {@link LogoutResponsePdu}. */
export const logoutResponseCodec: KindCodec<LogoutResponsePdu> = {
  opcode: Opcode.LogoutResponse,
  carriesData: false,
  write(p, bhs) {
    bhs[1] = FINAL_BIT;
    putU8(bhs, 2, p.response, 'Response');
    putU32(bhs, 16, p.itt, 'ITT');
    writeTargetSequence(bhs, p);
    putU16(bhs, 40, p.time2Wait, 'Time2Wait');
    putU16(bhs, 42, p.time2Retain, 'Time2Retain');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'logout-response',
      response: bhs.readUInt8(2),
      itt: bhs.readUInt32BE(16),
      ...readTargetSequence(bhs),
      time2Wait: bhs.readUInt16BE(40),
      time2Retain: bhs.readUInt16BE(42),
    };
  },
};
