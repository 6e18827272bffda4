/**
 * Runs libiscsi's conformance suite, iscsi-test-cu, against a URL and returns typed results.
 *
 * Flags (libiscsi 1.19): `--test=FAMILY[.SUITE[.TEST]]` (fnmatch patterns, comma-separated, or a file of names),
 * `--list`, `--dataloss` (allow writes: without it most write tests skip and the PR tests fail), `--allow-sanitize`,
 * `-i`/`-I` (first and second initiator name: the reservation tests log a second session in as `-I`),
 * `--xml` (CUnit "automated" mode: writes CUnitAutomated-Results.xml and -Listing.xml into the working directory,
 * prints no per-test lines, and loses the skips), and a second URL for the MultipathIO suite.
 *
 * Exit status: 0 all passed, 1 some failed, 255 (-1) setup failed (login, READ CAPACITY, INQUIRY...), 10 bad usage.
 * A full `--test=ALL --dataloss` run against tgt 1.0.85 with a 64 MiB LUN takes about 20 s on loopback.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerError, PeerErrorCode } from './errors.js';
import { runTool, runToolChecked, tail } from './run-tool.js';
import {
  parseCunitResultsXml,
  parseTestCuConsole,
  parseTestCuList,
  toJUnitXml,
  type CunitSummary,
  type TestCuListEntry,
  type TestCuTestResult,
} from './test-cu-parse.js';

export * from './test-cu-parse.js';

/** Options of {@link runIscsiTestCu}. */
export interface TestCuOptions {
  /** `--test`: `ALL`, or `FAMILY[.SUITE[.TEST]]` patterns, comma-separated. Default `ALL`. */
  readonly tests?: string;
  /** Hard bound on the run; the suite is killed (by pid) after it. */
  readonly timeoutMs: number;
  /** `--dataloss`: allow tests that write to the LUN. Default false. */
  readonly dataloss?: boolean;
  /** `--allow-sanitize`: allow SANITIZE tests. Default false. */
  readonly allowSanitize?: boolean;
  /** `-i`: initiator name of the main session. */
  readonly initiatorName?: string;
  /** `-I`: initiator name of the second session some tests open (reservations, Reserve6.2Initiators). */
  readonly initiatorName2?: string;
  /** A second URL to the same LU through another path, for the MultipathIO suite. */
  readonly multipathUrl?: string;
  /**
   * `console` (default): verbose console output, parsed per test with skips. `cunit-xml`: `--xml` mode, parsed
   * from CUnitAutomated-Results.xml; skips then read as passes (`skipsKnown` false).
   */
  readonly mode?: 'console' | 'cunit-xml';
  /** Write the results as JUnit XML here (both modes). */
  readonly junitXmlPath?: string;
  /** In `cunit-xml` mode, keep a copy of CUnit's own results file here. */
  readonly cunitXmlPath?: string;
}

/** Results of an iscsi-test-cu run. */
export interface TestCuResult {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Tests that ran. */
  readonly total: number;
  readonly perTest: readonly TestCuTestResult[];
  /** False in `cunit-xml` mode: skipped tests are counted as passed there. */
  readonly skipsKnown: boolean;
  /** CUnit's own summary (console mode). */
  readonly summary: CunitSummary | undefined;
  readonly suiteErrors: readonly string[];
  readonly exitCode: number | null;
  readonly durationMs: number;
  /** The console output, for a person to read when something is odd. */
  readonly stdout: string;
}

/** Runs iscsi-test-cu against `url`; rejects on a timeout, a setup failure, or output it cannot parse. */
export async function runIscsiTestCu(url: string, opts: TestCuOptions): Promise<TestCuResult> {
  const mode = opts.mode ?? 'console';
  const args = [`--test=${opts.tests ?? 'ALL'}`];
  if (opts.dataloss === true) args.push('--dataloss');
  if (opts.allowSanitize === true) args.push('--allow-sanitize');
  if (opts.initiatorName !== undefined) args.push(`--initiator-name=${opts.initiatorName}`);
  if (opts.initiatorName2 !== undefined) args.push(`--initiator-name-2=${opts.initiatorName2}`);
  args.push(mode === 'cunit-xml' ? '--xml' : '--verbose', url);
  if (opts.multipathUrl !== undefined) args.push(opts.multipathUrl);

  // --xml writes into the working directory: give each run its own.
  const cwd = await mkdtemp(join(tmpdir(), 'iser-test-cu-'));
  try {
    const run = await runTool('iscsi-test-cu', args, { timeoutMs: opts.timeoutMs, cwd });
    const command = `iscsi-test-cu ${args.join(' ')}`;
    if (run.timedOut) {
      const last = [...run.stdout.matchAll(/^ {2}Test: (\S+)/gm)].at(-1)?.[1] ?? 'none';
      throw new PeerError(PeerErrorCode.Timeout, `${command}: killed after ${opts.timeoutMs} ms (last test: ${last})`);
    }
    if (run.exitCode !== 0 && run.exitCode !== 1) {
      throw new PeerError(
        PeerErrorCode.Exit,
        `${command} exited ${run.exitCode ?? run.signal ?? '?'}: ${tail(run.stderr + run.stdout)}`,
        { exitCode: run.exitCode, stderr: tail(run.stderr) },
      );
    }
    let perTest: readonly TestCuTestResult[];
    let summary: CunitSummary | undefined;
    let suiteErrors: readonly string[] = [];
    if (mode === 'cunit-xml') {
      const resultsPath = join(cwd, 'CUnitAutomated-Results.xml');
      const xml = await readFile(resultsPath, 'utf8');
      if (opts.cunitXmlPath !== undefined) await copyFile(resultsPath, opts.cunitXmlPath);
      perTest = parseCunitResultsXml(xml).map((t) => ({
        name: t.name,
        suite: t.suite,
        test: t.test,
        result: t.result,
        messages: t.failures,
      }));
    } else {
      ({ perTest, summary, suiteErrors } = parseTestCuConsole(run.stdout));
      if (summary === undefined) {
        throw new PeerError(PeerErrorCode.Parse, `${command}: no Run Summary in the output: ${tail(run.stdout)}`);
      }
    }
    if (opts.junitXmlPath !== undefined) {
      await writeFile(opts.junitXmlPath, toJUnitXml(`iscsi-test-cu ${opts.tests ?? 'ALL'}`, perTest));
    }
    const count = (r: TestCuTestResult['result']): number => perTest.filter((t) => t.result === r).length;
    return {
      passed: count('passed'),
      failed: count('failed'),
      skipped: count('skipped'),
      total: perTest.length,
      perTest,
      skipsKnown: mode === 'console',
      summary,
      suiteErrors,
      exitCode: run.exitCode,
      durationMs: run.durationMs,
      stdout: run.stdout,
    };
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
}

/** `iscsi-test-cu --list`: every test the installed suite knows (`FAMILY.Suite.Test`; family `ALL` holds them all). */
export async function listTests(opts: { readonly timeoutMs?: number } = {}): Promise<TestCuListEntry[]> {
  const r = await runToolChecked('iscsi-test-cu', ['--list'], { timeoutMs: opts.timeoutMs ?? 10_000 });
  return parseTestCuList(r.stdout);
}
