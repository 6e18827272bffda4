/**
 * One subscription to a connection's inbound PDUs for its whole life, handed from the login machine to the session
 * machine without losing a PDU in between: while no handler is attached, PDUs wait (bounded) in order.
 */
import type { Subscription } from 'rxjs';
import type { DatamoverConnection } from '../datamover.js';
import type { Pdu } from '../pdu/pdu.js';
import { InitiatorError } from './errors.js';

/** Where a link's traffic goes. */
export interface LinkHandler {
  /** One inbound PDU. */
  pdu(pdu: Pdu): void;
  /** The connection failed or closed (`error` says why). */
  ended(error: Error): void;
}

/** Most PDUs held while no handler is attached (a login result is being acted on). */
const MAX_HELD_PDUS = 1024;

/** A connection plus its inbound routing. */
export class ConnectionLink {
  readonly connection: DatamoverConnection;
  #handler: LinkHandler | undefined;
  readonly #held: Pdu[] = [];
  #ended: Error | undefined;
  #closed = false;
  readonly #subscription: Subscription;

  /** Subscribes to `connection.pdus` at once. */
  constructor(connection: DatamoverConnection) {
    this.connection = connection;
    this.#subscription = connection.pdus.subscribe({
      next: (pdu) => {
        this.#deliver(pdu);
      },
      error: (err: unknown) => {
        this.#end(
          err instanceof Error
            ? err
            : new InitiatorError('ERR_INITIATOR_CONNECTION_CLOSED', `the connection failed: ${String(err)}`),
        );
      },
      complete: () => {
        this.#end(new InitiatorError('ERR_INITIATOR_CONNECTION_CLOSED', 'the target closed the connection'));
      },
    });
  }

  /** True once the connection ended or was closed. */
  get closed(): boolean {
    return this.#closed || this.#ended !== undefined;
  }

  /** Routes traffic to `handler` (undefined: hold it); held PDUs and a held end are delivered at once, in order. */
  attach(handler: LinkHandler | undefined): void {
    this.#handler = handler;
    if (handler === undefined) return;
    while (this.#held.length > 0 && this.#handler === handler) {
      handler.pdu(this.#held.shift() as Pdu);
    }
    if (this.#ended !== undefined && this.#handler === handler && this.#held.length === 0) handler.ended(this.#ended);
  }

  /** Stops routing and closes the connection. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#handler = undefined;
    this.#held.length = 0;
    this.#subscription.unsubscribe();
    return this.connection.close().catch(() => undefined);
  }

  #deliver(pdu: Pdu): void {
    if (this.#closed) return;
    const handler = this.#handler;
    if (handler !== undefined && this.#held.length === 0) {
      handler.pdu(pdu);
      return;
    }
    if (this.#held.length >= MAX_HELD_PDUS) {
      this.#end(new InitiatorError('ERR_INITIATOR_CONNECTION_CLOSED', 'too many PDUs arrived while none was expected'));
      void this.connection.close().catch(() => undefined);
      return;
    }
    this.#held.push(pdu);
  }

  #end(error: Error): void {
    if (this.#closed || this.#ended !== undefined) return;
    this.#ended = error;
    const handler = this.#handler;
    if (handler !== undefined && this.#held.length === 0) handler.ended(error);
  }
}
