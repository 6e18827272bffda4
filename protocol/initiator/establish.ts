/**
 * Opening a connection and logging in on it: connect through the Datamover connector, drive the login machine over
 * the connection's PDUs under a timeout, and follow redirections (RFC 7143 §11.13.5 class 1) to another portal.
 */
import type { SchedulerLike } from 'rxjs';
import type { DatamoverConnector, PortalAddress } from '../datamover.js';
import {
  InitiatorLogin,
  type InitiatorLoginAction,
  type InitiatorLoginConfig,
  type InitiatorLoginResult,
  type LoginRedirect,
} from '../login/initiator-login.js';
import { ConnectionLink } from './connection-link.js';
import { publish, publishedError } from './diagnostics.js';
import { InitiatorError } from './errors.js';
import { ISCSI_DEFAULT_PORT } from './url.js';

/** What {@link establish} needs. */
export interface EstablishOptions {
  /** Opens connections. */
  readonly connector: DatamoverConnector;
  /** Where to connect first. */
  readonly portal: PortalAddress;
  /** The login (its `transport` must be the connector's kind). */
  readonly login: InitiatorLoginConfig;
  /** Runs the login timeout. */
  readonly scheduler: SchedulerLike;
  /** How long one login may take, from connect to the final response. */
  readonly timeoutMs: number;
  /** How many redirections to follow. */
  readonly maxRedirects: number;
}

/** A logged-in connection. */
export interface Established {
  /** The connection, its PDUs held until the session attaches. */
  readonly link: ConnectionLink;
  /** What the login negotiated. */
  readonly result: InitiatorLoginResult;
  /** The portal the login succeeded at (after redirections). */
  readonly portal: PortalAddress;
}

/** How a login ends: the session parameters, or a redirection to follow. */
export type LoginEnd =
  | { readonly type: 'succeeded'; readonly result: InitiatorLoginResult }
  | { readonly type: 'redirected'; readonly redirect: LoginRedirect };

/** Drives one login on `link`; resolves on success or redirection, rejects with the LoginError or a timeout. */
export function runLogin(
  link: ConnectionLink,
  config: InitiatorLoginConfig,
  scheduler: SchedulerLike,
  timeoutMs: number,
): Promise<LoginEnd> {
  return new Promise<LoginEnd>((resolve, reject) => {
    let done = false;
    const finish = (settle: () => void): void => {
      if (done) return;
      done = true;
      timer.unsubscribe();
      link.attach(undefined);
      settle();
    };
    const timer = scheduler.schedule(() => {
      finish(() => {
        reject(new InitiatorError('ERR_INITIATOR_LOGIN_TIMEOUT', `the login did not finish within ${timeoutMs} ms`));
      });
    }, timeoutMs);
    let machine: InitiatorLogin;
    try {
      machine = new InitiatorLogin(config);
    } catch (err) {
      finish(() => {
        reject(err instanceof Error ? err : new Error(String(err)));
      });
      return;
    }
    const handle = (actions: readonly InitiatorLoginAction[]): void => {
      for (const action of actions) {
        if (done) return;
        switch (action.type) {
          case 'send':
            try {
              link.connection.sendControl(action.pdu);
            } catch (err) {
              finish(() => {
                reject(
                  new InitiatorError('ERR_INITIATOR_CONNECTION_CLOSED', 'the connection failed during login', {
                    cause: err,
                  }),
                );
              });
            }
            break;
          case 'succeeded':
            finish(() => {
              resolve({ type: 'succeeded', result: action.result });
            });
            break;
          case 'redirected':
            finish(() => {
              resolve({ type: 'redirected', redirect: action.redirect });
            });
            break;
          case 'failed':
            finish(() => {
              reject(action.error);
            });
            break;
        }
      }
    };
    link.attach({
      pdu: (pdu) => {
        if (!done) handle(machine.receive(pdu));
      },
      ended: (error) => {
        finish(() => {
          reject(
            new InitiatorError(
              'ERR_INITIATOR_CONNECTION_CLOSED',
              `the connection ended during login: ${error.message}`,
              {
                cause: error,
              },
            ),
          );
        });
      },
    });
    handle(machine.start());
  });
}

/** Connects and logs in, following redirections. The caller owns the returned link. */
export async function establish(options: EstablishOptions): Promise<Established> {
  let portal = options.portal;
  const targetName = options.login.targetName;
  const sessionType = options.login.sessionType ?? 'Normal';
  for (let redirects = 0; ; redirects++) {
    publish({ type: 'login', phase: 'start', host: portal.host, port: portal.port, targetName, sessionType });
    let link: ConnectionLink | undefined;
    try {
      link = new ConnectionLink(await options.connector.connect(portal));
      const end = await runLogin(link, options.login, options.scheduler, options.timeoutMs);
      if (end.type === 'succeeded') {
        publish({ type: 'login', phase: 'succeeded', host: portal.host, port: portal.port, targetName, sessionType });
        return { link, result: end.result, portal };
      }
      publish({ type: 'login', phase: 'redirected', host: portal.host, port: portal.port, targetName, sessionType });
      await link.close();
      if (redirects >= options.maxRedirects) {
        throw new InitiatorError(
          'ERR_INITIATOR_TOO_MANY_REDIRECTS',
          `the target redirected the login more than ${options.maxRedirects} times`,
        );
      }
      portal = { host: end.redirect.address.host, port: end.redirect.address.port ?? ISCSI_DEFAULT_PORT };
    } catch (err) {
      await link?.close();
      publish({
        type: 'login',
        phase: 'failed',
        host: portal.host,
        port: portal.port,
        targetName,
        sessionType,
        error: publishedError(err),
      });
      throw err;
    }
  }
}
