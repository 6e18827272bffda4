/**
 * An in-memory network for soft-RoCE on an injected scheduler (virtual time in tests): datagrams between
 * attached endpoints with a per-direction model of latency, jitter, bandwidth, and seeded faults: loss,
 * duplication, reordering (extra delay) and corruption (one flipped bit, which the receiver's ICRC check
 * catches). Every random choice comes from a {@link SeededRandom} fork per direction, so one seed gives the same
 * packets at the same times, byte for byte.
 *
 * Tests can also act on single datagrams with {@link MemoryLink.filter} (drop this one, corrupt that one).
 */
import type { SchedulerLike } from 'rxjs';
import { SeededRandom, type Seed } from '../../clock/random.js';
import { RoceError } from '../errors.js';
import type { RoceDatagram, RoceLink, RoceLinkEndpoint } from './link.js';
import { canonicalIp, ROCE_PORT } from './link.js';
import type { PcapTap } from './pcap-tap.js';

/** The model of one direction of the link. Probabilities are per datagram, in [0, 1]. */
export interface LinkModel {
  /** One-way delay, ms; default 0.001 (1 µs). */
  readonly latencyMs?: number;
  /** Extra uniform random delay in [0, jitterMs), ms; datagrams still arrive in order (only `reorder` reorders). */
  readonly jitterMs?: number;
  /** Serialization rate; default unlimited. */
  readonly bandwidthGbps?: number;
  /** Probability a datagram is lost. */
  readonly loss?: number;
  /** Probability a datagram arrives twice. */
  readonly duplicate?: number;
  /** Probability a datagram is held back by `reorderDelayMs` (so later ones overtake it). */
  readonly reorder?: number;
  /** How long a reordered datagram is held back, ms; default 0.02. */
  readonly reorderDelayMs?: number;
  /** Probability one bit of a datagram is flipped. */
  readonly corrupt?: number;
}

/** What a {@link MemoryLink.filter} does with a datagram: deliver it, or deliver these instead (none: drop). */
export type FilterVerdict = 'deliver' | readonly RoceDatagram[];

/** Options of a memory link. */
export interface MemoryLinkOptions {
  /** The only source of time. */
  readonly scheduler: SchedulerLike;
  /** Seed of the fault draws (default 1); ignored when `random` is given. */
  readonly seed?: Seed;
  /** A seeded source to fork per direction instead. */
  readonly random?: SeededRandom;
  /** The model of every direction without one of its own. */
  readonly model?: LinkModel;
  /** Where to capture every datagram sent (as the sender put it on the wire, before faults). */
  readonly tap?: PcapTap;
}

/** What the link did, in total. */
export interface MemoryLinkStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  /** Datagrams for an address nobody is attached to. */
  unroutable: number;
}

function checkModel(model: LinkModel): void {
  const probability = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(v >= 0 && v <= 1)) {
      throw new RoceError('ERR_SOFTROCE_CONFIG', `link ${name} must be a probability in [0, 1], got ${v}`);
    }
  };
  const nonNegative = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
      throw new RoceError('ERR_SOFTROCE_CONFIG', `link ${name} must be a finite number >= 0, got ${v}`);
    }
  };
  probability('loss', model.loss);
  probability('duplicate', model.duplicate);
  probability('reorder', model.reorder);
  probability('corrupt', model.corrupt);
  nonNegative('latencyMs', model.latencyMs);
  nonNegative('jitterMs', model.jitterMs);
  nonNegative('reorderDelayMs', model.reorderDelayMs);
  if (model.bandwidthGbps !== undefined && !(Number.isFinite(model.bandwidthGbps) && model.bandwidthGbps > 0)) {
    throw new RoceError('ERR_SOFTROCE_CONFIG', `link bandwidthGbps must be > 0, got ${model.bandwidthGbps}`);
  }
}

interface Direction {
  model: LinkModel;
  readonly random: SeededRandom;
  /** When the wire is free again (bandwidth). */
  busyUntil: number;
  /** Arrival time of the last datagram not reordered: jitter must not let a later one overtake it. */
  lastArrival: number;
}

