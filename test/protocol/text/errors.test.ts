import { describe, expect, it } from 'vitest';
import { IserError } from '../../../protocol/errors.js';
import { TEXT_REJECT_PROTOCOL_ERROR, TextError, TextLoginStatus } from '../../../protocol/text/errors.js';

describe('TextError', () => {
  it('is an IserError carrying its code, key, login status and Reject reason', () => {
    const error = new TextError('ERR_TEXT_RENEGOTIATION', 'MaxBurstLength twice', { key: 'MaxBurstLength' });
    expect(error).toBeInstanceOf(IserError);
    expect(error.name).toBe('TextError');
    expect(error.code).toBe('ERR_TEXT_RENEGOTIATION');
    expect(error.key).toBe('MaxBurstLength');
    expect(error.loginStatus).toEqual(TextLoginStatus.InitiatorError);
    expect(error.rejectReason).toBe(TEXT_REJECT_PROTOCOL_ERROR);
  });

  it('maps a missing key to 0x0207 and an oversized text to 0x0302 (RFC 7143 §11.13.5)', () => {
    expect(new TextError('ERR_TEXT_MISSING_PARAMETER', 'x').loginStatus).toEqual({ statusClass: 2, statusDetail: 7 });
    expect(new TextError('ERR_TEXT_TOO_LONG', 'x').loginStatus).toEqual({ statusClass: 3, statusDetail: 2 });
  });
});
