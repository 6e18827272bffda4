/**
 * A raw connection for properties that must send what our initiator never would (a CmdSN outside the window, a
 * key value out of range), the way libiscsi's test-tool does: PDUs built by hand from protocol/pdu, sent through
 * the transport's Datamover, every inbound PDU kept and awaited with a bound.
 */
import type { SchedulerLike } from 'rxjs';
import type { DatamoverConnection, InitiatorTaskBuffers } from '../../protocol/datamover.js';
import type { Pdu, PduKind, PduOf } from '../../protocol/pdu/pdu.js';
import type { ScsiCommandPdu } from '../../protocol/pdu/scsi-command.js';
import { ConformanceError } from '../errors.js';

/** Where a raw connection's inbound traffic goes. */
export interface RawHandler {
  pdu(pdu: Pdu): void;
  ended(error: Error): void;
}

/** A connection driven PDU by PDU. */
export class RawConnection {
  readonly connection: DatamoverConnection;
  /** Every PDU received so far, in order. */
  readonly received: Pdu[] = [];
  #ended: Error | undefined;
  readonly #waiters = new Set<() => void>();
  readonly #close: () => Promise<void>;

  /**
   * `attach` routes the connection's inbound PDUs and its end to the handler it is given (a fresh connection's
   * `pdus`, or a logged-in link); `close` ends it.
   */
  constructor(
    connection: DatamoverConnection,
    private readonly scheduler: SchedulerLike,
    attach: (handler: RawHandler) => void,
    close: () => Promise<void>,
  ) {
    this.connection = connection;
    this.#close = close;
    attach({
      pdu: (pdu) => {
        this.received.push(pdu);
        this.#wake();
      },
      ended: (error) => {
        this.#ended = error;
        this.#wake();
      },
    });
  }

  /** A raw connection over a fresh (login phase) connection. */
  static fresh(connection: DatamoverConnection, scheduler: SchedulerLike): RawConnection {
    let subscription: { unsubscribe(): void } | undefined;
    return new RawConnection(
      connection,
      scheduler,
      (handler) => {
        subscription = connection.pdus.subscribe({
          next: (pdu) => {
            handler.pdu(pdu);
          },
          error: (err: unknown) => {
            handler.ended(err instanceof Error ? err : new Error(String(err)));
          },
          complete: () => {
            handler.ended(new ConformanceError('ERR_CONFORMANCE_TARGET', 'the target closed the connection'));
          },
        });
      },
      async () => {
        subscription?.unsubscribe();
        await connection.close().catch(() => undefined);
      },
    );
  }

  /** Why the connection ended, if it did. */
  get ended(): Error | undefined {
    return this.#ended;
  }

  /** Sends any PDU but a SCSI Command. */
  send(pdu: Pdu): void {
    this.connection.sendControl(pdu);
  }

  /** Sends a SCSI Command with its buffers. */
  sendCommand(
    pdu: ScsiCommandPdu,
    buffers: InitiatorTaskBuffers = { immediateLength: 0, unsolicitedDataOutLength: 0 },
  ): void {
    this.connection.sendCommand(pdu, buffers);
  }

  /**
   * The first PDU received (from index `from` on) of `kind` that `accept` takes, or undefined when none came within
   * `ms` of scheduler time or the connection ended first.
   */
  async next<K extends PduKind>(
    kind: K,
    ms: number,
    accept: (pdu: PduOf<K>) => boolean = () => true,
    from = 0,
  ): Promise<PduOf<K> | undefined> {
    const find = (): PduOf<K> | undefined =>
      this.received.slice(from).find((p): p is PduOf<K> => p.kind === kind && accept(p as PduOf<K>));
    const now = find();
    if (now !== undefined || this.#ended !== undefined) return now;
    return new Promise((resolve) => {
      const check = (): void => {
        const found = find();
        if (found === undefined && this.#ended === undefined) return;
        finish(found);
      };
      const timer = this.scheduler.schedule(() => {
        finish(undefined);
      }, ms);
      const finish = (found: PduOf<K> | undefined): void => {
        timer.unsubscribe();
        this.#waiters.delete(check);
        resolve(found);
      };
      this.#waiters.add(check);
    });
  }

  /** Closes the connection. */
  close(): Promise<void> {
    return this.#close();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
