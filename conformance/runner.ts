/**
 * `runConformance`: runs the properties against one (target, transport), each bounded by its share of the time
 * budget and by per-step timeouts on the target's scheduler, and reports each as passed, failed (with fast-check's
 * shrunk counterexample, the seed and path that replay it, the PDU exchange of the failing run and, where there
 * are packets, a pcapng) or skipped (with the reason).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type fc from 'fast-check';
import type { TransportKind } from '../protocol/datamover.js';
import type { NegotiationConfig } from '../protocol/text/config.js';
import type { VerbsProvider } from '../transports/verbs.js';
import { RunContext, SuiteContext } from './context.js';
import { ConformanceError, ConformanceViolation } from './errors.js';
import { junitXml } from './junit.js';
import { ALL_PROPERTIES } from './properties/index.js';
import type { ProgressEvent } from './progress.js';
import { PROPERTY_GROUPS, type ConformanceProperty, type PropertyGroup } from './property.js';
import { Exchange } from './record/exchange.js';
import { recordingsToPcapng } from './record/pcap.js';
import { RecordingTcpProxy } from './record/tcp-recorder.js';
import { summaryLine, type ConformanceReport, type PropertyFailure, type PropertyResult } from './results.js';
import { probeLun } from './support/lun-facts.js';
import type { ConformanceTarget } from './target.js';
import { targetFromUrl } from './url-target.js';

/** Options of {@link runConformance}. */
export interface RunConformanceOptions {
  /** An iscsi:// or iser:// URL (real time), or a target built by the caller (e.g. on a simulator). */
  readonly target: string | ConformanceTarget;
  /** For a URL: overrides its scheme. */
  readonly transport?: TransportKind;
  /** For an iser URL: the Verbs provider. */
  readonly provider?: VerbsProvider;
  /** Wall-clock budget of the whole run, split evenly between the selected properties. */
  readonly budgetSeconds: number;
  /** fast-check's seed: the same seed draws the same inputs (and, on a simulator, gives the same run). */
  readonly seed: number;
  /** Groups (`data`) or property ids (`data/read-your-writes`) to run; default all. */
  readonly only?: readonly string[];
  /** Write JUnit XML here. */
  readonly junit?: string;
  /** Write each failure's pcapng here (file per property). */
  readonly artifactsDir?: string;
  /** Called as the run progresses. */
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Replays one counterexample: the property id and fast-check's path (and replay hint for sequences). */
  readonly replay?: { readonly property: string; readonly path: string; readonly replayPath?: string };
  /** Initiator preferences the negotiation properties draw (default: the suite's own generator). */
  readonly offers?: fc.Arbitrary<NegotiationConfig>;
  /** The properties to choose from (default: all of them). */
  readonly properties?: readonly ConformanceProperty[];
  /** For a URL: the initiator name. */
  readonly initiatorName?: string;
}

/**
 * How long a run may overrun its property's share before it is cut: at least one step's own bound more, so a target
 * that never answers is reported by that step's timeout (a finding), not hidden by the cut (a run that proves nothing).
 */
const BUDGET_GRACE_MS = 10_000;

/** Budget below which a property is not worth starting. */
const MIN_SHARE_MS = 200;

function select(
  properties: readonly ConformanceProperty[],
  only: readonly string[] | undefined,
): ConformanceProperty[] {
  if (only === undefined || only.length === 0) return [...properties];
  for (const item of only) {
    const known =
      (PROPERTY_GROUPS as readonly string[]).includes(item) || properties.some((p) => p.id === item || p.name === item);
    if (!known) {
      throw new ConformanceError(
        'ERR_CONFORMANCE_BAD_OPTIONS',
        `unknown group or property '${item}' (groups: ${PROPERTY_GROUPS.join(', ')})`,
      );
    }
  }
  return properties.filter((p) => only.some((o) => o === p.group || o === p.id || o === p.name));
}

function message(err: unknown): string {
  return err instanceof Error
    ? `${err.message}${'code' in err && typeof err.code === 'string' ? ` (${err.code})` : ''}`
    : String(err);
}

/** The last failing run of a property: its exchange and packets. */
interface FailureRecord {
  readonly exchange: string[];
  readonly pcapng: Buffer | undefined;
}

