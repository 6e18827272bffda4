/**
 * How a soft-RoCE provider is configured, its defaults (rxe's and rdma_cm's where they have one, bounded where
 * they mean "forever"), and the checks on them.
 */
import type { SchedulerLike } from 'rxjs';
import type { VerbsCapabilities } from '../../../transports/verbs.js';
import type { Seed } from '../../clock/random.js';
import type { EventLog } from '../../trace/event-log.js';
import { checkCmTimings, DEFAULT_CM_TIMINGS, type CmTimings } from '../cm/cm-timing.js';
import { RoceError } from '../errors.js';
import type { IcrcMode } from '../frame.js';
import { DEFAULT_PATH_MTU, PATH_MTUS, type PathMtu } from '../rc/attributes.js';
import type { RoceLink } from '../link/link.js';

/** Values used when connect/accept leave them out. */
export interface SoftRoceConnectionDefaults {
  /** RDMA READs we issue at once. */
  readonly initiatorDepth: number;
  /** RDMA READs we answer at once. */
  readonly responderResources: number;
  /** Transport retries (6: bounded; 7 would be forever in rxe). */
  readonly retryCount: number;
  /** RNR retries (6: bounded; 7 is forever). */
  readonly rnrRetryCount: number;
}

/** Options of a soft-RoCE provider. */
export interface SoftRoceOptions {
  /** This device's IP address (its RoCEv2 GID is the IPv4-mapped form for IPv4). */
  readonly address: string;
  /** The network to attach to. */
  readonly link: RoceLink;
  /** The only source of time (a virtual-time scheduler in tests, `asyncScheduler` over real UDP). */
  readonly scheduler: SchedulerLike;
  /** Seed of every random choice: QP numbers' PSNs, comm IDs, keys, addresses, ports (default: the address). */
  readonly seed?: Seed;
  /**
   * The first QP number handed out; default 17, rxe's right after the module loads. A device that stands in for a
   * host whose rxe has been up a while (one per CLI run) should start elsewhere: a peer's ib_cm still holding a
   * connection from the same QPN answers a REQ from it with REJ "stale connection".
   */
  readonly firstQpn?: number;
  /** Path MTU we ask for when connecting (bytes); default 1024, rxe's on a 1500-byte link. */
  readonly mtu?: PathMtu;
  /** Local ACK timeout exponent: 4.096 µs · 2^n; default 14 (≈ 67 ms). 0 disables the retransmit timer. */
  readonly ackTimeout?: number;
  /** RNR timer code our RNR NAKs carry; default 12 (0.64 ms). */
  readonly minRnrTimer?: number;
  /** Connection parameters when connect/accept leave them out. */
  readonly defaults?: Partial<SoftRoceConnectionDefaults>;
  /** CM timers (rdma_cm's by default). */
  readonly cm?: Partial<CmTimings>;
  /** ICRC on receive: `strict` (default, between our endpoints), `tx-only` (from kernel rxe), `off`. */
  readonly icrc?: IcrcMode;
  /** Device limits. */
  readonly caps?: Partial<VerbsCapabilities>;
  /** Where to log CM transitions, QP errors, retransmissions, NAKs and drops. */
  readonly eventLog?: EventLog;
  /** Also log every packet sent and received (verbose). */
  readonly logPackets?: boolean;
}

/** rxe's device limits (`rxe_param.h`). */
export const SOFTROCE_CAPS: VerbsCapabilities = {
  sendWithInvalidate: true,
  maxSge: 32,
  maxQpWr: 16384,
  maxMessageSize: 2 ** 31,
};

/** Connection defaults. */
export const SOFTROCE_DEFAULTS: SoftRoceConnectionDefaults = {
  initiatorDepth: 16,
  responderResources: 16,
  retryCount: 6,
  rnrRetryCount: 6,
};

const ICRC_MODES: readonly string[] = ['strict', 'tx-only', 'off'];

/** Options with every default filled in. */
export interface ResolvedSoftRoceOptions {
  readonly seed: Seed;
  readonly firstQpn: number;
  readonly mtu: PathMtu;
  readonly ackTimeout: number;
  readonly minRnrTimer: number;
  readonly defaults: SoftRoceConnectionDefaults;
  readonly cm: CmTimings;
  readonly icrc: IcrcMode;
  readonly caps: VerbsCapabilities;
  readonly logPackets: boolean;
}

function intIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RoceError('ERR_SOFTROCE_CONFIG', `${name} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

/** Fills in defaults and checks every option (ERR_SOFTROCE_CONFIG). */
export function resolveOptions(options: SoftRoceOptions): ResolvedSoftRoceOptions {
  const mtu = options.mtu ?? DEFAULT_PATH_MTU;
  if (!PATH_MTUS.includes(mtu)) {
    throw new RoceError('ERR_SOFTROCE_CONFIG', `mtu must be one of ${PATH_MTUS.join(', ')}, got ${mtu}`);
  }
  const defaults = { ...SOFTROCE_DEFAULTS, ...options.defaults };
  intIn('defaults.initiatorDepth', defaults.initiatorDepth, 0, 255);
  intIn('defaults.responderResources', defaults.responderResources, 0, 255);
  intIn('defaults.retryCount', defaults.retryCount, 0, 7);
  intIn('defaults.rnrRetryCount', defaults.rnrRetryCount, 0, 7);
  const cm = { ...DEFAULT_CM_TIMINGS, ...options.cm, ackTimeout: options.ackTimeout ?? DEFAULT_CM_TIMINGS.ackTimeout };
  checkCmTimings(cm);
  const icrc = options.icrc ?? 'strict';
  if (!ICRC_MODES.includes(icrc)) {
    throw new RoceError('ERR_SOFTROCE_CONFIG', `icrc must be strict, tx-only or off, got ${icrc}`);
  }
  return {
    seed: options.seed ?? `softroce:${options.address}`,
    // rxe's QPNs are 24 bits; 0 and 1 are QP0 and QP1, and its pool starts at 17.
    firstQpn: intIn('firstQpn', options.firstQpn ?? 17, 17, 0xffffff),
    mtu,
    ackTimeout: intIn('ackTimeout', options.ackTimeout ?? 14, 0, 31),
    minRnrTimer: intIn('minRnrTimer', options.minRnrTimer ?? 12, 0, 31),
    defaults,
    cm,
    icrc,
    caps: { ...SOFTROCE_CAPS, ...options.caps },
    logPackets: options.logPackets ?? false,
  };
}
