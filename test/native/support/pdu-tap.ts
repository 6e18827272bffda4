/**
 * A connector that lets a test see the control PDUs of its connections: what the core sends (`sendControl`,
 * `sendCommand`) and what it receives (`pdus`). Against a kernel target this is the only view of the wire the
 * initiator side has (rxe carries RoCE inside UDP, and the Verbs payloads are not ours to decode here).
 */
import { tap } from 'rxjs';
import type {
  DatamoverConnection,
  DatamoverConnector,
  InitiatorTaskBuffers,
  PortalAddress,
} from '../../../protocol/datamover.js';
import type { Pdu } from '../../../protocol/pdu/index.js';

/** One tapped PDU. */
export interface TappedPdu {
  readonly direction: 'sent' | 'received';
  readonly pdu: Pdu;
}

/** Wraps `inner`; every PDU of every connection it opens is appended to `log`. */
export function tappingConnector(inner: DatamoverConnector, log: TappedPdu[]): DatamoverConnector {
  return {
    kind: inner.kind,
    connect: async (portal: PortalAddress): Promise<DatamoverConnection> => tapped(await inner.connect(portal), log),
  };
}

function tapped(c: DatamoverConnection, log: TappedPdu[]): DatamoverConnection {
  const pdus = c.pdus.pipe(
    tap((pdu) => {
      log.push({ direction: 'received', pdu });
    }),
  );
  return {
    kind: c.kind,
    local: c.local,
    remote: c.remote,
    pdus,
    sendControl: (pdu) => {
      log.push({ direction: 'sent', pdu });
      c.sendControl(pdu);
    },
    sendCommand: (pdu, buffers: InitiatorTaskBuffers) => {
      log.push({ direction: 'sent', pdu });
      c.sendCommand(pdu, buffers);
    },
    putData: (task, offset, data) => c.putData(task, offset, data),
    getData: (task, offset, length) => c.getData(task, offset, length),
    taskDone: (itt) => {
      c.taskDone(itt);
    },
    enable: (params, sequence) => {
      c.enable(params, sequence);
    },
    close: () => c.close(),
  };
}
