/**
 * The workload of `iser sim`, through the public initiator API only: every session logs in (ERL 0 recovery on),
 * then each phase runs on every session at once with `queueDepth` commands in flight per session, sequential or
 * random, reads and writes mixed, a block size drawn per operation; latencies are measured on the virtual clock.
 * Every write is recorded in the LUN model; reads are checked against it when the phase verifies, and at the end
 * every LUN a verifying phase touched is read back whole. A failed command stops its worker (a dead session must
 * not spin in zero virtual time).
 */
import type { Lun } from '../../protocol/initiator/lun.js';
import { login } from '../../protocol/initiator/login.js';
import type { Session } from '../../protocol/initiator/session.js';
import type { SeededRandom } from '../../sim/clock/random.js';
import type { EventLog, EventValue } from '../../sim/trace/event-log.js';
import { LatencyHistogram } from '../latency-histogram.js';
import { clearUnitAttention } from '../session.js';
import { SimError } from './errors.js';
import type { FaultRunner } from './faults.js';
import { SimLunModel, type BlockMismatch } from './lun-model.js';
import { RangeLock } from './range-lock.js';
import type { Scenario, SimPhase } from './scenario.js';
import type { SimWorld } from './world.js';

/** Figures of one phase (or of all of them). */
export interface PhaseFigures {
  readonly name: string;
  readonly reads: number;
  readonly writes: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly failed: number;
  readonly virtualMs: number;
  readonly latency: LatencyHistogram;
}

/** A command that failed, for the report. */
export interface FailedCommand {
  readonly phase: string;
  readonly session: number;
  readonly op: 'read' | 'write';
  readonly lba: number;
  readonly blocks: number;
  readonly code: string | undefined;
  readonly message: string;
}

/** What the workload did. */
export interface WorkloadResult {
  readonly sessions: number;
  readonly phases: readonly PhaseFigures[];
  readonly reconnects: number;
  readonly connectionsLost: number;
  /** Blocks read wrong during the phases and in the final read-back. */
  readonly mismatches: readonly BlockMismatch[];
  /** Mismatch blocks beyond those kept (only the first 100 are kept). */
  readonly mismatchCount: number;
  readonly failures: readonly FailedCommand[];
  /** True when reads were checked and everything written was read back. */
  readonly verified: boolean;
  /** Bytes read back at the end. */
  readonly readBackBytes: number;
}

const UNIT_ATTENTION_TIMEOUT_MS = 10_000;
const READ_BACK_BYTES = 1024 * 1024;
const KEEP_MISMATCHES = 100;

interface SimSession {
  readonly index: number;
  readonly session: Session;
  readonly luns: Map<number, Lun>;
}

interface LunState {
  readonly model: SimLunModel;
  readonly lock: RangeLock;
  /** True once a verifying phase wrote or read it. */
  verify: boolean;
}

function errorFields(err: unknown): { code: string | undefined; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : undefined, message: err.message };
  }
  return { code: undefined, message: String(err) };
}

/** Runs the workload of `scenario` in `world`. Runs inside the clock's run. */
export class Workload {
  readonly #scenario: Scenario;
  readonly #world: SimWorld;
  readonly #log: EventLog;
  readonly #faults: FaultRunner;
  readonly #sessions: SimSession[] = [];
  readonly #luns: LunState[];
  readonly #mismatches: BlockMismatch[] = [];
  #mismatchCount = 0;
  readonly #failures: FailedCommand[] = [];
  #reconnects = 0;
  #lost = 0;
  /** Every operation's latency, all phases together. */
  readonly latency = new LatencyHistogram();

