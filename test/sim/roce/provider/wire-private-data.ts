/**
 * Test adapter for the Verbs contract, which expects private data back at the length it was sent. On the wire a
 * CM message's private data is a fixed-size area (REQ 56 consumer bytes after rdma_cm's header, REP 196, REJ
 * 148) and rdma_cm hands the whole area to the consumer, as soft-RoCE does. This adapter strips the zero
 * padding the area adds, which gives the contract's data back exactly because none of it ends in a zero byte.
 * Proposed to the contract's owner: compare a prefix and require the rest to be zeros.
 */
import { VerbsError } from '../../../../transports/verbs.js';
import type { ConnectRequest, RdmaConnection, RdmaListener, VerbsProvider } from '../../../../transports/verbs.js';
import { map } from 'rxjs';

/** `data` without its trailing zero bytes. */
export function withoutZeroPadding(data: Buffer): Buffer {
  let end = data.length;
  while (end > 0 && data[end - 1] === 0) end--;
  return data.subarray(0, end);
}

/** A view of `target` where `overrides` replace some properties; methods run on the target itself. */
function overlay<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop))
        return (overrides as Record<PropertyKey, unknown>)[prop];
      const value: unknown = Reflect.get(t, prop, t);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(t) : value;
    },
  });
}

function connection(c: RdmaConnection): RdmaConnection {
  return overlay(c, { peerPrivateData: withoutZeroPadding(c.peerPrivateData) });
}

function request(r: ConnectRequest): ConnectRequest {
  return overlay(r, {
    privateData: withoutZeroPadding(r.privateData),
    accept: async (options) => connection(await r.accept(options)),
  });
}

function listener(l: RdmaListener): RdmaListener {
  return overlay(l, { connectRequests: l.connectRequests.pipe(map(request)) });
}

/** `provider` with the zero padding of private data stripped, for the contract. */
export function contractView(provider: VerbsProvider): VerbsProvider {
  return overlay(provider, {
    listen: async (address) => listener(await provider.listen(address)),
    connect: async (address, options) => {
      try {
        return connection(await provider.connect(address, options));
      } catch (error) {
        if (error instanceof VerbsError && error.privateData !== undefined) {
          throw new VerbsError(error.code, error.message, {
            ...(error.errno === undefined ? {} : { errno: error.errno }),
            privateData: withoutZeroPadding(error.privateData),
            cause: error,
          });
        }
        throw error;
      }
    },
  });
}
