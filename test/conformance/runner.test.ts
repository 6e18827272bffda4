/**
 * How the runner turns a property's outcome into a result: a property none of whose runs completed within the
 * budget checked nothing, so it is skipped with the reason, never passed (a slow target, like LIO in a TCG guest,
 * can spend a whole share in one login).
 */
import fc from 'fast-check';
import { asyncScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { ConformanceError } from '../../conformance/errors.js';
import { defineProperty, type ConformanceProperty } from '../../conformance/property.js';
import { runConformance } from '../../conformance/runner.js';
import type { ConformanceTarget } from '../../conformance/target.js';
import { IserError } from '../../protocol/errors.js';

/** A target nobody can reach: the probe fails at once, which properties that need no LUN do not mind. */
const unreachable: ConformanceTarget = {
  description: 'nowhere',
  transport: 'tcp',
  portal: { host: '127.0.0.1', port: 9 },
  targetName: 'iqn.2024-01.test:nowhere',
  lun: 0,
  initiatorName: 'iqn.2024-01.test:runner',
  scheduler: asyncScheduler,
  connector: () => ({
    kind: 'tcp',
    connect: () => Promise.reject(new IserError('ERR_TEST_UNREACHABLE', 'unreachable')),
  }),
  run: (work) => work,
  tapTcp: false,
};

function property(name: string, check: () => Promise<void>): ConformanceProperty {
  return defineProperty<number>({
    group: 'sequencing',
    name,
    rfc: 'RFC 7143 §4.2.2.1',
    title: name,
    runs: 3,
    needsLun: false,
    arbitrary: () => fc.nat(),
    check,
  });
}

describe('runConformance results', () => {
  it('reports a step the target never answers as a failure even when its bound is longer than the grace', async () => {
    // 11 s per step against a 10 s grace: the cut must wait for the step's own timeout.
    const report = await runConformance({
      target: { ...unreachable, opTimeoutMs: 11_000 },
      budgetSeconds: 0.5,
      seed: 1,
      properties: [
        defineProperty<number>({
          group: 'sequencing',
          name: 'never-answered',
          rfc: 'RFC 7143 §11.4.5',
          title: 'a command the target never answers',
          runs: 1,
          needsLun: false,
          arbitrary: () => fc.nat(),
          check: (run) => run.bounded(new Promise<never>(() => undefined), 'READ(10) of 0 blocks'),
        }),
      ],
    });
    const [result] = report.results;
    expect(result?.status).toBe('failed');
    expect(result?.failure?.message).toMatch(/READ\(10\) of 0 blocks/);
  }, 30_000);

  it('skips a property whose every run the budget cut, and passes one whose runs completed', async () => {
    const report = await runConformance({
      target: unreachable,
      budgetSeconds: 5,
      seed: 1,
      properties: [
        property('always-cut', () =>
          Promise.reject(new ConformanceError('ERR_CONFORMANCE_BUDGET', 'the time budget ran out')),
        ),
        property('completes', () => Promise.resolve()),
      ],
    });
    const [cut, completes] = report.results;
    expect(cut?.status).toBe('skipped');
    expect(cut?.reason).toMatch(/before a first run completed/);
    expect(completes?.status).toBe('passed');
    expect(completes?.runs).toBe(3);
    expect(report.summary).toBe('1 passed, 0 failed, 1 skipped');
  });
});
