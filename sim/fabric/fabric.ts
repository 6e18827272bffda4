/**
 * The in-memory RDMA fabric: named hosts, links between them, connections with RC semantics, a seeded fault
 * plan, counters and a trace of every verb-level event. Each host gets a {@link VerbsProvider}.
 *
 * Time comes only from the injected scheduler (a virtual-time scheduler makes runs deterministic); randomness
 * only from the seed (independent streams for keys, addresses, jitter and faults).
 */
import { Subject } from 'rxjs';
import type { Observable, SchedulerLike, Subscription } from 'rxjs';
import type { VerbsCapabilities } from '../../transports/verbs.js';
import { SeededRandom } from '../clock/random.js';
import type { Seed } from '../clock/random.js';
import { ConnectionRecord } from './connection.js';
import type { ConnectionDefaults, FabricContext, FabricTimings } from './context.js';
import { CounterSet } from './counters.js';
import type { VerbsCounters } from './counters.js';
import { FabricError } from './errors.js';
import { FaultEngine } from './fault-engine.js';
import type { DropConnectionRule, FaultPlan, FaultRule } from './fault-plan.js';
import { NO_FAULTS } from './fault-plan.js';
import { HostState } from './host.js';
import { DEFAULT_LINK, LinkDirection, checkLinkModel } from './link.js';
import type { LinkModel } from './link.js';
import { SimVerbsProvider } from './provider.js';
import type { RandomSource } from './random.js';
import type { FabricTraceEvent, FabricTraceKind, TraceFieldValue } from './trace.js';

/** Timers of the fabric when not given: rdma_cm's default RNR timer (code 12), rxe's ACK timeout for exponent 14. */
export const DEFAULT_TIMINGS: FabricTimings = { rnrTimerMs: 0.64, retransmitTimeoutMs: 65.536, cmTimeoutMs: 2000 };

/** Connection parameters when connect/accept leave them out (bounded retries: a simulation must end). */
export const DEFAULT_CONNECTION: ConnectionDefaults = {
  initiatorDepth: 16,
  responderResources: 16,
  retryCount: 6,
  rnrRetryCount: 6,
};

/** The device the fabric pretends each host has. */
export const DEFAULT_CAPS: VerbsCapabilities = {
  sendWithInvalidate: true,
  maxSge: 32,
  maxQpWr: 16384,
  maxMessageSize: 2 ** 31,
};

/** How to build a fabric. */
export interface SimFabricOptions {
  /** The only source of time. */
  readonly scheduler: SchedulerLike;
  /** Seed of every random choice (default 1). Ignored when `random` is given. */
  readonly seed?: Seed;
  /** A seeded source to use instead of `seed` (e.g. a fork of the simulation's). */
  readonly random?: RandomSource;
  /** The link model between any two hosts, unless {@link SimFabric.setLink} says otherwise. */
  readonly link?: Partial<LinkModel>;
  readonly timings?: Partial<FabricTimings>;
  readonly defaults?: Partial<ConnectionDefaults>;
  readonly caps?: Partial<VerbsCapabilities>;
  readonly faults?: FaultPlan;
  /** Called with every trace event, synchronously, in order. */
  readonly onTrace?: (event: FabricTraceEvent) => void;
}

/** What the fabric tells about one connection. */
export interface ConnectionInfo {
  readonly id: string;
  readonly number: number;
  readonly activeHost: string;
  readonly passiveHost: string;
  readonly counters: VerbsCounters;
}

function checkHostName(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '0.0.0.0' || name === '::') {
    throw new FabricError('ERR_FABRIC_CONFIG', `a host needs a concrete name, got ${JSON.stringify(name)}`);
  }
}

function checkTimings(t: FabricTimings): void {
  for (const [name, value] of Object.entries(t)) {
    if (!(Number.isFinite(value) && value > 0)) {
      throw new FabricError('ERR_FABRIC_CONFIG', `timings.${name} must be a finite number > 0, got ${String(value)}`);
    }
  }
}

/** An in-memory RDMA network of named hosts. */
export class SimFabric {
  readonly #scheduler: SchedulerLike;
  readonly #epoch: number;
  readonly #random: RandomSource;
  readonly #defaultLink: LinkModel;
  readonly #links = new Map<string, LinkDirection>();
  readonly #hosts = new Map<string, HostState>();
  readonly #providers = new Map<string, SimVerbsProvider>();
  readonly #connections: ConnectionRecord[] = [];
  readonly #counters = new CounterSet();
  readonly #trace = new Subject<FabricTraceEvent>();
  readonly #onTrace: ((event: FabricTraceEvent) => void) | undefined;
  readonly #faults: FaultEngine;
  readonly #ctx: FabricContext;
  /** Every verb-level event, in order (hot: subscribe before the events you want). */
  readonly trace: Observable<FabricTraceEvent>;