async function probe(suite: SuiteContext): Promise<void> {
  const target = suite.target;
  const run = new RunContext(suite, new Exchange(), 'probe', []);
  suite.current = run.exchange;
  try {
    await target.run(
      (async () => {
        const session = await run.login();
        const lun = await run.lun(session);
        const scratch = suite.scratch;
        suite.facts = await probeLun(lun, scratch.firstLba, (work, what) => run.bounded(work, what));
      })(),
    );
  } catch (err) {
    suite.probeError = err instanceof Error ? err : new Error(String(err));
  } finally {
    await target.run(run.dispose()).catch(() => undefined);
    suite.current = undefined;
  }
}

async function runProperty(
  suite: SuiteContext,
  property: ConformanceProperty,
  options: RunConformanceOptions,
  shareMs: number,
): Promise<PropertyResult> {
  const started = Date.now();
  const base = {
    id: property.id,
    group: property.group,
    name: property.name,
    rfc: property.rfc,
    title: property.title,
  };
  const notes: string[] = [];
  const counts = new Map<string, number>();
  const done = (rest: Omit<PropertyResult, keyof typeof base | 'durationMs' | 'notes'>): PropertyResult => ({
    ...base,
    ...rest,
    notes:
      counts.size === 0
        ? notes
        : [...notes, `exercised: ${[...counts].map(([label, n]) => `${label} ×${n}`).join(', ')}`],
    durationMs: Date.now() - started,
  });
  if (property.needsLun && suite.facts === undefined) {
    const failure: PropertyFailure = {
      message: `the suite could not log in and probe the LUN: ${message(suite.probeError)}`,
      rfc: property.rfc,
      counterexample: '(none: the property could not start)',
      counterexampleSize: 0,
      seed: suite.seed,
      path: undefined,
      replayPath: undefined,
      shrinks: 0,
      exchange: [],
      pcapng: undefined,
      pcapngPath: undefined,
      replay: `--seed ${suite.seed} --only ${property.id}`,
    };
    return done({ status: 'failed', runs: 0, failure });
  }
  const reason = property.skip(suite);
  if (reason !== undefined) return done({ status: 'skipped', runs: 0, reason });

  const target = suite.target;
  let runNumber = 0;
  let lastFailure: FailureRecord | undefined;
  const replay = options.replay?.property === property.id ? options.replay : undefined;
  const outcome = await property.check(suite, {
    seed: suite.seed,
    numRuns: replay === undefined ? property.runs : 1,
    ...(replay === undefined ? {} : { path: replay.path }),
    ...(replay?.replayPath === undefined ? {} : { replayPath: replay.replayPath }),
    deadline: started + shareMs,
    wrap: async (body) => {
      runNumber += 1;
      options.onProgress?.({ type: 'run', id: property.id, run: runNumber });
      const exchange = new Exchange();
      suite.current = exchange;
      suite.proxy?.begin();
      const capture = target.capture?.start();
      const run = new RunContext(
        suite,
        exchange,
        `${property.id}:${runNumber}`,
        notes,
        counts,
        started + shareMs + Math.max(BUDGET_GRACE_MS, suite.opTimeoutMs + 2000),
      );
      let failure: unknown;
      let failed = false;
      try {
        await target.run(body(run));
      } catch (err) {
        failed = true;
        failure = err;
        run.wire();
        lastFailure = {
          exchange: exchange.describe(80),
          pcapng:
            capture?.stop() ?? (suite.proxy === undefined ? undefined : recordingsToPcapng(suite.proxy.recordings)),
        };
      }
      try {
        await target.run(run.dispose());
      } finally {
        if (!failed) capture?.stop();
        suite.current = undefined;
      }
      if (failed) throw failure;
    },
  });
  if (!outcome.failed) {
    // No run finished: nothing was checked, so it is not a pass (a slow target can eat a whole share in one login).
    if (outcome.numRuns === 0) {
      return done({ status: 'skipped', runs: 0, reason: 'the time budget ran out before a first run completed' });
    }
    if (outcome.interrupted && outcome.numRuns < property.runs) {
      notes.push(`the time budget allowed ${outcome.numRuns} of ${property.runs} runs`);
    }
    return done({ status: 'passed', runs: outcome.numRuns });
  }
  const error = outcome.error;
  const violation = error instanceof ConformanceViolation ? error : undefined;
  let pcapngPath: string | undefined;
  if (lastFailure?.pcapng !== undefined && options.artifactsDir !== undefined) {
    await mkdir(options.artifactsDir, { recursive: true });
    pcapngPath = join(options.artifactsDir, `${property.id.replace('/', '.')}.pcapng`);
    await writeFile(pcapngPath, lastFailure.pcapng);
  }
  const pathArg = outcome.path === undefined ? '' : ` --path ${outcome.path}`;
  const failure: PropertyFailure = {
    message: message(error),
    rfc: violation?.rfc ?? property.rfc,
    counterexample: outcome.counterexample ?? '(none)',
    counterexampleSize: outcome.counterexampleSize ?? 0,
    seed: outcome.seed,
    path: outcome.path,
    replayPath: outcome.replayPath,
    shrinks: outcome.numShrinks,
    exchange: lastFailure?.exchange ?? [],
    pcapng: lastFailure?.pcapng,
    pcapngPath,
    replay: `--seed ${outcome.seed} --only ${property.id}${pathArg}`,
  };
  return done({ status: 'failed', runs: outcome.numRuns, failure });
}

