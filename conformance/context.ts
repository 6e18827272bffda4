/**
 * What properties work with. A {@link SuiteContext} lives for one `runConformance` call: the target, the LUN's
 * facts, the recording proxy in front of a TCP portal, the seed. A {@link RunContext} lives for one fast-check run:
 * its PDU exchange, and the sessions and raw connections it opened (all closed, bounded, when the run ends).
 */
import { createHash } from 'node:crypto';
import type fc from 'fast-check';
import type { Observable, SchedulerLike } from 'rxjs';
import type { DatamoverConnector, PortalAddress } from '../protocol/datamover.js';
import { establish } from '../protocol/initiator/establish.js';
import { login } from '../protocol/initiator/login.js';
import type { Lun } from '../protocol/initiator/lun.js';
import type { Session } from '../protocol/initiator/session.js';
import type { InitiatorLoginConfig, InitiatorLoginResult } from '../protocol/login/initiator-login.js';
import type { RandomSource } from '../protocol/login/random.js';
import { IsidType, type Isid } from '../protocol/pdu/isid.js';
import { ScsiStatusError } from '../protocol/scsi/errors.js';
import { SenseKey } from '../protocol/scsi/sense-codes.js';
import type { InitiatorSessionOptions } from '../protocol/session/initiator-session.js';
import type { NegotiationConfig } from '../protocol/text/config.js';
import { ConformanceError } from './errors.js';
import { tapConnector } from './record/connection-tap.js';
import type { Exchange, RecordedPdu } from './record/exchange.js';
import { decodeRecordings } from './record/wire-decode.js';
import type { RecordingTcpProxy } from './record/tcp-recorder.js';
import { bounded, sleep } from './support/bounded.js';
import type { LunFacts } from './support/lun-facts.js';
import { RawConnection } from './support/raw-connection.js';
import type { ConformanceTarget, ScratchRegion } from './target.js';

/** Default bound on one command or login, in scheduler ms. */
export const DEFAULT_OP_TIMEOUT_MS = 10_000;

/** Blocks the suite uses at most when the target does not say. */
export const DEFAULT_SCRATCH_BLOCKS = 2048;

/** Options of a session a property opens. */
export interface SessionOptions {
  /** Preferences on top of the target's. */
  readonly negotiation?: NegotiationConfig;
  /** Session timers and recovery (keepalive is off unless set). */
  readonly session?: InitiatorSessionOptions;
  /** A fixed ISID (default: a fresh one per session, from the run's seed). */
  readonly isid?: Isid;
}

/** Shared by every property of one suite run. */
export class SuiteContext {
  readonly target: ConformanceTarget;
  readonly seed: number;
  /** Where sessions connect: the recording proxy in front of a TCP portal, or the portal itself. */
  readonly portal: PortalAddress;
  readonly proxy: RecordingTcpProxy | undefined;
  /** The LUN, once probed (undefined when probing failed: `probeError` says why). */
  facts: LunFacts | undefined;
  probeError: Error | undefined;
  /** Initiator negotiation preferences the negotiation properties draw from. */
  readonly offers: fc.Arbitrary<NegotiationConfig> | undefined;
  /** The exchange of the run in progress (taps write into it). */
  current: Exchange | undefined;

  constructor(options: {
    readonly target: ConformanceTarget;
    readonly seed: number;
    readonly proxy: RecordingTcpProxy | undefined;
    readonly offers: fc.Arbitrary<NegotiationConfig> | undefined;
  }) {
    this.target = options.target;
    this.seed = options.seed;
    this.proxy = options.proxy;
    this.portal = options.proxy?.address ?? options.target.portal;
    this.offers = options.offers;
  }

  /** Bound on one command or login. */
  get opTimeoutMs(): number {
    return this.target.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS;
  }

  /** The scratch blocks (clipped to the LUN once probed). */
  get scratch(): ScratchRegion {
    const wanted = this.target.scratch ?? { firstLba: 0, blocks: DEFAULT_SCRATCH_BLOCKS };
    const blocks =
      this.facts === undefined
        ? wanted.blocks
        : Math.max(0, Math.min(wanted.blocks, this.facts.blocks - wanted.firstLba));
    return { firstLba: wanted.firstLba, blocks };
  }

