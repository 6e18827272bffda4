/**
 * Parsers for iscsi-test-cu (libiscsi 1.19 test-tool/iscsi-test-cu.c, CUnit 2.1-3) output, and a JUnit writer.
 *
 * A libiscsi test that cannot run (command not implemented, --dataloss not given, ...) prints `[SKIPPED] ...` and
 * then *passes* as far as CUnit knows (`CU_PASS`). So skips are only visible on the console: in verbose mode CUnit
 * prints `  Test: NAME ...`, then whatever the test logs, then `passed` or `FAILED` plus numbered assertion
 * failures. We count a test as skipped when it passed and logged `[SKIPPED]` (the convention behind the published
 * tgt 1.0.85 baseline of 160 pass / 8 fail / 62 skip). The CUnit XML (`--xml`) has no trace of skips.
 */
import { PeerError, PeerErrorCode } from './errors.js';

/** Outcome of one iscsi-test-cu test. */
export type TestCuOutcome = 'passed' | 'failed' | 'skipped';

/** One test's result. */
export interface TestCuTestResult {
  /** `Suite.Test`, e.g. `iSCSIcmdsn.iSCSICmdSnTooHigh` (suite names are unique within a run). */
  readonly name: string;
  readonly suite: string;
  readonly test: string;
  readonly result: TestCuOutcome;
  /** `[FAILED] ...`/`[SKIPPED] ...` lines the test logged, then CUnit's assertion failures (`file:line - cond`). */
  readonly messages: readonly string[];
}

/** CUnit's own "Run Summary" table: one row. */
export interface CunitSummaryRow {
  readonly total: number;
  readonly ran: number;
  /** undefined where CUnit prints `n/a`. */
  readonly passed: number | undefined;
  readonly failed: number;
  readonly inactive: number | undefined;
}

/** CUnit's "Run Summary". */
export interface CunitSummary {
  readonly suites: CunitSummaryRow;
  readonly tests: CunitSummaryRow;
  readonly asserts: CunitSummaryRow;
}

/** What a console run of iscsi-test-cu said. */
export interface TestCuConsoleReport {
  readonly perTest: readonly TestCuTestResult[];
  /** Suites whose setup failed (their tests did not run). */
  readonly suiteErrors: readonly string[];
  /** Absent when the run did not get as far as the summary (killed, crashed). */
  readonly summary: CunitSummary | undefined;
}

const TEST_LINE = /^ {2}Test: (.+?) \.\.\./;
const SUITE_LINE = /^Suite: (.+)$/;
const ASSERTION_LINE = /^\s+\d+\. (.+)$/;

/** Parses verbose-mode (`-v`, the default) console output. Throws when CUnit's own summary disagrees with ours. */
export function parseTestCuConsole(stdout: string): TestCuConsoleReport {
  const lines = stdout.split('\n');
  const perTest: TestCuTestResult[] = [];
  const suiteErrors: string[] = [];
  let suite = '';
  let summaryAt = -1;
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    const suiteMatch = SUITE_LINE.exec(line);
    if (suiteMatch !== null) {
      suite = suiteMatch[1]!;
      i++;
      continue;
    }
    if (line.startsWith('Run Summary:')) {
      summaryAt = i;
      break;
    }
    if (/Suite initialization failed|Suite cleanup failed/.test(line)) suiteErrors.push(line.trim());
    const testMatch = TEST_LINE.exec(line);
    if (testMatch === null) {
      i++;
      continue;
    }
    // The test's block runs up to the next test, suite or summary line.
    let end = i + 1;
    while (end < lines.length && !isBoundary(lines[end]!)) end++;
    const block = [line.slice(testMatch[0].length), ...lines.slice(i + 1, end)];
    perTest.push(readBlock(suite, testMatch[1]!, block));
    i = end;
  }
  const summary = summaryAt < 0 ? undefined : parseSummary(lines.slice(summaryAt, summaryAt + 4));
  if (summary !== undefined) checkAgainstSummary(perTest, summary);
  return { perTest, suiteErrors, summary };
}

