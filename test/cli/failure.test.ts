/**
 * describeFailure's classification of typed errors into exit codes: every connection-phase code of the initiator
 * API is a connection failure (exit 2), not an internal error (70), which the daemon's -A/-M reported when a
 * target closed the connection during login.
 */
import { describe, expect, it } from 'vitest';
import { describeFailure } from '../../cli/failure.js';
import { ExitCode } from '../../cli/exit-codes.js';
import { InitiatorError, type InitiatorErrorCode } from '../../protocol/initiator/errors.js';
import { InitiatorSessionError } from '../../protocol/session/initiator-errors.js';

describe('describeFailure', () => {
  it.each<InitiatorErrorCode>([
    'ERR_INITIATOR_CONNECTION_CLOSED',
    'ERR_INITIATOR_LOGIN_TIMEOUT',
    'ERR_INITIATOR_TOO_MANY_REDIRECTS',
  ])('%s is a connection failure (exit 2) naming its code', (code) => {
    const failure = describeFailure(new InitiatorError(code, 'the target closed the connection'));
    expect(failure.exitCode).toBe(ExitCode.Connection);
    expect(failure.message).toBe(`the target closed the connection (${code})`);
  });

  it('a session error is a connection failure too', () => {
    const failure = describeFailure(new InitiatorSessionError('ERR_SESSION_RECOVERY_TIMEOUT', 'gave up'));
    expect(failure.exitCode).toBe(ExitCode.Connection);
  });

  it('usage codes of the initiator API stay usage errors', () => {
    expect(describeFailure(new InitiatorError('ERR_INITIATOR_BAD_URL', 'bad')).exitCode).toBe(ExitCode.Usage);
  });

  it('a code that only starts like a connection code is not one', () => {
    const failure = describeFailure(new InitiatorError('ERR_INITIATOR_LOGIN_TIMEOUTS' as InitiatorErrorCode, 'x'));
    expect(failure.exitCode).toBe(ExitCode.Internal);
  });
});