  /** The first `blocks` scratch blocks (fewer on a small LUN). */
  region(blocks: number): ScratchRegion {
    const scratch = this.scratch;
    return { firstLba: scratch.firstLba, blocks: Math.min(blocks, scratch.blocks) };
  }

  /** A connector whose connections record into the current exchange. */
  connector(): DatamoverConnector {
    return tapConnector(this.target.connector(), () => this.current, this.target.scheduler);
  }
}

/** A deterministic {@link RandomSource} (ISIDs, CHAP challenges) for one run. */
function seededSource(label: string): RandomSource {
  let counter = 0;
  return {
    bytes(n: number): Buffer {
      const out = Buffer.alloc(n);
      for (let offset = 0; offset < n; offset += 32) {
        createHash('sha256').update(`${label}:${counter++}`).digest().copy(out, offset);
      }
      return out;
    },
  };
}

/** One fast-check run of one property. */
export class RunContext {
  readonly suite: SuiteContext;
  readonly exchange: Exchange;
  readonly random: RandomSource;
  readonly #sessions = new Set<Session>();
  readonly #raw = new Set<RawConnection>();
  readonly #notes: string[];
  readonly #counts: Map<string, number>;
  readonly #stopAt: number | undefined;
  #budget: Promise<never> | undefined;
  #budgetTimer: NodeJS.Timeout | undefined;

  /** `stopAt` (wall clock, ms since the epoch): a wait still running then fails with ERR_CONFORMANCE_BUDGET. */
  constructor(
    suite: SuiteContext,
    exchange: Exchange,
    label: string,
    notes: string[],
    counts = new Map<string, number>(),
    stopAt?: number,
  ) {
    this.suite = suite;
    this.exchange = exchange;
    this.random = seededSource(`${suite.seed}:${label}`);
    this.#notes = notes;
    this.#counts = counts;
    this.#stopAt = stopAt;
  }

  /** Counts something the property exercised (reported as a note: what the runs really covered). */
  count(label: string, n = 1): void {
    this.#counts.set(label, (this.#counts.get(label) ?? 0) + n);
  }

  get target(): ConformanceTarget {
    return this.suite.target;
  }

  get scheduler(): SchedulerLike {
    return this.suite.target.scheduler;
  }

  get opTimeoutMs(): number {
    return this.suite.opTimeoutMs;
  }

  /** The LUN's facts (the runner skips LUN properties when probing failed). */
  get facts(): LunFacts {
    const facts = this.suite.facts;
    if (facts === undefined) throw new ConformanceError('ERR_CONFORMANCE_TARGET', 'the LUN was not probed');
    return facts;
  }

