import { describe, expect, it } from 'vitest';
import { IserError, isIserError } from '../../protocol/errors.js';

describe('IserError', () => {
  it('carries a stable code, a readable message and the cause', () => {
    const cause = new Error('inner');
    const err = new IserError('ERR_EXAMPLE', 'what went wrong', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('ERR_EXAMPLE');
    expect(err.message).toBe('what went wrong');
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('IserError');
    expect(isIserError(err, 'ERR_EXAMPLE')).toBe(true);
    expect(isIserError(err, 'ERR_OTHER')).toBe(false);
    expect(isIserError(new Error('x'))).toBe(false);
  });

  it('names subclasses after themselves', () => {
    class PduError extends IserError<'ERR_PDU'> {}
    expect(new PduError('ERR_PDU', 'bad').name).toBe('PduError');
  });
});
