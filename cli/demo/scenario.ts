/**
 * The demo's story, told with the public initiator API only: discovery, login, a pattern written with several
 * commands in flight, read back and verified byte for byte, a command aborted by unsubscribing (ABORT TASK), a
 * check that the session survived it, and logout. Each step is logged in the event log; the figures are measured
 * in both virtual (scheduler) and wall time.
 */
import type { Lun } from '../../protocol/initiator/lun.js';
import { discover } from '../../protocol/initiator/discover.js';
import { login } from '../../protocol/initiator/login.js';
import type { DiscoveredTarget } from '../../protocol/text/sendtargets.js';
import { TaskManagementResponse } from '../../protocol/pdu/task-management.js';
import { tmfResponseName } from '../../protocol/session/initiator-errors.js';
import type { EventLog } from '../../sim/trace/event-log.js';
import { clearUnitAttention } from '../session.js';
import { DEMO_IQN, DEMO_INITIATOR, type DemoEnvironment } from './environment.js';
import { DemoPattern, firstDifference } from './pattern.js';

/** How much work the demo does. */
export interface ScenarioOptions {
  readonly seed: number;
  /** Bytes written and read back. */
  readonly bytes: number;
  /** Bytes per command. */
  readonly chunk: number;
  /** Commands in flight. */
  readonly depth: number;
  /** Runs between writing and reading back (tests use it to corrupt the LUN behind the target's back). */
  readonly afterWrite?: (env: DemoEnvironment) => Promise<void>;
}

/** Time spent in a phase. */
export interface PhaseTime {
  readonly commands: number;
  readonly bytes: number;
  readonly virtualMs: number;
  readonly wallMs: number;
}

/** What happened. */
export interface ScenarioResult {
  readonly discovered: readonly DiscoveredTarget[];
  readonly login: { readonly tsih: number; readonly rdmaExtensions: boolean; readonly recvSegment: number };
  readonly write: PhaseTime;
  readonly read: PhaseTime;
  /** Chunks that came back different, and the first differing byte of the first one. */
  readonly mismatches: number;
  readonly firstMismatchOffset: number | undefined;
  /** How the aborted command ended, in words. */
  readonly abort: string;
  /** True when the session still answered after the abort. */
  readonly aliveAfterAbort: boolean;
  readonly logout: { readonly time2Wait: number; readonly time2Retain: number };
  /** Commands the initiator issued in all. */
  readonly commands: number;
}

/** A TMF response the target reported, for the abort step. */
export interface TmfWatcher {
  /** Resolves with the next TMF response of the target (or undefined after `ms`). */
  next(ms: number): Promise<number | undefined>;
  /** Stops waiting (its timer is cancelled; `next` resolves undefined). */
  cancel(): void;
}

const BLOCK = 512;

/** Runs `work(index)` for indexes 0..count-1 with at most `depth` running at once. */
async function inFlight(count: number, depth: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      await work(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(depth, count) }, worker));
}

/** Times `work` in virtual and wall time. */
async function timed(env: DemoEnvironment, work: () => Promise<void>): Promise<{ virtualMs: number; wallMs: number }> {
  const v0 = env.scheduler.now();
  const w0 = performance.now();
  await work();
  return { virtualMs: env.scheduler.now() - v0, wallMs: performance.now() - w0 };
}

/** Subscribes a large READ and unsubscribes while it is in flight; says how the target answered the ABORT TASK. */
async function abortOne(env: DemoEnvironment, lun: Lun, blocks: number, tmf: TmfWatcher): Promise<string> {
  const answer = tmf.next(2000);
  let ended: string | undefined;
  const subscription = lun.read(0, blocks).subscribe({
    next: () => {
      ended = 'completed before the abort could catch it';
    },
    error: (err: unknown) => {
      ended = `failed: ${err instanceof Error ? err.message : String(err)}`;
    },
  });
  // Far less than one round trip later, on the session's own clock.
  await new Promise<void>((resolve) => {
    env.scheduler.schedule(
      () => {
        subscription.unsubscribe();
        resolve();
      },
      env.virtualTime ? 0.002 : 0,
    );
  });
  if (ended !== undefined) {
    tmf.cancel();
    return `READ ${ended}`;
  }
  const response = await answer;
  if (response === undefined) return 'READ unsubscribed; no ABORT TASK answer within 2 s';
  const why =
    response === TaskManagementResponse.FunctionComplete
      ? ' (aborted in flight)'
      : response === TaskManagementResponse.TaskDoesNotExist
        ? ' (the target had already finished it)'
        : '';
  return `READ unsubscribed -> ABORT TASK -> ${tmfResponseName(response)}${why}`;
}