function isBoundary(line: string): boolean {
  return TEST_LINE.test(line) || SUITE_LINE.test(line) || line.startsWith('Run Summary:');
}

function readBlock(suite: string, test: string, block: readonly string[]): TestCuTestResult {
  // CUnit prints the verdict right after the test's own output; assertion failures follow on their own lines.
  // A suite teardown may log on the verdict's line after it ("passed    [FAILED] PRIN command: ..."), so a
  // verdict is `passed`/`FAILED` at the end of a line or before a libiscsi log line (`  [...`); the last one wins.
  const text = block.join('\n');
  const verdicts = [...text.matchAll(/(passed|FAILED)(?=[ \t]*(?:\n|$)|[ \t]+\[)/g)];
  const verdict = verdicts.at(-1);
  if (verdict === undefined) {
    throw new PeerError(PeerErrorCode.Parse, `iscsi-test-cu: no verdict for ${suite}.${test}`);
  }
  const tags = (s: string): string[] => [...s.matchAll(/\[(SKIPPED|FAILED)\][^[\n]*/g)].map((m) => m[0].trim());
  const before = text.slice(0, verdict.index);
  const after = text.slice(verdict.index + verdict[0].length);
  const logged = tags(before);
  const assertions = after
    .split('\n')
    .map((l) => ASSERTION_LINE.exec(l)?.[1]?.trim())
    .filter((l): l is string => l !== undefined);
  // Lines logged after the verdict come from the suite's teardown: kept for the reader, not judged.
  const teardown = tags(after).map((m) => `after the verdict: ${m}`);
  const skipped = logged.some((m) => m.startsWith('[SKIPPED]'));
  return {
    name: `${suite}.${test}`,
    suite,
    test,
    result: verdict[1] === 'FAILED' ? 'failed' : skipped ? 'skipped' : 'passed',
    messages: [...logged, ...assertions, ...teardown],
  };
}

function parseSummary(lines: readonly string[]): CunitSummary | undefined {
  const row = (kind: string): CunitSummaryRow | undefined => {
    const line = lines.find((l) => l.trim().startsWith(`${kind} `));
    const cells = line?.trim().split(/\s+/).slice(-5);
    if (cells?.length !== 5) return undefined;
    const n = (s: string | undefined): number | undefined => (s === undefined || s === 'n/a' ? undefined : Number(s));
    const [total, ran, passed, failed, inactive] = cells.map(n);
    if (total === undefined || ran === undefined || failed === undefined) return undefined;
    return { total, ran, passed, failed, inactive };
  };
  const suites = row('suites');
  const tests = row('tests');
  const asserts = row('asserts');
  if (suites === undefined || tests === undefined || asserts === undefined) {
    throw new PeerError(PeerErrorCode.Parse, `iscsi-test-cu: unreadable Run Summary: ${lines.join(' | ')}`);
  }
  return { suites, tests, asserts };
}

function checkAgainstSummary(perTest: readonly TestCuTestResult[], summary: CunitSummary): void {
  const failed = perTest.filter((t) => t.result === 'failed').length;
  if (perTest.length !== summary.tests.ran || failed !== summary.tests.failed) {
    throw new PeerError(
      PeerErrorCode.Parse,
      `iscsi-test-cu: parsed ${perTest.length} tests / ${failed} failed, CUnit says ${summary.tests.ran} / ${summary.tests.failed}`,
    );
  }
}

/** One test in CUnit's XML results (pass/fail only: see the file comment). */
export interface CunitXmlTestResult {
  readonly name: string;
  readonly suite: string;
  readonly test: string;
  readonly result: 'passed' | 'failed';
  /** `file:line CONDITION` of each failed assertion. */
  readonly failures: readonly string[];
}

/** Parses CUnit's `CUnitAutomated-Results.xml` (what `iscsi-test-cu --xml` writes into its working directory). */
export function parseCunitResultsXml(xml: string): CunitXmlTestResult[] {
  const results: { name: string; suite: string; test: string; result: 'passed' | 'failed'; failures: string[] }[] = [];
  const suites = xml.split('<CUNIT_RUN_SUITE>').slice(1);
  for (const suiteXml of suites) {
    const suite = element(suiteXml, 'SUITE_NAME');
    if (suite === undefined) throw new PeerError(PeerErrorCode.Parse, 'CUnit XML: a suite without SUITE_NAME');
    for (const m of suiteXml.matchAll(/<CUNIT_RUN_TEST_(SUCCESS|FAILURE)>([\s\S]*?)<\/CUNIT_RUN_TEST_\1>/g)) {
      const body = m[2]!;
      const test = element(body, 'TEST_NAME');
      if (test === undefined)
        throw new PeerError(PeerErrorCode.Parse, `CUnit XML: a test without TEST_NAME in ${suite}`);
      // CUnit writes one record per failed assertion: fold them into one test.
      let entry = results.find((r) => r.suite === suite && r.test === test);
      if (entry === undefined) {
        entry = { name: `${suite}.${test}`, suite, test, result: 'passed', failures: [] };
        results.push(entry);
      }
      if (m[1] === 'FAILURE') {
        entry.result = 'failed';
        const where = `${element(body, 'FILE_NAME') ?? '?'}:${element(body, 'LINE_NUMBER') ?? '?'}`;
        entry.failures.push(`${where} ${element(body, 'CONDITION') ?? ''}`.trim());
      }
    }
  }
  return results;
}

function element(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m?.[1] === undefined ? undefined : unescapeXml(m[1].trim());
}

function unescapeXml(s: string): string {
  return s
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&amp;', '&');
}

function escapeXml(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** Renders results as JUnit XML (what CI dashboards read), skips included, one `<testsuite>` per CUnit suite. */
export function toJUnitXml(runName: string, perTest: readonly TestCuTestResult[]): string {
  const suites = new Map<string, TestCuTestResult[]>();
  for (const t of perTest) suites.set(t.suite, [...(suites.get(t.suite) ?? []), t]);
  const count = (ts: readonly TestCuTestResult[], r: TestCuOutcome): number => ts.filter((t) => t.result === r).length;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXml(runName)}" tests="${perTest.length}" failures="${count(perTest, 'failed')}" skipped="${count(perTest, 'skipped')}">`,
  ];
  for (const [suite, tests] of suites) {
    out.push(
      `  <testsuite name="${escapeXml(suite)}" tests="${tests.length}" failures="${count(tests, 'failed')}" skipped="${count(tests, 'skipped')}">`,
    );
    for (const t of tests) {
      const open = `    <testcase classname="${escapeXml(suite)}" name="${escapeXml(t.test)}"`;
      const text = escapeXml(t.messages.join('\n'));
      if (t.result === 'passed') out.push(`${open}/>`);
      else if (t.result === 'skipped') out.push(`${open}><skipped message="${text}"/></testcase>`);
      else out.push(`${open}><failure message="${escapeXml(t.messages[0] ?? 'failed')}">${text}</failure></testcase>`);
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}

/** One entry of `iscsi-test-cu --list`: a test (`FAMILY.Suite.Test`). */
export interface TestCuListEntry {
  readonly family: string;
  readonly suite: string;
  readonly test: string;
  /** `FAMILY.Suite.Test`, usable as `--test`. */
  readonly name: string;
}

/** Parses `iscsi-test-cu --list` into its tests (family and suite lines are implied by them). */
export function parseTestCuList(stdout: string): TestCuListEntry[] {
  const entries: TestCuListEntry[] = [];
  for (const raw of stdout.split('\n')) {
    const parts = raw.trim().split('.');
    if (parts.length !== 3) continue;
    const [family, suite, test] = parts as [string, string, string];
    entries.push({ family, suite, test, name: `${family}.${suite}.${test}` });
  }
  return entries;
}
