/**
 * Structured logs of a running target: one JSON line per event (pino), through a child logger per connection
 * (`conn`, `remote`, `transport`) and per session (`tsih`, `isid`, `initiator`, `target`), so every line about a
 * session or connection carries its ids. Errors are logged with their stable code.
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from '../../config/target-config.js';
import { isIserError } from '../../protocol/errors.js';
import type { PortalAddress } from '../../protocol/datamover.js';
import type { ConnectionClosedEvent, TargetServerEvent } from '../iscsi-target.js';

/** Creates the logger: each JSON line (without its newline) handed to `write`, ISO times. */
export function createTargetLogger(level: LogLevel, write: (line: string) => void): Logger {
  return pino(
    { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    {
      write: (line: string) => {
        write(line.endsWith('\n') ? line.slice(0, -1) : line);
      },
    },
  );
}

/** An error as log fields: its stable code (when it has one), message, and its cause's code when that has one. */
export function errorFields(
  error: unknown,
): { readonly code?: string; readonly message: string; readonly cause?: string } | undefined {
  if (error === undefined) return undefined;
  if (isIserError(error)) {
    const cause = isIserError(error.cause) ? error.cause.code : undefined;
    return { code: error.code, message: error.message, ...(cause === undefined ? {} : { cause }) };
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? { code, message: error.message } : { message: error.message };
  }
  return { message: typeof error === 'string' ? error : 'non-Error value' };
}

function text(address: PortalAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Turns server events into log lines, keeping a child logger per live connection and session. */
export class TargetEventLog {
  readonly #log: Logger;
  readonly #connections = new Map<number, Logger>();
  readonly #sessions = new Map<number, Logger>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /** A server event. */
  event(event: TargetServerEvent): void {
    switch (event.kind) {
      case 'listening':
        this.#log.info(
          { event: 'portal-open', portal: text(event.address), portalGroupTag: event.portalGroupTag },
          'portal open',
        );
        return;
      case 'connection': {
        const conn = this.#log.child({ conn: event.id, remote: text(event.remote), transport: event.transport });
        this.#connections.set(event.id, conn);
        conn.info({ event: 'connection-open', local: text(event.local) }, 'connection open');
        return;
      }
      case 'login-failed':
        this.#connection(event.id).warn(
          { event: 'login-failed', error: errorFields(event.error) },
          `login failed${event.error === undefined ? '' : `: ${event.error.message}`}`,
        );
        return;
      case 'session-started': {
        const session = this.#connection(event.id).child({
          tsih: event.tsih,
          isid: event.isid,
          initiator: event.initiatorName,
          target: event.targetName ?? null,
        });
        this.#sessions.set(event.tsih, session);
        session.info(
          {
            event: 'session-login',
            cid: event.cid,
            sessionType: event.sessionType,
            ...(event.reinstated === undefined ? {} : { reinstated: event.reinstated }),
          },
          'session logged in',
        );
        return;
      }
      case 'connection-joined':
        this.#session(event.tsih).info(
          { event: 'connection-login', conn: event.id, cid: event.cid, replaced: event.replaced },
          'connection joined the session',
        );
        return;
      case 'session-ended': {
        const session = this.#session(event.tsih);
        this.#sessions.delete(event.tsih);
        const loggedOut = event.reason.code === 'ERR_TARGET_SESSION_LOGGED_OUT';
        session.info(
          { event: loggedOut ? 'session-logout' : 'session-ended', error: errorFields(event.reason) },
          loggedOut ? 'session logged out' : `session ended: ${event.reason.message}`,
        );
        return;
      }
      case 'session-event': {
        const { kind, ...fields } = event.event;
        const session = this.#session(event.tsih);
        if (event.event.kind === 'data-out-failed') {
          session.warn({ event: kind, itt: event.event.itt, error: errorFields(event.event.error) }, 'data-out failed');
        } else if (kind === 'task-management' || kind === 'logout') {
          session.info({ event: kind, ...fields }, kind);
        } else {
          session.warn({ event: kind, ...fields }, kind);
        }
        return;
      }
    }
  }

  /** A closed connection. */
  connectionClosed(event: ConnectionClosedEvent): void {
    const conn = this.#connection(event.id);
    this.#connections.delete(event.id);
    const fields = {
      event: 'connection-close',
      ...(event.cid === undefined ? {} : { cid: event.cid }),
      ...(event.tsih === undefined ? {} : { tsih: event.tsih }),
      ...(event.error === undefined ? {} : { error: errorFields(event.error) }),
    };
    if (event.error === undefined) conn.info(fields, 'connection closed');
    else conn.warn(fields, 'connection failed');
  }

  #connection(id: number): Logger {
    return this.#connections.get(id) ?? this.#log.child({ conn: id });
  }

  #session(tsih: number): Logger {
    return this.#sessions.get(tsih) ?? this.#log.child({ tsih });
  }
}
