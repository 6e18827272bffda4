/**
 * Test helpers for fabric-specific tests: connect two providers of a {@link SimEnv} and log both sides.
 */
import type { ConnectionEvent, QpCapabilities, WorkCompletion } from '../../../transports/verbs.js';
import type { AcceptOptions, ConnectOptions, ConnectRequest } from '../../../transports/verbs.js';
import type { SimQueuePair } from '../../../sim/fabric/queue-pair.js';
import type { SimVerbsProvider } from '../../../sim/fabric/provider.js';
import { Collector } from '../../support/verbs-contract.js';
import type { SimEnv } from './sim-env.js';

/** Queue sizes the fabric tests use unless they say otherwise. */
export const QP: QpCapabilities = { maxSendWr: 256, maxRecvWr: 256, maxSendSge: 8, maxRecvSge: 8 };

/** A connected pair and the logs of both sides. */
export interface SimPair {
  readonly client: SimQueuePair;
  readonly server: SimQueuePair;
  readonly request: ConnectRequest;
  readonly clientWc: Collector<WorkCompletion>;
  readonly serverWc: Collector<WorkCompletion>;
  readonly clientEvents: Collector<ConnectionEvent>;
  readonly serverEvents: Collector<ConnectionEvent>;
}

/** Connects `from` (default a) to `to` (default b) through a fresh listener, accepting. */
export async function connectPair(
  env: SimEnv,
  options: {
    connect?: Partial<ConnectOptions>;
    accept?: Partial<AcceptOptions>;
    from?: SimVerbsProvider;
    to?: SimVerbsProvider;
  } = {},
): Promise<SimPair> {
  const from = options.from ?? env.a;
  const to = options.to ?? env.b;
  const listener = await to.listen({ host: to.host, port: 0 });
  let request: ConnectRequest | undefined;
  const accepted = new Promise<SimQueuePair>((resolve, reject) => {
    listener.connectRequests.subscribe((req) => {
      request = req;
      req.accept({ qp: QP, ...options.accept }).then(resolve, reject);
    });
  });
  const connecting = from.connect({ host: to.host, port: listener.address.port }, { qp: QP, ...options.connect });
  const [client, server] = await env.run(Promise.all([connecting, accepted]));
  if (request === undefined) throw new Error('accepted without a request');
  return {
    client,
    server,
    request,
    clientWc: new Collector(client.completions),
    serverWc: new Collector(server.completions),
    clientEvents: new Collector(client.events),
    serverEvents: new Collector(server.events),
  };
}

/** Deterministic bytes, different per salt. */
export function pattern(size: number, salt: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 11 + salt * 29 + (i >>> 8) * 5 + 3) & 0xff;
  return buffer;
}

/** [wrId, status] of each completion. */
export function statuses(wcs: readonly WorkCompletion[]): [number, string][] {
  return wcs.map((wc) => [wc.wrId, wc.status]);
}