  constructor(scenario: Scenario, world: SimWorld, log: EventLog, faults: FaultRunner) {
    this.#scenario = scenario;
    this.#world = world;
    this.#log = log;
    this.#faults = faults;
    this.#luns = scenario.target.luns.map((l, i) => ({
      model: new SimLunModel(l.bytes / l.blockSize, l.blockSize, scenario.seed, `lun-${i}`),
      lock: new RangeLock(),
      verify: false,
    }));
  }

  /** Logs every session in, one after another (their order fixes the connection numbers). */
  async login(): Promise<void> {
    const random = this.#world.random.fork('initiators');
    let index = 0;
    for (const [host, initiator] of this.#scenario.initiators.entries()) {
      for (let s = 0; s < initiator.sessions; s++, index++) {
        const session = await login({
          connector: this.#world.connector(host),
          portal: this.#world.portal,
          initiatorName: initiator.name,
          targetName: this.#scenario.target.iqn,
          transport: 'iser',
          scheduler: this.#world.clock,
          random: random.fork(`session-${index}`),
          session: {
            recovery: true,
            recoveryTimeoutMs: initiator.recoveryTimeoutMs,
            minReconnectDelayMs: initiator.reconnectDelayMs,
          },
        });
        const me = index;
        session.events.subscribe((event) => {
          if (event.kind === 'reconnected') this.#reconnects++;
          if (event.kind === 'connection-lost') this.#lost++;
          this.#log.record(`session/${me}`, event.kind, sessionEventFields(event));
        });
        this.#log.record('sim', 'logged-in', { session: me, initiator: initiator.name, tsih: session.tsih });
        this.#sessions.push({ index: me, session, luns: new Map() });
      }
    }
  }

  async #lun(s: SimSession, n: number): Promise<Lun> {
    let lun = s.luns.get(n);
    if (lun === undefined) {
      const blockSize = this.#scenario.target.luns[n]?.blockSize ?? 512;
      lun = s.session.lun(n, { blockSize });
      s.luns.set(n, lun);
      await clearUnitAttention(lun, UNIT_ATTENTION_TIMEOUT_MS, this.#world.clock);
    }
    return lun;
  }

  #mismatch(found: readonly BlockMismatch[], phase: string): void {
    for (const m of found) {
      this.#mismatchCount++;
      if (this.#mismatches.length < KEEP_MISMATCHES) this.#mismatches.push(m);
      if (this.#mismatchCount <= 10) {
        this.#log.record('sim', 'mismatch', {
          phase,
          lba: m.lba,
          kind: m.kind,
          expected: [...m.expected],
          found: m.found,
        });
      }
    }
  }

  /** Runs one phase on every session. */
  async phase(phase: SimPhase, random: SeededRandom): Promise<PhaseFigures> {
    const clock = this.#world.clock;
    const state = this.#luns[phase.lun];
    const spec = this.#scenario.target.luns[phase.lun];
    if (state === undefined || spec === undefined) throw new SimError('ERR_SIM_NO_SUCH', `no LUN ${phase.lun}`);
    if (phase.verify) state.verify = true;
    const lunBlocks = spec.bytes / spec.blockSize;
    const latency = new LatencyHistogram();
    const figures = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, failed: 0 };
    let cursor = 0;
    const start = clock.now();
    this.#log.record('sim', 'phase-start', { phase: phase.name, sessions: this.#sessions.length });
    const nextOp = (): { write: boolean; lba: number; blocks: number } => {
      const write = random.float() * 100 >= phase.readPercent;
      const bytes = phase.blockSizes[phase.blockSizes.length === 1 ? 0 : random.int(0, phase.blockSizes.length - 1)];
      const blocks = (bytes ?? spec.blockSize) / spec.blockSize;
      let lba: number;
      if (phase.pattern === 'seq') {
        if (cursor + blocks > lunBlocks) cursor = 0;
        lba = cursor;
        cursor += blocks;
      } else {
        lba = random.int(0, Math.floor(lunBlocks / blocks) - 1) * blocks;
      }
      return { write, lba, blocks };
    };
    const worker = async (s: SimSession, lun: Lun, budget: { left: number }): Promise<void> => {
      for (;;) {
        if (phase.ops !== undefined && budget.left-- <= 0) return;
        if (phase.durationMs !== undefined && clock.now() - start >= phase.durationMs) return;
        const op = nextOp();
        const release = await state.lock.acquire(op.lba, op.blocks, op.write);
        const t0 = clock.now();
        const write = op.write ? state.model.newWrite() : 0;
        try {
          if (op.write) {
            await lun.promises.write(op.lba, state.model.contents(op.lba, op.blocks, write));
            state.model.acknowledged(op.lba, op.blocks, write);
            figures.writes++;
            figures.bytesWritten += op.blocks * spec.blockSize;
          } else {
            const data = await lun.promises.read(op.lba, op.blocks);
            if (phase.verify) this.#mismatch(state.model.check(op.lba, data), phase.name);
            figures.reads++;
            figures.bytesRead += op.blocks * spec.blockSize;
          }
          const micros = (clock.now() - t0) * 1000;
          latency.record(micros);
          this.latency.record(micros);
          this.#log.record(`session/${s.index}`, op.write ? 'write' : 'read', {
            lba: op.lba,
            blocks: op.blocks,
            latencyUs: micros,
          });
        } catch (err) {
          if (op.write) state.model.failed(op.lba, op.blocks, write);
          figures.failed++;
          const { code, message } = errorFields(err);
          const failure: FailedCommand = {
            phase: phase.name,
            session: s.index,
            op: op.write ? 'write' : 'read',
            lba: op.lba,
            blocks: op.blocks,
            code,
            message,
          };
          this.#failures.push(failure);
          this.#log.record('sim', 'command-failed', { ...failure });
          return;
        } finally {
          release();
          this.#faults.operationDone();
        }
      }
    };
    await Promise.all(
      this.#sessions.map(async (s) => {
        const lun = await this.#lun(s, phase.lun);
        const budget = { left: phase.ops ?? Infinity };
        await Promise.all(Array.from({ length: phase.queueDepth }, () => worker(s, lun, budget)));
      }),
    );
    const result: PhaseFigures = { name: phase.name, ...figures, virtualMs: clock.now() - start, latency };
    this.#log.record('sim', 'phase-end', {
      phase: phase.name,
      reads: figures.reads,
      writes: figures.writes,
      failed: figures.failed,
      virtualMs: result.virtualMs,
    });
    return result;
  }

  /** Reads back every LUN a verifying phase touched, through the first session still in full feature phase. */
  async readBack(): Promise<number> {
    let bytes = 0;
    for (const [n, state] of this.#luns.entries()) {
      if (!state.verify) continue;
      const s = this.#sessions.find((x) => x.session.state === 'full-feature') ?? this.#sessions[0];
      if (s === undefined) return bytes;
      const lun = await this.#lun(s, n);
      const step = Math.max(1, READ_BACK_BYTES / state.model.blockSize);
      for (let lba = 0; lba < state.model.blocks; lba += step) {
        const blocks = Math.min(step, state.model.blocks - lba);
        try {
          const data = await lun.promises.read(lba, blocks);
          this.#mismatch(state.model.check(lba, data), 'read-back');
          bytes += data.length;
        } catch (err) {
          const { code, message } = errorFields(err);
          this.#failures.push({ phase: 'read-back', session: s.index, op: 'read', lba, blocks, code, message });
          this.#log.record('sim', 'command-failed', { phase: 'read-back', lba, blocks, code, message });
          return bytes;
        }
      }
      this.#log.record('sim', 'read-back', { lun: n, bytes: state.model.blocks * state.model.blockSize });
    }
    return bytes;
  }

  /** Logs every session out (a session that cannot log out is closed). */
  async logout(): Promise<void> {
    for (const s of this.#sessions) {
      try {
        await s.session.logout();
      } catch (err) {
        this.#log.record('sim', 'logout-failed', { session: s.index, ...errorFields(err) });
      } finally {
        await s.session.close();
      }
    }
  }

  /** What happened so far. */
  result(phases: readonly PhaseFigures[], readBackBytes: number): WorkloadResult {
    const verifying = this.#luns.some((l) => l.verify);
    return {
      sessions: this.#sessions.length,
      phases,
      reconnects: this.#reconnects,
      connectionsLost: this.#lost,
      mismatches: this.#mismatches,
      mismatchCount: this.#mismatchCount,
      failures: this.#failures,
      verified: verifying && readBackBytes > 0 && this.#mismatchCount === 0 && this.#failures.length === 0,
      readBackBytes,
    };
  }
}

/** Session events as plain event-log fields (errors become their code and message). */
function sessionEventFields(event: { readonly kind: string }): { readonly [key: string]: EventValue } {
  const fields: { [key: string]: EventValue } = {};
  for (const [key, value] of Object.entries(event) as [string, unknown][]) {
    if (key === 'kind') continue;
    if (value instanceof Error) fields[key] = errorFields(value);
    else if (
      value === null ||
      typeof value === 'number' ||
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      typeof value === 'bigint'
    )
      fields[key] = value;
  }
  return fields;
}