  /** Adds a line to the property's report (once per distinct text). */
  note(text: string): void {
    if (!this.#notes.includes(text)) this.#notes.push(text);
  }

  /** `work` bounded by `ms` (default: the op timeout) of scheduler time, and by the property's wall-clock budget. */
  bounded<T>(work: Promise<T> | Observable<T>, what: string, ms = this.opTimeoutMs): Promise<T> {
    const step = bounded(work, ms, this.scheduler, what);
    const budget = this.#budgetExpiry();
    return budget === undefined ? step : Promise.race([step, budget]);
  }

  /** Rejects when the wall-clock budget runs out (a safety net: each step has its own, shorter bound). */
  #budgetExpiry(): Promise<never> | undefined {
    const stopAt = this.#stopAt;
    if (stopAt === undefined) return undefined;
    this.#budget ??= new Promise<never>((_resolve, reject) => {
      this.#budgetTimer = setTimeout(
        () => {
          reject(new ConformanceError('ERR_CONFORMANCE_BUDGET', 'the time budget ran out in the middle of a run'));
        },
        Math.max(0, stopAt - Date.now()),
      );
      this.#budgetTimer.unref();
    });
    this.#budget.catch(() => undefined);
    return this.#budget;
  }

  /** Waits `ms` of scheduler time. */
  sleep(ms: number): Promise<void> {
    return sleep(ms, this.scheduler);
  }

  /** Resolves once `condition` holds (checked every `stepMs` of scheduler time); false if `ms` passed first. */
  async until(condition: () => boolean, ms: number, stepMs = 1): Promise<boolean> {
    for (let waited = 0; !condition(); waited += stepMs) {
      if (waited >= ms) return false;
      await this.sleep(stepMs);
    }
    return true;
  }

  /** A fresh ISID (type Random) from the run's seed. */
  isid(): Isid {
    const b = this.random.bytes(5);
    return { type: IsidType.Random, a: 0, b: b.readUInt16BE(0), c: b.readUInt8(2), d: b.readUInt16BE(3) };
  }

  /** The login configuration of a session to the target. */
  loginConfig(options: SessionOptions = {}): InitiatorLoginConfig {
    const target = this.target;
    return {
      initiatorName: target.initiatorName,
      targetName: target.targetName,
      sessionType: 'Normal',
      isid: options.isid ?? this.isid(),
      transport: target.transport,
      ...(target.auth === undefined ? {} : { auth: target.auth }),
      negotiation: { ...target.negotiation, ...options.negotiation },
      random: this.random,
    };
  }

  /** Logs in (tapped), tracked so the run closes it. */
  async login(options: SessionOptions = {}): Promise<Session> {
    const config = this.loginConfig(options);
    const session = await this.bounded(
      login({
        connector: this.suite.connector(),
        portal: this.suite.portal,
        targetName: this.target.targetName,
        initiatorName: config.initiatorName,
        transport: this.target.transport,
        isid: config.isid,
        ...(config.auth === undefined ? {} : { auth: config.auth }),
        ...(config.negotiation === undefined ? {} : { negotiation: config.negotiation }),
        scheduler: this.scheduler,
        loginTimeoutMs: this.opTimeoutMs,
        session: { nopIntervalMs: 0, ...options.session },
        random: this.random,
      }),
      'login',
      this.opTimeoutMs + 1000,
    );
    this.#sessions.add(session);
    return session;
  }

  /** The LUN under test, with the unit attention of a new I_T nexus cleared (SPC-4 §6.37 / SAM-5 §5.14). */
  async lun(session: Session): Promise<Lun> {
    const facts = this.suite.facts;
    const lun = session.lun(this.target.lun, facts === undefined ? {} : { blockSize: facts.blockSize });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.bounded(lun.promises.testUnitReady(), 'TEST UNIT READY');
        return lun;
      } catch (err) {
        const unitAttention = err instanceof ScsiStatusError && err.sense?.key === SenseKey.UnitAttention;
        if (!unitAttention || attempt >= 4) throw err;
      }
    }
  }

  /** A fresh connection in the login phase, PDU by PDU (tapped). */
  async rawConnect(): Promise<RawConnection> {
    const connection = await this.bounded(this.suite.connector().connect(this.suite.portal), 'connect');
    const raw = RawConnection.fresh(connection, this.scheduler);
    this.#raw.add(raw);
    return raw;
  }

  /** A connection logged in by our login machine, then driven PDU by PDU in full feature phase (tapped). */
  async rawSession(options: SessionOptions = {}): Promise<{ raw: RawConnection; login: InitiatorLoginResult }> {
    const established = await this.bounded(
      establish({
        connector: this.suite.connector(),
        portal: this.suite.portal,
        login: this.loginConfig(options),
        scheduler: this.scheduler,
        timeoutMs: this.opTimeoutMs,
        maxRedirects: 2,
      }),
      'login',
      this.opTimeoutMs + 1000,
    );
    const link = established.link;
    const raw = new RawConnection(
      link.connection,
      this.scheduler,
      (handler) => {
        link.attach(handler);
      },
      () => link.close(),
    );
    this.#raw.add(raw);
    return { raw, login: established.result };
  }

  /** What crossed the wire so far in this run (TCP through the recording proxy; empty on other transports). */
  wire(): readonly RecordedPdu[] {
    const proxy = this.suite.proxy;
    if (proxy === undefined) return [];
    this.exchange.setWire(decodeRecordings(proxy.recordings));
    return this.exchange.wirePdus;
  }

  /** Closes what the run opened: sessions log out (bounded), raw connections close. */
  async dispose(): Promise<void> {
    clearTimeout(this.#budgetTimer);
    const close = (work: Promise<void>, what: string): Promise<void> =>
      bounded(work, this.opTimeoutMs, this.scheduler, what).catch(() => undefined);
    const closing = [...this.#sessions].map((s) => close(s.close(), 'logout at the end of the run'));
    const raw = [...this.#raw].map((r) => close(r.close(), 'close'));
    this.#sessions.clear();
    this.#raw.clear();
    await Promise.all([...closing, ...raw]);
  }
}
