/**
 * A tap on the Datamover: wraps a connector so that every connection it opens records, into the current
 * {@link Exchange}, each PDU our initiator's core sends (`sendControl`, `sendCommand`) and receives (`pdus`), and the
 * parameters it enables. It sees the same PDUs on every transport (over TCP the transport consumes Data-In, R2T
 * and Data-Out: the wire recorder shows those).
 */
import { tap as tapOperator, type SchedulerLike } from 'rxjs';
import type {
  DatamoverConnection,
  DatamoverConnector,
  InitiatorTaskBuffers,
  PortalAddress,
  SequenceSource,
} from '../../protocol/datamover.js';
import type { Pdu } from '../../protocol/pdu/pdu.js';
import type { ScsiCommandPdu } from '../../protocol/pdu/scsi-command.js';
import type { NegotiatedParams } from '../../protocol/text/params.js';
import type { Exchange } from './exchange.js';

/** Where a tap writes: the exchange of the run in progress (looked up per PDU, so one connector spans runs). */
export type ExchangeSource = () => Exchange | undefined;

/** A connector whose connections record into `exchange()`. */
export function tapConnector(
  connector: DatamoverConnector,
  exchange: ExchangeSource,
  scheduler: SchedulerLike,
): DatamoverConnector {
  return {
    kind: connector.kind,
    async connect(portal: PortalAddress): Promise<DatamoverConnection> {
      const inner = await connector.connect(portal);
      return tapConnection(inner, exchange, scheduler);
    },
  };
}

/** A connection that records what passes through it. */
export function tapConnection(
  inner: DatamoverConnection,
  exchange: ExchangeSource,
  scheduler: SchedulerLike,
): DatamoverConnection {
  const owner = exchange();
  const number = owner?.openConnection() ?? 0;
  // Only the exchange the connection was opened in records it: a late PDU never lands in a later run's exchange.
  const record = (direction: 'out' | 'in', pdu: Pdu): void => {
    if (owner !== undefined && exchange() === owner) owner.core(number, direction, pdu, scheduler.now());
  };
  return {
    kind: inner.kind,
    local: inner.local,
    remote: inner.remote,
    pdus: inner.pdus.pipe(
      tapOperator((pdu) => {
        record('in', pdu);
      }),
    ),
    sendControl(pdu: Pdu): void {
      record('out', pdu);
      inner.sendControl(pdu);
    },
    sendCommand(pdu: ScsiCommandPdu, buffers: InitiatorTaskBuffers): void {
      record('out', pdu);
      inner.sendCommand(pdu, buffers);
    },
    putData: (task, offset, data) => inner.putData(task, offset, data),
    getData: (task, offset, length) => inner.getData(task, offset, length),
    taskDone(itt: number): void {
      inner.taskDone(itt);
    },
    enable(params: NegotiatedParams, sequence: SequenceSource): void {
      owner?.enabled(number, params);
      inner.enable(params, sequence);
    },
    close: () => inner.close(),
  };
}