/** An in-memory RoCE network. */
export class MemoryLink implements RoceLink {
  /** Totals since creation. */
  readonly stats: MemoryLinkStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    unroutable: 0,
  };
  /** Acts on each datagram after the model (default: deliver). */
  filter: (datagram: RoceDatagram) => FilterVerdict = () => 'deliver';
  readonly #scheduler: SchedulerLike;
  readonly #random: SeededRandom;
  readonly #tap: PcapTap | undefined;
  #defaultModel: LinkModel;
  readonly #models = new Map<string, LinkModel>();
  readonly #directions = new Map<string, Direction>();
  readonly #endpoints = new Map<string, (datagram: RoceDatagram) => void>();

  /** A network on `options.scheduler`. */
  constructor(options: MemoryLinkOptions) {
    this.#scheduler = options.scheduler;
    this.#random = options.random ?? new SeededRandom(options.seed ?? 1);
    this.#tap = options.tap;
    checkModel(options.model ?? {});
    this.#defaultModel = options.model ?? {};
  }

  /** Sets the model of the direction `from` → `to` (or, without `to`, of every direction). */
  setModel(model: LinkModel, from?: string, to?: string): void {
    checkModel(model);
    if (from === undefined || to === undefined) {
      this.#defaultModel = model;
      this.#models.clear();
    } else {
      this.#models.set(`${canonicalIp(from)}>${canonicalIp(to)}`, model);
    }
    for (const [key, direction] of this.#directions) direction.model = this.#modelOf(key);
  }

  attach(ip: string, receive: (datagram: RoceDatagram) => void): Promise<RoceLinkEndpoint> {
    const address = canonicalIp(ip);
    if (this.#endpoints.has(address)) {
      return Promise.reject(new RoceError('ERR_SOFTROCE_LINK', `${address} is already attached to this link`));
    }
    this.#endpoints.set(address, receive);
    const endpoint: RoceLinkEndpoint = {
      ip: address,
      port: ROCE_PORT,
      sourcePort: (preferred) => preferred,
      destinationPort: () => ROCE_PORT,
      send: (datagram) => {
        this.#send(datagram);
      },
      close: () => {
        if (this.#endpoints.get(address) === receive) this.#endpoints.delete(address);
        return Promise.resolve();
      },
    };
    return Promise.resolve(endpoint);
  }

  #modelOf(key: string): LinkModel {
    return this.#models.get(key) ?? this.#defaultModel;
  }

  #direction(from: string, to: string): Direction {
    const key = `${from}>${to}`;
    let direction = this.#directions.get(key);
    if (direction === undefined) {
      direction = { model: this.#modelOf(key), random: this.#random.fork(key), busyUntil: 0, lastArrival: 0 };
      this.#directions.set(key, direction);
    }
    return direction;
  }

  #send(datagram: RoceDatagram): void {
    this.stats.sent++;
    this.#tap?.record(datagram);
    const direction = this.#direction(datagram.srcIp, datagram.dstIp);
    const m = direction.model;
    const r = direction.random;
    // Draw every decision for every datagram, so one fault does not shift the draws of the next.
    const lost = r.bool(m.loss ?? 0);
    const duplicated = r.bool(m.duplicate ?? 0);
    const reordered = r.bool(m.reorder ?? 0);
    const corrupted = r.bool(m.corrupt ?? 0);
    const jitter = r.float(0, m.jitterMs ?? 0);
    const bit = r.int(0, Math.max(0, datagram.payload.length * 8 - 1));
    const now = this.#scheduler.now();
    const serialization = m.bandwidthGbps === undefined ? 0 : (datagram.payload.length * 8) / (m.bandwidthGbps * 1e6);
    const start = Math.max(now, direction.busyUntil);
    direction.busyUntil = start + serialization;
    if (lost) {
      this.stats.lost++;
      return;
    }
    let payload = datagram.payload;
    if (corrupted) {
      this.stats.corrupted++;
      payload = Buffer.from(payload);
      payload[bit >> 3] = (payload[bit >> 3] ?? 0) ^ (0x80 >> (bit & 7));
    }
    let arrival = start + serialization + (m.latencyMs ?? 0.001) + jitter;
    if (reordered) {
      this.stats.reordered++;
      arrival += m.reorderDelayMs ?? 0.02;
    } else {
      arrival = Math.max(arrival, direction.lastArrival);
      direction.lastArrival = arrival;
    }
    const delay = arrival - now;
    const verdict = this.filter(corrupted ? { ...datagram, payload } : datagram);
    const copies = verdict === 'deliver' ? [corrupted ? { ...datagram, payload } : datagram] : verdict;
    for (const copy of copies) {
      this.#deliverAfter(copy, delay);
      if (duplicated) {
        this.stats.duplicated++;
        this.#deliverAfter(copy, delay);
      }
    }
  }

  #deliverAfter(datagram: RoceDatagram, delayMs: number): void {
    this.#scheduler.schedule(() => {
      const receive = this.#endpoints.get(datagram.dstIp);
      if (receive === undefined) {
        this.stats.unroutable++;
        return;
      }
      this.stats.delivered++;
      receive(datagram);
    }, delayMs);
  }
}
