/**
 * One accepted connection, from its first Login Request to its close: runs the target login machine on it
 * (bounded in time), then hands it to a session (new, joined or reinstated) and routes its PDUs there.
 */
import type { SchedulerLike, Subscription } from 'rxjs';
import type { DatamoverConnection } from '../protocol/datamover.js';
import {
  TargetLogin,
  type LoginError,
  type TargetLoginAction,
  type TargetLoginConfig,
  type TargetLoginResult,
} from '../protocol/login/index.js';
import type { Pdu } from '../protocol/pdu/index.js';
import { TargetServerError } from './errors.js';
import type { SessionDriver } from './session-driver.js';

/** What the connection asks of the server. */
export interface TargetConnectionHooks {
  /** The login succeeded: find or make the session the connection joins (throws to refuse). */
  readonly sessionFor: (connection: TargetConnection, result: TargetLoginResult) => SessionDriver;
  /** The login failed (already answered with a status) or the connection dropped before it finished. */
  readonly loginFailed: (connection: TargetConnection, error: LoginError | TargetServerError | undefined) => void;
  /** The connection is closed, in whatever phase (`error`: why the transport failed, if it did). */
  readonly closed: (connection: TargetConnection, error: unknown) => void;
}

/** Options of a {@link TargetConnection}. */
export interface TargetConnectionOptions {
  /** The server's id of this connection, for logs (the CID is only known after login). */
  readonly id: number;
  /** The login machine's settings for this portal. */
  readonly login: TargetLoginConfig;
  /** Bound on the whole login, in ms. */
  readonly loginTimeoutMs: number;
  readonly scheduler: SchedulerLike;
  readonly hooks: TargetConnectionHooks;
}

/** A target connection through login and full feature phase. */
export class TargetConnection {
  /** The Datamover connection underneath. */
  readonly transport: DatamoverConnection;
  readonly #options: TargetConnectionOptions;
  readonly #login: TargetLogin;
  #phase: 'login' | 'full-feature' | 'closed' = 'login';
  #driver: SessionDriver | undefined;
  #cid = 0;
  #subscription: Subscription | undefined;
  #loginTimer: Subscription | undefined;

  constructor(transport: DatamoverConnection, options: TargetConnectionOptions) {
    this.transport = transport;
    this.#options = options;
    this.#login = new TargetLogin(options.login);
  }

  /** The server's id of this connection. */
  get id(): number {
    return this.#options.id;
  }

  /** Its CID, once logged in. */
  get cid(): number | undefined {
    return this.#phase === 'login' ? undefined : this.#cid;
  }

  /** The session it belongs to, once logged in. */
  get driver(): SessionDriver | undefined {
    return this.#driver;
  }

  /** Where the connection is. */
  get phase(): 'login' | 'full-feature' | 'closed' {
    return this.#phase;
  }

  /** Starts reading PDUs. */
  start(): void {
    this.#loginTimer = this.#options.scheduler.schedule(() => {
      if (this.#phase !== 'login') return;
      const error = new TargetServerError('ERR_SERVER_LOGIN_TIMEOUT', 'the login did not finish in time');
      this.#options.hooks.loginFailed(this, error);
      void this.close();
    }, this.#options.loginTimeoutMs);
    this.#subscription = this.transport.pdus.subscribe({
      next: (pdu) => {
        this.#receive(pdu);
      },
      error: (err: unknown) => {
        this.#ended(err);
      },
      complete: () => {
        this.#ended(undefined);
      },
    });
  }

  /** Closes the connection (whatever its phase). */
  async close(): Promise<void> {
    if (this.#phase === 'full-feature') this.#driver?.connectionClosed(this.#cid, this.transport);
    this.#finish();
    await this.transport.close().catch(() => undefined);
  }

  #receive(pdu: Pdu): void {
    if (this.#phase === 'full-feature') {
      this.#driver?.receive(this.#cid, this.transport, pdu);
      return;
    }
    if (this.#phase !== 'login') return;
    let actions: TargetLoginAction[];
    try {
      actions = this.#login.receive(pdu);
    } catch {
      // Only a PDU after the login ended can get here; nothing sensible remains but to close.
      this.#options.hooks.loginFailed(this, undefined);
      void this.close();
      return;
    }
    for (const action of actions) {
      switch (action.type) {
        case 'send':
          try {
            this.transport.sendControl(action.pdu);
          } catch {
            void this.close();
            return;
          }
          break;
        case 'succeeded':
          this.#succeeded(action.result);
          break;
        case 'failed':
          this.#options.hooks.loginFailed(this, action.error);
          void this.close();
          return;
        case 'redirected':
          this.#options.hooks.loginFailed(this, undefined);
          void this.close();
          return;
      }
    }
  }

  #succeeded(result: TargetLoginResult): void {
    this.#loginTimer?.unsubscribe();
    let driver: SessionDriver;
    try {
      driver = this.#options.hooks.sessionFor(this, result);
    } catch (err) {
      this.#options.hooks.loginFailed(this, err instanceof TargetServerError ? err : undefined);
      void this.close();
      return;
    }
    this.#driver = driver;
    this.#cid = result.cid;
    this.#phase = 'full-feature';
    // The final Login Response is out: switch the transport to full feature phase (RFC 7143 §6.3).
    driver.attach(result.cid, this.transport, (result.statSN + 1) >>> 0);
  }

  #ended(error: unknown): void {
    if (this.#phase === 'closed') return;
    if (this.#phase === 'login') this.#options.hooks.loginFailed(this, undefined);
    else this.#driver?.connectionClosed(this.#cid, this.transport, error);
    this.#finish(error);
  }

  #finish(error?: unknown): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.#loginTimer?.unsubscribe();
    this.#subscription?.unsubscribe();
    this.#options.hooks.closed(this, error);
  }
}
