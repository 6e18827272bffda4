/**
 * What the parts of the fabric (queue pairs, CM, hosts) need from the fabric that owns them. An interface, so the
 * parts do not import the fabric (layers stay acyclic).
 */
import type { Subscription } from 'rxjs';
import type { VerbsCapabilities } from '../../transports/verbs.js';
import type { CounterSet } from './counters.js';
import type { FaultEngine } from './fault-engine.js';
import type { LinkDirection } from './link.js';
import type { RandomSource } from './random.js';
import type { FabricTraceKind, TraceFieldValue } from './trace.js';

/** Timers and defaults of a fabric (virtual milliseconds). */
export interface FabricTimings {
  /** How long a requester waits after an RNR NAK before retrying (rxe: the responder's min_rnr_timer). */
  readonly rnrTimerMs: number;
  /** Local ACK timeout: how long a requester waits for a response before retransmitting. */
  readonly retransmitTimeoutMs: number;
  /** CM handshake timeout when `ConnectOptions.timeoutMs` is not given. */
  readonly cmTimeoutMs: number;
}

/** Values used when connect/accept options leave them out. */
export interface ConnectionDefaults {
  readonly initiatorDepth: number;
  readonly responderResources: number;
  readonly retryCount: number;
  readonly rnrRetryCount: number;
}

/** The fabric's services. */
export interface FabricContext {
  readonly timings: FabricTimings;
  readonly defaults: ConnectionDefaults;
  readonly caps: VerbsCapabilities;
  /** Fabric-wide counters. */
  readonly counters: CounterSet;
  readonly faults: FaultEngine;
  /** Virtual milliseconds since the fabric was created. */
  now(): number;
  /** Runs `work` after `delayMs` (0: after the current action, never synchronously). */
  after(delayMs: number, work: () => void): Subscription;
  /** Runs `work` at `timeMs` (fabric time; at once if that is past). */
  at(timeMs: number, work: () => void): Subscription;
  /** The link from one host to another. */
  link(from: string, to: string): LinkDirection;
  /** A seeded random stream for `label`. */
  random(label: string): RandomSource;
  /** Records a trace event at the current time. */
  trace(conn: string, kind: FabricTraceKind, fields: Record<string, TraceFieldValue>): void;
}
