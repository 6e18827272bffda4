/** The conformance suite against our own target over TCP on 127.0.0.1: every property passes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReport } from '../../conformance/results.js';
import { runConformance } from '../../conformance/runner.js';
import { startOursTcp, type Fixture } from './fixtures/ours-tcp.js';

describe('conformance: our target over TCP', () => {
  let fixture: Fixture | undefined;
  beforeAll(async () => {
    fixture = await startOursTcp();
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it('passes every property within its budget', async () => {
    const report = await runConformance({ target: fixture!.target, budgetSeconds: 10, seed: 42 });
    console.info(formatReport(report));
    expect(report.failed, formatReport(report)).toBe(0);
    expect(report.summary).toMatch(/^\d+ passed, 0 failed, \d+ skipped$/);
  });
});
