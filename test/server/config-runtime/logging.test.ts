/** TargetEventLog: one JSON line per event, through child loggers that carry the connection's and session's ids. */
import { describe, expect, it } from 'vitest';
import { TargetSessionError } from '../../../protocol/session/target-errors.js';
import { createTargetLogger, TargetEventLog } from '../../../server/config-runtime/logging.js';
import { TargetServerError } from '../../../server/errors.js';

const REMOTE = { host: '127.0.0.1', port: 40000 };
const LOCAL = { host: '127.0.0.1', port: 3260 };

function setUp(level: 'info' | 'warn' = 'info') {
  const lines: string[] = [];
  const log = new TargetEventLog(createTargetLogger(level, (line) => lines.push(line)));
  const entries = (): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, entries };
}

describe('TargetEventLog', () => {
  it('logs a session from connection to logout with its ids on every line', () => {
    const { log, lines, entries } = setUp();
    log.event({ kind: 'connection', id: 7, transport: 'iser', portalGroupTag: 1, remote: REMOTE, local: LOCAL });
    log.event({
      kind: 'session-started',
      id: 7,
      cid: 3,
      isid: '80aabbccdd01',
      tsih: 12,
      initiatorName: 'iqn.2024-01.org.example:i',
      targetName: 'iqn.2024-01.org.example:t',
      sessionType: 'Normal',
      reinstated: undefined,
    });
    log.event({ kind: 'session-event', tsih: 12, event: { kind: 'task-aborted', itt: 4, lun: 0, by: 'reset' } });
    log.event({
      kind: 'session-ended',
      tsih: 12,
      reason: new TargetSessionError('ERR_TARGET_SESSION_LOGGED_OUT', 'the initiator logged out the session'),
    });
    log.connectionClosed({ id: 7, remote: REMOTE, tsih: 12, cid: 3, error: undefined });
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);
    const [open, login, aborted, logout, closed] = entries();
    const conn = { conn: 7, remote: '127.0.0.1:40000', transport: 'iser' };
    const session = { ...conn, tsih: 12, isid: '80aabbccdd01', initiator: 'iqn.2024-01.org.example:i' };
    expect(open).toMatchObject({ ...conn, event: 'connection-open', local: '127.0.0.1:3260', level: 30 });
    expect(login).toMatchObject({ ...session, event: 'session-login', cid: 3, target: 'iqn.2024-01.org.example:t' });
    expect(aborted).toMatchObject({ ...session, event: 'task-aborted', itt: 4, level: 40 });
    expect(logout).toMatchObject({
      ...session,
      event: 'session-logout',
      error: { code: 'ERR_TARGET_SESSION_LOGGED_OUT' },
    });
    expect(closed).toMatchObject({ ...conn, event: 'connection-close', cid: 3, tsih: 12 });
  });

  it('logs failures with their codes, and honours the level', () => {
    const { log, entries } = setUp('warn');
    log.event({ kind: 'connection', id: 1, transport: 'tcp', portalGroupTag: 1, remote: REMOTE, local: LOCAL });
    log.event({
      kind: 'login-failed',
      id: 1,
      remote: REMOTE,
      error: new TargetServerError('ERR_SERVER_LOGIN_TIMEOUT', 'the login did not finish in time'),
    });
    log.connectionClosed({ id: 1, remote: REMOTE, tsih: undefined, cid: undefined, error: new Error('reset') });
    // The connection-open line is info: below warn, not written; the child logger still carries the ids.
    expect(entries()).toEqual([
      expect.objectContaining({
        conn: 1,
        event: 'login-failed',
        error: { code: 'ERR_SERVER_LOGIN_TIMEOUT', message: 'the login did not finish in time' },
      }),
      expect.objectContaining({ conn: 1, event: 'connection-close', error: { message: 'reset' } }),
    ]);
  });
});
