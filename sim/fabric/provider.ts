/**
 * A host's view of the fabric: the {@link VerbsProvider} that the iSER transport (or a test) is handed.
 */
import { VerbsError } from '../../transports/verbs.js';
import type { ConnectOptions, RdmaAddress, VerbsCapabilities, VerbsProvider } from '../../transports/verbs.js';
import { ActiveAttempt, SimListener } from './cm.js';
import type { SimQueuePair } from './queue-pair.js';
import { checkAddress, rejected } from './cm-options.js';
import type { ConnectionRecord } from './connection.js';
import type { FabricContext } from './context.js';
import type { HostState } from './host.js';

/** Wildcard listen addresses: listen on every address of the host (it has one). */
const ANY_HOST = new Set(['0.0.0.0', '::']);

/** What a provider needs from its fabric besides the shared context. */
export interface ProviderHooks {
  /** The host with this name, if the fabric has it. */
  host(name: string): HostState | undefined;
  /** Starts the record of a new connection attempt (numbering it). */
  newConnection(activeHost: string, passiveHost: string): ConnectionRecord;
}

/** The Verbs provider of one fabric host. */
export class SimVerbsProvider implements VerbsProvider {
  readonly name = 'sim-fabric';
  readonly caps: VerbsCapabilities;
  /** This provider's host (its address on the fabric). */
  readonly host: string;
  readonly #ctx: FabricContext;
  readonly #state: HostState;
  readonly #hooks: ProviderHooks;

  constructor(ctx: FabricContext, state: HostState, hooks: ProviderHooks) {
    this.#ctx = ctx;
    this.#state = state;
    this.#hooks = hooks;
    this.host = state.name;
    this.caps = ctx.caps;
  }

  listen(address: RdmaAddress): Promise<SimListener> {
    try {
      checkAddress(address);
      if (address.host !== this.host && !ANY_HOST.has(address.host)) {
        throw new VerbsError('ERR_VERBS_ADDRESS', `${address.host} is not an address of host ${this.host}`, {
          errno: 'EADDRNOTAVAIL',
        });
      }
      if (this.#state.listeners.has(address.port)) {
        throw new VerbsError('ERR_VERBS_ADDRESS_IN_USE', `${this.host}:${address.port} is already listened on`, {
          errno: 'EADDRINUSE',
        });
      }
      const port = address.port === 0 ? this.#state.allocatePort() : address.port;
      const listener = new SimListener(this.#ctx, this.#state, { host: address.host, port });
      this.#state.listeners.set(port, listener);
      this.#ctx.trace('', 'cm.listen', { host: this.host, port });
      return Promise.resolve(listener);
    } catch (error) {
      return rejected(error);
    }
  }

  connect(address: RdmaAddress, options: ConnectOptions): Promise<SimQueuePair> {
    try {
      checkAddress(address);
    } catch (error) {
      return rejected(error);
    }
    return new Promise((resolve, reject) => {
      const target = this.#hooks.host(address.host);
      const record = this.#hooks.newConnection(this.host, address.host);
      const local = { host: this.host, port: this.#state.allocatePort() };
      const attempt = new ActiveAttempt(this.#ctx, record, this.#state, local, address, options, { resolve, reject });
      attempt.start(target);
    });
  }
}
