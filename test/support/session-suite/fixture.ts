/**
 * What the session suite needs of a (target, transport) pair: where the target is, how to open connections to
 * it, which clock to run on, what it can do, and how to tear it down. A fixture is all the suite knows, so the
 * same tests run over TCP against tgt or our own target today, and over iSER on the simulated fabric later.
 */
import type { SchedulerLike } from 'rxjs';
import type { DatamoverConnector, PortalAddress, TransportKind } from '../../../protocol/datamover.js';
import type { NegotiationConfig } from '../../../protocol/text/config.js';
import type { ProxyCapture } from './tcp-proxy.js';

/** A CHAP name and secret (secrets at least 12 bytes: both ends insist on 96 bits). */
export interface SuiteChapCredentials {
  readonly user: string;
  readonly secret: string;
}

/** One logical unit the target serves, as created (fresh: all zeros). */
export interface SuiteLun {
  readonly lun: number;
  readonly blockSize: number;
  readonly blocks: number;
}

/** One target node the suite may log in to. */
export interface SuiteTarget {
  readonly targetName: string;
  /** Where the initiator connects (may be a proxy in front of the target). */
  readonly portal: PortalAddress;
  /** The address the target itself announces in SendTargets (its real portal). */
  readonly announcedPortal: PortalAddress;
  readonly luns: readonly SuiteLun[];
  /** Set when logging in requires one-way CHAP. */
  readonly chap?: SuiteChapCredentials;
}

/** What the target and transport can do; each `true` is a claim the suite holds the fixture to. */
export interface SuiteCapabilities {
  /** The fixture can cut the live connections (`killConnections`). */
  readonly canKillConnection: boolean;
  /** `chapTarget` is set and requires CHAP. */
  readonly supportsChap: boolean;
  /** The transport and target negotiate CRC32C header and data digests. */
  readonly supportsDigests: boolean;
  readonly unmap: boolean;
  readonly writeSame: boolean;
  readonly compareAndWrite: boolean;
  readonly synchronizeCache: boolean;
}

/** Bytes on the wire, where the transport has a byte stream a test can read (TCP through a proxy). */
export interface WireTap {
  /** Records the connections made from now until the capture stops, each direction up to `bytes`. */
  capture(bytes: number): ProxyCapture;
}

/** How big the suite's workloads are. */
export interface SuiteWorkloadSize {
  /** Operations of the random workload in the default run. */
  readonly ops: number;
  /** Bytes of the long random workload (0: no long test). */
  readonly longBytes: number;
  /** Bound on one operation, in scheduler ms. */
  readonly opTimeoutMs: number;
}

/** A (target, transport) pair, ready for the suite. */
export interface SessionFixture {
  readonly transport: TransportKind;
  /** The clock the initiator and the suite's waits run on. */
  readonly scheduler: SchedulerLike;
  readonly initiatorName: string;
  /** A target that needs no authentication. */
  readonly target: SuiteTarget;
  /** A target that requires CHAP (when `capabilities.supportsChap`). */
  readonly chapTarget?: SuiteTarget;
  /** Where discovery sessions go (may be a proxy). */
  readonly discoveryPortal: PortalAddress;
  /** A fresh connector for each session. */
  connector(): DatamoverConnector;
  /** Operational preferences every login starts from (e.g. a short DefaultTime2Wait). */
  readonly negotiation?: NegotiationConfig;
  readonly capabilities: SuiteCapabilities;
  /** Cuts every live connection; returns how many (with `canKillConnection`). */
  killConnections?(): number;
  /** The wire, when the transport can show it. */
  readonly wire?: WireTap;
  readonly workload: SuiteWorkloadSize;
  /** Stops the target and everything the fixture started. */
  teardown(): Promise<void>;
}
