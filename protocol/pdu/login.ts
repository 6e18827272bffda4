/**
 * Login Request (RFC 7143 §11.12) and Login Response (§11.13), with the login stages and every status
 * class/detail of §11.13.5.
 */
import { readTargetSequence, writeTargetSequence, type KindCodec, type TargetSequence } from './codec.js';
import { bitField, putU16, putU32, putU8 } from './fields.js';
import { readIsid, writeIsid, type Isid } from './isid.js';
import { IMMEDIATE_BIT, Opcode } from './opcodes.js';

/** Login stages (CSG/NSG, RFC 7143 §11.12.3). Value 2 is reserved. */
export const LoginStage = {
  SecurityNegotiation: 0,
  LoginOperationalNegotiation: 1,
  FullFeaturePhase: 3,
} as const;

/** A 2-bit stage field; {@link LoginStage} names the defined values. */
export type LoginStageValue = 0 | 1 | 2 | 3;

/** Login status classes (RFC 7143 §11.13.5). */
export const LoginStatusClass = {
  Success: 0,
  Redirection: 1,
  InitiatorError: 2,
  TargetError: 3,
} as const;

/** Every login status of RFC 7143 §11.13.5, as `class << 8 | detail`. */
export const LoginStatus = {
  Success: 0x0000,
  TargetMovedTemporarily: 0x0101,
  TargetMovedPermanently: 0x0102,
  InitiatorError: 0x0200,
  AuthenticationFailure: 0x0201,
  AuthorizationFailure: 0x0202,
  NotFound: 0x0203,
  TargetRemoved: 0x0204,
  UnsupportedVersion: 0x0205,
  TooManyConnections: 0x0206,
  MissingParameter: 0x0207,
  CannotIncludeInSession: 0x0208,
  SessionTypeNotSupported: 0x0209,
  SessionDoesNotExist: 0x020a,
  InvalidDuringLogin: 0x020b,
  TargetError: 0x0300,
  ServiceUnavailable: 0x0301,
  OutOfResources: 0x0302,
} as const;

/** One of the {@link LoginStatus} values. */
export type LoginStatus = (typeof LoginStatus)[keyof typeof LoginStatus];

const loginStatusNames = new Map<number, string>(Object.entries(LoginStatus).map(([name, code]) => [code, name]));

/** `class << 8 | detail`, comparable with {@link LoginStatus}. */
export function loginStatusCode(statusClass: number, statusDetail: number): number {
  return ((statusClass & 0xff) << 8) | (statusDetail & 0xff);
}

/** The RFC name of a login status, or `Unknown(0xCCDD)`. */
export function loginStatusName(statusClass: number, statusDetail: number): string {
  const code = loginStatusCode(statusClass, statusDetail);
  return loginStatusNames.get(code) ?? `Unknown(0x${code.toString(16).padStart(4, '0')})`;
}

/** Fields Login Request and Response share in byte 1 and the session identifiers. */
interface LoginCommon {
  /** T bit: the sender is ready to move to `nextStage`. */
  readonly transit: boolean;
  /** C bit: the text in this PDU continues in the next one. */
  readonly continue: boolean;
  /** CSG: the stage this PDU belongs to. */
  readonly currentStage: LoginStageValue;
  /** NSG: the stage to move to when `transit` is set. */
  readonly nextStage: LoginStageValue;
  readonly versionMax: number;
  readonly isid: Isid;
  /** Target Session Identifying Handle: 0 to open a new session. */
  readonly tsih: number;
  readonly itt: number;
  /** Login key=value text (NUL separated). */
  readonly data: readonly Buffer[];
}

/** Login Request (the I bit is always 1 on the wire). */
export interface LoginRequestPdu extends LoginCommon {
  readonly kind: 'login-request';
  readonly versionMin: number;
  /** Connection ID. */
  readonly cid: number;
  readonly cmdSN: number;
  readonly expStatSN: number;
}

/** Login Response. */
export interface LoginResponsePdu extends LoginCommon, TargetSequence {
  readonly kind: 'login-response';
  readonly versionActive: number;
  /** A {@link LoginStatusClass}. */
  readonly statusClass: number;
  readonly statusDetail: number;
}

const TRANSIT_BIT = 0x80;
const CONTINUE_BIT = 0x40;

function writeCommon(p: LoginCommon, bhs: Buffer): void {
  bhs[1] =
    (p.transit ? TRANSIT_BIT : 0) |
    (p.continue ? CONTINUE_BIT : 0) |
    (bitField(p.currentStage, 2, 'CSG') << 2) |
    bitField(p.nextStage, 2, 'NSG');
  putU8(bhs, 2, p.versionMax, 'VersionMax');
  writeIsid(bhs, 8, p.isid);
  putU16(bhs, 14, p.tsih, 'TSIH');
  putU32(bhs, 16, p.itt, 'ITT');
}

function readCommon(bhs: Buffer): Omit<LoginCommon, 'data'> {
  const flags = bhs.readUInt8(1);
  return {
    transit: (flags & TRANSIT_BIT) !== 0,
    continue: (flags & CONTINUE_BIT) !== 0,
    currentStage: ((flags >>> 2) & 3) as LoginStageValue,
    nextStage: (flags & 3) as LoginStageValue,
    versionMax: bhs.readUInt8(2),
    isid: readIsid(bhs, 8),
    tsih: bhs.readUInt16BE(14),
    itt: bhs.readUInt32BE(16),
  };
}

/** Codec of {@link LoginRequestPdu}. */
export const loginRequestCodec: KindCodec<LoginRequestPdu> = {
  opcode: Opcode.LoginRequest,
  carriesData: true,
  write(p, bhs) {
    bhs[0] = bhs.readUInt8(0) | IMMEDIATE_BIT;
    writeCommon(p, bhs);
    putU8(bhs, 3, p.versionMin, 'VersionMin');
    putU16(bhs, 20, p.cid, 'CID');
    putU32(bhs, 24, p.cmdSN, 'CmdSN');
    putU32(bhs, 28, p.expStatSN, 'ExpStatSN');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'login-request',
      ...readCommon(bhs),
      versionMin: bhs.readUInt8(3),
      cid: bhs.readUInt16BE(20),
      cmdSN: bhs.readUInt32BE(24),
      expStatSN: bhs.readUInt32BE(28),
    };
  },
};

/** Codec of {@link LoginResponsePdu}. */
export const loginResponseCodec: KindCodec<LoginResponsePdu> = {
  opcode: Opcode.LoginResponse,
  carriesData: true,
  write(p, bhs) {
    writeCommon(p, bhs);
    putU8(bhs, 3, p.versionActive, 'VersionActive');
    writeTargetSequence(bhs, p);
    putU8(bhs, 36, p.statusClass, 'StatusClass');
    putU8(bhs, 37, p.statusDetail, 'StatusDetail');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'login-response',
      ...readCommon(bhs),
      versionActive: bhs.readUInt8(3),
      ...readTargetSequence(bhs),
      statusClass: bhs.readUInt8(36),
      statusDetail: bhs.readUInt8(37),
    };
  },
};
