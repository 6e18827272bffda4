/**
 * A Verbs provider wrapper that records what the iSER transport asks of the provider: connect/accept options
 * (private data, QP sizes), every posted send with the bytes it gathers (read at post time), every posted receive's
 * capacity, every memory registration's length, and when each connection's completion stream completed. The wrapped objects forward everything else.
 */
import { map, tap as peek } from 'rxjs';
import type {
  AcceptOptions,
  ConnectOptions,
  ConnectRequest,
  RdmaConnection,
  RdmaListener,
  RecvWorkRequest,
  SendWorkRequest,
  Sge,
  VerbsProvider,
} from '../../../transports/verbs.js';

/** Which provider a record comes from. */
export type Side = 'initiator' | 'target';

/** A posted send as the tap saw it. */
export interface TappedSend {
  readonly side: Side;
  readonly wr: SendWorkRequest;
  /** The bytes the SGEs gather (a copy, taken at post time). */
  readonly bytes: Buffer;
}

/** Everything recorded. */
export class VerbsTap {
  readonly sends: TappedSend[] = [];
  readonly receives: { readonly side: Side; readonly capacity: number }[] = [];
  /** Bytes of every buffer registered through a connection's PD, in order. */
  readonly registrations: { readonly side: Side; readonly length: number }[] = [];
  readonly connectOptions: ConnectOptions[] = [];
  readonly acceptOptions: AcceptOptions[] = [];
  /**
   * Everything in order: `initiator:recv:8268`, `target:SEND:81`, `initiator:disconnect`, `initiator:drained`…
   * Tests may push their own markers.
   */
  readonly log: string[] = [];

  /** Wraps `provider`, recording under `side`. */
  provider(provider: VerbsProvider, side: Side): VerbsProvider {
    return {
      name: provider.name,
      caps: provider.caps,
      listen: async (address) => this.listener(await provider.listen(address), side),
      connect: async (address, options) => {
        this.connectOptions.push(options);
        return this.connection(await provider.connect(address, options), side);
      },
    };
  }

  /** Sends of one side that carry an iSER header (SEND / SEND_WITH_INV). */
  sendsOf(side: Side): TappedSend[] {
    return this.sends.filter((s) => s.side === side && (s.wr.opcode === 'SEND' || s.wr.opcode === 'SEND_WITH_INV'));
  }

  private listener(listener: RdmaListener, side: Side): RdmaListener {
    return {
      address: listener.address,
      close: () => listener.close(),
      connectRequests: listener.connectRequests.pipe(map((request) => this.request(request, side))),
    };
  }

  private request(request: ConnectRequest, side: Side): ConnectRequest {
    return {
      remote: request.remote,
      local: request.local,
      privateData: request.privateData,
      initiatorDepth: request.initiatorDepth,
      responderResources: request.responderResources,
      accept: async (options) => {
        this.acceptOptions.push(options);
        return this.connection(await request.accept(options), side);
      },
      reject: (privateData) => request.reject(privateData),
    };
  }

  private connection(connection: RdmaConnection, side: Side): RdmaConnection {
    const { sends, receives, registrations, log } = this;
    const pd = connection.pd;
    return {
      local: connection.local,
      remote: connection.remote,
      peerPrivateData: connection.peerPrivateData,
      pd: {
        register: (buffer, access, options) => {
          registrations.push({ side, length: buffer.length });
          return pd.register(buffer, access, options);
        },
      },
      get state() {
        return connection.state;
      },
      completions: connection.completions.pipe(
        peek({
          complete: () => {
            log.push(`${side}:drained`);
          },
        }),
      ),
      events: connection.events,
      postSend: (wrs: readonly SendWorkRequest[]) => {
        for (const wr of wrs) {
          const bytes = gather(wr.sgl);
          sends.push({ side, wr, bytes });
          log.push(`${side}:${wr.opcode}:${bytes.length}`);
        }
        connection.postSend(wrs);
      },
      postRecv: (wrs: readonly RecvWorkRequest[]) => {
        for (const wr of wrs) {
          const capacity = wr.sgl.reduce((n, sge) => n + sge.length, 0);
          receives.push({ side, capacity });
          log.push(`${side}:recv:${capacity}`);
        }
        connection.postRecv(wrs);
      },
      disconnect: async () => {
        log.push(`${side}:disconnect`);
        await connection.disconnect();
        log.push(`${side}:disconnected`);
      },
    };
  }
}

function gather(sgl: readonly Sge[]): Buffer {
  return Buffer.concat(sgl.map((sge) => Buffer.from(sge.mr.buffer.subarray(sge.offset, sge.offset + sge.length))));
}
