/**
 * A host on the fabric: a name (an IP address string), its device's memory key table, its listeners by port,
 * and deterministic ephemeral ports.
 */
import type { ListenerSink } from './cm-messages.js';
import { MemoryKeyTable } from './memory-region.js';
import type { RandomSource } from './random.js';

/** First ephemeral port, as Linux's default `ip_local_port_range` (rdma_cm draws from it too). */
const FIRST_EPHEMERAL_PORT = 32768;

/** A host of the fabric. */
export class HostState {
  readonly name: string;
  readonly keys: MemoryKeyTable;
  readonly listeners = new Map<number, ListenerSink>();
  #nextPort = FIRST_EPHEMERAL_PORT;

  constructor(name: string, random: RandomSource) {
    this.name = name;
    this.keys = new MemoryKeyTable(random);
  }

  /** A port nobody listens on, for `listen(port 0)` and for active ends. */
  allocatePort(): number {
    for (;;) {
      const port = this.#nextPort;
      this.#nextPort = port >= 60999 ? FIRST_EPHEMERAL_PORT : port + 1;
      if (!this.listeners.has(port)) return port;
    }
  }
}
