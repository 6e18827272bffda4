/** Shared by the conformance tests: run the whole suite on a fixture and check the report's shape. */
import { expect } from 'vitest';
import { ALL_PROPERTIES } from '../../conformance/properties/index.js';
import { formatReport, type ConformanceReport } from '../../conformance/results.js';
import { runConformance, type RunConformanceOptions } from '../../conformance/runner.js';
import { arbOperationalConfig } from '../support/arbitraries/text.js';
import type { Fixture } from './fixtures/ours-tcp.js';

/** The seed of the default test run (ISER_SEED overrides it). */
export const SEED = Number(process.env.ISER_SEED ?? 20240501);

/** Runs every property against `fixture` with the text layer's offer generator, and prints the report. */
export async function runSuite(
  fixture: Fixture,
  budgetSeconds: number,
  options: Partial<RunConformanceOptions> = {},
): Promise<ConformanceReport> {
  const report = await runConformance({
    target: fixture.target,
    budgetSeconds,
    seed: SEED,
    offers: arbOperationalConfig,
    ...options,
  });
  console.info(formatReport(report, { exchangeLines: 12 }));
  return report;
}

/** Every property has a result; a failure carries its rule, its counterexample and the exchange behind it. */
export function expectWellFormed(report: ConformanceReport, expectedCount = ALL_PROPERTIES.length): void {
  expect(report.results).toHaveLength(expectedCount);
  expect(report.summary).toBe(`${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped`);
  for (const result of report.results) {
    if (result.status === 'skipped') expect(result.reason, result.id).toBeTruthy();
    if (result.status !== 'failed') continue;
    const failure = result.failure;
    expect(failure, result.id).toBeDefined();
    expect(failure?.rfc, result.id).toMatch(/RFC \d{4}|SBC|SAM/);
    expect(failure?.message, result.id).toBeTruthy();
    expect(failure?.replay, result.id).toContain(`--only ${result.id}`);
  }
}

/** The ids of the properties that failed, with their messages (for assertion messages). */
export function failures(report: ConformanceReport): string {
  return report.results
    .filter((r) => r.status === 'failed')
    .map((r) => `${r.id}: ${r.failure?.message ?? ''}`)
    .join('\n');
}