/** Runs the conformance properties against a target; never throws for a finding (only for bad options). */
export async function runConformance(options: RunConformanceOptions): Promise<ConformanceReport> {
  if (!(Number.isFinite(options.budgetSeconds) && options.budgetSeconds > 0)) {
    throw new ConformanceError('ERR_CONFORMANCE_BAD_OPTIONS', 'budgetSeconds must be a positive number');
  }
  if (!Number.isSafeInteger(options.seed)) {
    throw new ConformanceError('ERR_CONFORMANCE_BAD_OPTIONS', 'seed must be an integer');
  }
  const target =
    typeof options.target === 'string'
      ? targetFromUrl(options.target, {
          ...(options.transport === undefined ? {} : { transport: options.transport }),
          ...(options.provider === undefined ? {} : { provider: options.provider }),
          ...(options.initiatorName === undefined ? {} : { initiatorName: options.initiatorName }),
        })
      : options.target;
  const selected = select(
    options.properties ?? ALL_PROPERTIES,
    options.replay === undefined ? options.only : [options.replay.property],
  );
  const proxy =
    target.transport === 'tcp' && target.tapTcp !== false
      ? await RecordingTcpProxy.start(target.portal, target.scheduler)
      : undefined;
  const suite = new SuiteContext({ target, seed: options.seed, proxy, offers: options.offers });
  const results: PropertyResult[] = [];
  const deadline = Date.now() + options.budgetSeconds * 1000;
  try {
    options.onProgress?.({ type: 'probe', target: target.description });
    await probe(suite);
    for (const [index, property] of selected.entries()) {
      options.onProgress?.({ type: 'property-start', id: property.id, index, total: selected.length });
      const left = selected.length - index;
      const shareMs = Math.max(0, (deadline - Date.now()) / left);
      const result =
        shareMs < MIN_SHARE_MS
          ? {
              id: property.id,
              group: property.group,
              name: property.name,
              rfc: property.rfc,
              title: property.title,
              status: 'skipped' as const,
              runs: 0,
              durationMs: 0,
              notes: [],
              reason: 'the time budget ran out before it could start',
            }
          : await runProperty(suite, property, options, shareMs);
      results.push(result);
      options.onProgress?.({ type: 'property-end', result, index, total: selected.length });
    }
  } finally {
    await proxy?.close();
  }
  const report: ConformanceReport = {
    target: target.description,
    seed: options.seed,
    results,
    passed: results.filter((r) => r.status === 'passed').length,
    failed: results.filter((r) => r.status === 'failed').length,
    skipped: results.filter((r) => r.status === 'skipped').length,
    summary: summaryLine(results),
  };
  if (options.junit !== undefined) await writeFile(options.junit, junitXml(report));
  return report;
}

/** The property groups, for CLIs and docs. */
export const GROUPS: readonly PropertyGroup[] = PROPERTY_GROUPS;
