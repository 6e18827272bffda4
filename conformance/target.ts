/**
 * What the suite needs of a (target, transport) pair: where to log in, how to open connections, which clock to run
 * on and how to drive it, and what the pair can do beyond plain I/O (inject faults, capture packets). A URL becomes
 * one of these in `url-target.ts`; tests build their own for our target on the simulators.
 */
import type { SchedulerLike } from 'rxjs';
import type { DatamoverConnector, PortalAddress, TransportKind } from '../protocol/datamover.js';
import type { InitiatorAuthConfig } from '../protocol/login/initiator-login.js';
import type { NegotiationConfig } from '../protocol/text/config.js';
import type { FaultRule } from '../sim/fabric/fault-plan.js';

/** Blocks of a LUN the suite may overwrite. */
export interface ScratchRegion {
  readonly firstLba: number;
  readonly blocks: number;
}

/**
 * Seeded faults on a simulated transport (sim/fabric): rules are scoped to a connection number, so a rule meant for
 * a session's connection never hits the reconnection that recovers it.
 */
export interface FaultInjector {
  /** The number the next connection attempt on the fabric will get (rules take it as `connection`). */
  nextConnection(): number;
  /** Virtual ms on the fabric's clock (rules' `atMs` / `fromMs` count from the fabric's creation). */
  now(): number;
  /** Adds a rule now. */
  add(rule: FaultRule): void;
}

/** A packet capture that can be started and stopped around one run (soft-RoCE on an in-memory link). */
export interface PacketCapture {
  /** Starts recording; `stop()` returns what was recorded as a pcapng file. */
  start(): { stop(): Buffer };
}

/** A (target, transport) pair under test. */
export interface ConformanceTarget {
  /** Shown in reports, e.g. `our target over iSER on sim/fabric`. */
  readonly description: string;
  readonly transport: TransportKind;
  /** Where the target listens. */
  readonly portal: PortalAddress;
  readonly targetName: string;
  /** The LUN the data properties use. */
  readonly lun: number;
  readonly initiatorName: string;
  readonly auth?: InitiatorAuthConfig;
  /** Preferences every login starts from. */
  readonly negotiation?: NegotiationConfig;
  /** The clock the initiator and the suite's bounds run on. */
  readonly scheduler: SchedulerLike;
  /** A fresh connector (one per session). */
  connector(): DatamoverConnector;
  /** Waits for `work`, driving the clock when it is virtual (real time: just `work`). */
  run<T>(work: Promise<T>): Promise<T>;
  /** Bound on one SCSI command or login, in scheduler ms (default 10000). */
  readonly opTimeoutMs?: number;
  /** The blocks the suite may overwrite (default: the first 2048 blocks, or fewer on a small LUN). */
  readonly scratch?: ScratchRegion;
  /** Present on simulated transports. */
  readonly faults?: FaultInjector;
  /** Present where packets exist (soft-RoCE). TCP recordings are synthesized into pcapng by the suite itself. */
  readonly capture?: PacketCapture;
  /** The recording TCP proxy in front of a TCP portal is on unless this is false. */
  readonly tapTcp?: boolean;
}
