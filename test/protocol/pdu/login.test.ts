import { describe, expect, it } from 'vitest';
import {
  decodePdu,
  encodeHeader,
  formatIsid,
  LoginStage,
  LoginStatus,
  loginStatusCode,
  loginStatusName,
  opcodeName,
  rejectReasonName,
  type Pdu,
} from '../../../protocol/pdu/index.js';

describe('login', () => {
  it('names every status of RFC 7143 §11.13.5 by class and detail', () => {
    expect(Object.keys(LoginStatus)).toHaveLength(18);
    expect(loginStatusName(1, 1)).toBe('TargetMovedTemporarily');
    expect(loginStatusName(2, 0x0b)).toBe('InvalidDuringLogin');
    expect(loginStatusName(3, 2)).toBe('OutOfResources');
    expect(loginStatusName(2, 0x0c)).toBe('Unknown(0x020c)');
    expect(loginStatusCode(2, 1)).toBe(LoginStatus.AuthenticationFailure);
  });

  it('always sets the I bit of a Login Request and keeps the stages', () => {
    const pdu: Pdu = {
      kind: 'login-request',
      transit: true,
      continue: false,
      currentStage: LoginStage.SecurityNegotiation,
      nextStage: LoginStage.LoginOperationalNegotiation,
      versionMax: 0,
      versionMin: 0,
      isid: { type: 2, a: 0, b: 0x1234, c: 0x56, d: 0x789a },
      tsih: 0,
      itt: 0,
      cid: 0,
      cmdSN: 0,
      expStatSN: 0,
      data: [],
    };
    const header = encodeHeader(pdu);
    expect(header[0]).toBe(0x43);
    expect(header[1]).toBe(0x81);
    expect(decodePdu(header)).toEqual(pdu);
    expect(formatIsid(pdu.isid)).toBe('80123456789a');
  });

  it('names opcodes and reject reasons', () => {
    expect(opcodeName(0x3f)).toBe('Reject');
    expect(opcodeName(0x1c)).toBe('Unknown(0x1c)');
    expect(rejectReasonName(0x02)).toBe('DataDigestError');
    expect(rejectReasonName(0x42)).toBe('Unknown(0x42)');
  });
});
