/**
 * The network between two hosts, one direction at a time: a propagation latency, a bandwidth that serializes
 * messages (a busy link queues them), and optional seeded jitter. A connection's messages keep their order on
 * top of that, as an RC QP's PSNs guarantee.
 */
import { FabricError } from './errors.js';
import type { RandomSource } from './random.js';

/** How one direction of a link behaves. */
export interface LinkModel {
  /** One-way propagation delay in milliseconds. */
  readonly latencyMs: number;
  /** Serialization rate in Gbit/s (`Infinity`: no serialization delay). */
  readonly bandwidthGbps: number;
  /** Extra uniform random delay in [0, jitterMs) per message. */
  readonly jitterMs: number;
}

/** 5 µs, 100 Gbit/s, no jitter: a rack-local RoCE link. */
export const DEFAULT_LINK: LinkModel = { latencyMs: 0.005, bandwidthGbps: 100, jitterMs: 0 };

/** Checks a (partial) link model; throws {@link FabricError} `ERR_FABRIC_CONFIG`. */
export function checkLinkModel(model: Partial<LinkModel>): void {
  const { latencyMs, bandwidthGbps, jitterMs } = model;
  if (latencyMs !== undefined && !(Number.isFinite(latencyMs) && latencyMs >= 0)) {
    throw new FabricError('ERR_FABRIC_CONFIG', `latencyMs must be a finite number >= 0, got ${latencyMs}`);
  }
  if (bandwidthGbps !== undefined && !(bandwidthGbps > 0)) {
    throw new FabricError('ERR_FABRIC_CONFIG', `bandwidthGbps must be > 0, got ${bandwidthGbps}`);
  }
  if (jitterMs !== undefined && !(Number.isFinite(jitterMs) && jitterMs >= 0)) {
    throw new FabricError('ERR_FABRIC_CONFIG', `jitterMs must be a finite number >= 0, got ${jitterMs}`);
  }
}

/** One direction between two hosts: shared by every connection between them (they share the bandwidth). */
export class LinkDirection {
  model: LinkModel;
  #busyUntil = -Infinity;
  readonly #jitter: RandomSource;

  constructor(model: LinkModel, jitter: RandomSource) {
    this.model = model;
    this.#jitter = jitter;
  }

  /** Serialization time of `bytes` on this link, in milliseconds. */
  serializationMs(bytes: number): number {
    return Number.isFinite(this.model.bandwidthGbps) ? (bytes * 8) / (this.model.bandwidthGbps * 1e6) : 0;
  }

  /** Puts `bytes` on the link at `now`; returns when the last bit arrives (before any per-connection ordering). */
  transmit(now: number, bytes: number, extraMs: number): number {
    const start = Math.max(now, this.#busyUntil);
    const end = start + this.serializationMs(bytes);
    this.#busyUntil = end;
    const jitter = this.model.jitterMs > 0 ? this.#jitter.float() * this.model.jitterMs : 0;
    return end + this.model.latencyMs + jitter + extraMs;
  }
}

/** One direction of one connection: arrivals never overtake each other. */
export class OrderedChannel {
  #lastArrival = -Infinity;

  /** The arrival time to use for a message that would arrive at `t`. */
  order(t: number): number {
    const arrival = Math.max(t, this.#lastArrival);
    this.#lastArrival = arrival;
    return arrival;
  }
}