/** Runs the story; `log` gets one event per step. */
export async function runScenario(
  env: DemoEnvironment,
  options: ScenarioOptions,
  log: EventLog,
  tmf: TmfWatcher,
): Promise<ScenarioResult> {
  const common = {
    connector: env.connector,
    initiatorName: DEMO_INITIATOR,
    scheduler: env.scheduler,
    ...(env.initiatorRandom === undefined ? {} : { random: env.initiatorRandom }),
  };
  const discovered = await discover(env.portal, common);
  log.record('demo', 'discovered', { targets: discovered.map((t) => t.name) });

  const session = await login({ ...common, portal: env.portal, targetName: DEMO_IQN, transport: env.kind });
  const params = session.params;
  log.record('demo', 'logged-in', { tsih: session.tsih, rdmaExtensions: params.rdmaExtensions });
  let commands = 0;
  try {
    const lun = session.lun(0, { blockSize: BLOCK });
    // A new I_T nexus starts with a power-on UNIT ATTENTION; clear it as every initiator does.
    await clearUnitAttention(lun, 10_000, env.scheduler);
    const pattern = new DemoPattern(options.seed);
    const chunks = Math.ceil(options.bytes / options.chunk);
    const chunkBlocks = options.chunk / BLOCK;

    const writeTime = await timed(env, () =>
      inFlight(chunks, options.depth, async (i) => {
        commands++;
        await lun.promises.write(i * chunkBlocks, pattern.blocks(i * chunkBlocks, chunkBlocks));
      }),
    );
    log.record('demo', 'written', { commands: chunks, bytes: chunks * options.chunk });
    await options.afterWrite?.(env);

    let mismatches = 0;
    let firstMismatchOffset: number | undefined;
    const readTime = await timed(env, () =>
      inFlight(chunks, options.depth, async (i) => {
        commands++;
        const data = await lun.promises.read(i * chunkBlocks, chunkBlocks);
        const at = firstDifference(pattern.blocks(i * chunkBlocks, chunkBlocks), data);
        if (at !== undefined) {
          mismatches++;
          firstMismatchOffset ??= i * options.chunk + at;
        }
      }),
    );
    log.record('demo', 'verified', { commands: chunks, mismatches });

    commands++;
    const abort = await abortOne(env, lun, Math.min(2048, (chunks * options.chunk) / BLOCK), tmf);
    log.record('demo', 'aborted', { outcome: abort });

    commands += 2;
    await lun.promises.testUnitReady();
    const again = await lun.promises.read(0, chunkBlocks);
    const aliveAfterAbort = firstDifference(pattern.blocks(0, chunkBlocks), again) === undefined;
    log.record('demo', 'alive-after-abort', { ok: aliveAfterAbort });

    const logout = await session.logout();
    log.record('demo', 'logged-out', { time2Wait: logout.time2Wait, time2Retain: logout.time2Retain });
    const phase = (time: { virtualMs: number; wallMs: number }): PhaseTime => ({
      commands: chunks,
      bytes: chunks * options.chunk,
      ...time,
    });
    return {
      discovered,
      login: {
        tsih: session.tsih,
        rdmaExtensions: params.rdmaExtensions,
        recvSegment: params.rdmaExtensions
          ? params.targetRecvDataSegmentLength
          : params.maxRecvDataSegmentLength.target,
      },
      write: phase(writeTime),
      read: phase(readTime),
      mismatches,
      firstMismatchOffset,
      abort,
      aliveAfterAbort,
      logout,
      commands,
    };
  } finally {
    await session.close();
  }
}