  constructor(options: SimFabricOptions) {
    this.#scheduler = options.scheduler;
    this.#epoch = options.scheduler.now();
    this.#random = options.random ?? new SeededRandom(options.seed ?? 1);
    checkLinkModel(options.link ?? {});
    this.#defaultLink = { ...DEFAULT_LINK, ...options.link };
    this.#onTrace = options.onTrace;
    this.trace = this.#trace.asObservable();
    const timings = { ...DEFAULT_TIMINGS, ...options.timings };
    checkTimings(timings);
    const defaults = { ...DEFAULT_CONNECTION, ...options.defaults };
    const caps = { ...DEFAULT_CAPS, ...options.caps };
    this.#faults = new FaultEngine(options.faults ?? NO_FAULTS, this.#random.fork('faults'), (rule, index) => {
      this.#scheduleTimedDrop(rule, index);
    });
    this.#ctx = {
      timings,
      defaults,
      caps,
      counters: this.#counters,
      faults: this.#faults,
      now: () => this.now(),
      after: (delayMs, work) => this.#scheduler.schedule(work, Math.max(0, delayMs)),
      at: (timeMs, work) => this.#at(timeMs, work),
      link: (from, to) => this.#link(from, to),
      random: (label) => this.#random.fork(label),
      trace: (conn, kind, fields) => {
        this.#emit(conn, kind, fields);
      },
    };
  }

  /** Virtual milliseconds since the fabric was created. */
  now(): number {
    return this.#scheduler.now() - this.#epoch;
  }

  /** The Verbs provider of `host` (created with the host on first use; the same object afterwards). */
  provider(host: string): SimVerbsProvider {
    const existing = this.#providers.get(host);
    if (existing !== undefined) return existing;
    const provider = new SimVerbsProvider(this.#ctx, this.#host(host), {
      host: (name) => this.#hosts.get(name),
      newConnection: (activeHost, passiveHost) => {
        const record = new ConnectionRecord(this.#ctx, this.#connections.length + 1, activeHost, passiveHost);
        this.#connections.push(record);
        return record;
      },
    });
    this.#providers.set(host, provider);
    return provider;
  }

  /** Adds a host with no provider handed out yet (so that it can be connected to, or to give it a link). */
  addHost(host: string): void {
    this.#host(host);
  }

  /** Sets the link model from `from` to `to`, and back unless `oneWay`. */
  setLink(from: string, to: string, model: Partial<LinkModel>, options?: { readonly oneWay?: boolean }): void {
    checkLinkModel(model);
    const set = (a: string, b: string): void => {
      const link = this.#link(a, b);
      link.model = { ...link.model, ...model };
    };
    set(from, to);
    if (options?.oneWay !== true && from !== to) set(to, from);
  }

  /** Fabric-wide counters. */
  get counters(): VerbsCounters {
    return this.#counters.snapshot();
  }

  /** Every connection attempt so far, in order, with its counters. */
  connections(): readonly ConnectionInfo[] {
    return this.#connections.map((r) => ({
      id: r.id,
      number: r.number,
      activeHost: r.activeHost,
      passiveHost: r.passiveHost,
      counters: r.snapshot(),
    }));
  }

  /** The counters of one connection (by id `c3` or number 3). */
  connectionCounters(connection: string | number): VerbsCounters {
    return this.#record(connection).snapshot();
  }

  /** The fault rules in force. */
  get faultRules(): readonly FaultRule[] {
    return this.#faults.rules;
  }

  /** Adds a fault rule while running (times in it are fabric times); returns its index. */
  addFault(rule: FaultRule): number {
    return this.#faults.add(rule);
  }

  /** Pulls the cable under one connection now (or under every connection). */
  pullCable(connection?: string | number): void {
    const records = connection === undefined ? [...this.#connections] : [this.#record(connection)];
    for (const record of records) {
      if (!record.live) continue;
      this.#emit(record.id, 'fault', { action: 'drop-connection', manual: true });
      record.pullCable();
    }
  }

  #record(connection: string | number): ConnectionRecord {
    const record = this.#connections.find((r) => r.id === connection || r.number === connection);
    if (record === undefined) throw new FabricError('ERR_FABRIC_UNKNOWN', `no connection ${String(connection)}`);
    return record;
  }

  #host(name: string): HostState {
    let host = this.#hosts.get(name);
    if (host === undefined) {
      checkHostName(name);
      host = new HostState(name, this.#random.fork(`keys:${name}`));
      this.#hosts.set(name, host);
    }
    return host;
  }

  #link(from: string, to: string): LinkDirection {
    const key = `${from}>${to}`;
    let link = this.#links.get(key);
    if (link === undefined) {
      link = new LinkDirection(this.#defaultLink, this.#random.fork(`jitter:${key}`));
      this.#links.set(key, link);
    }
    return link;
  }

  #at(timeMs: number, work: () => void): Subscription {
    return this.#scheduler.schedule(work, Math.max(0, timeMs - this.now()));
  }

  #scheduleTimedDrop(rule: DropConnectionRule, index: number): void {
    this.#at(rule.atMs ?? 0, () => {
      for (const record of this.#connections) {
        if (rule.connection !== undefined && rule.connection !== record.number) continue;
        if (rule.host !== undefined && rule.host !== record.activeHost && rule.host !== record.passiveHost) continue;
        if (!record.live) continue;
        this.#emit(record.id, 'fault', { rule: index, action: 'drop-connection' });
        record.pullCable();
      }
    });
  }

  #emit(conn: string, kind: FabricTraceKind, fields: Record<string, TraceFieldValue>): void {
    const event: FabricTraceEvent = { t: this.now(), conn, kind, fields };
    this.#onTrace?.(event);
    this.#trace.next(event);
  }
}
