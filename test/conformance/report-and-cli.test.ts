/**
 * The report's outputs: the summary line, JUnit XML, and the `iser conformance` command (usage errors, exit
 * codes, the last line of its output) run in-process against our target.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runConformanceCli, ConformanceExit } from '../../conformance/cli.js';
import { junitXml } from '../../conformance/junit.js';
import { summaryLine, type ConformanceReport, type PropertyResult } from '../../conformance/results.js';
import { startOursTcp } from './fixtures/ours-tcp.js';
import { startShrinkingWindowTarget } from './fixtures/broken.js';

const base = { group: 'data', rfc: 'RFC 7143 §3.2.2.1', title: 't', runs: 3, durationMs: 10, notes: [] } as const;
const results: PropertyResult[] = [
  { ...base, id: 'data/a', name: 'a', status: 'passed' },
  { ...base, id: 'data/b', name: 'b', status: 'skipped', runs: 0, reason: 'needs <iSER> & "more"' },
  {
    ...base,
    id: 'data/c',
    name: 'c',
    status: 'failed',
    failure: {
      message: 'block 3 should hold w1.0 but holds zero',
      rfc: 'SBC-4 §4.1',
      counterexample: '[write(3,17)]',
      counterexampleSize: 1,
      seed: 7,
      path: '0:1',
      replayPath: undefined,
      shrinks: 4,
      exchange: ['→ scsi-command ITT=0x1'],
      pcapng: undefined,
      pcapngPath: undefined,
      replay: '--seed 7 --only data/c --path 0:1',
    },
  },
];

function captureIo(): { out: string[]; err: string[]; io: Parameters<typeof runConformanceCli>[1] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l) => out.push(l), err: (l) => err.push(l), progress: () => undefined } };
}

describe('conformance reports', () => {
  it('count results in the summary line', () => {
    expect(summaryLine(results)).toBe('1 passed, 1 failed, 1 skipped');
  });

  it('write JUnit XML with a failure, a skip and escaped text', () => {
    const report: ConformanceReport = {
      target: 't',
      seed: 7,
      results,
      passed: 1,
      failed: 1,
      skipped: 1,
      summary: summaryLine(results),
    };
    const xml = junitXml(report);
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /);
    expect(xml).toContain('<testsuite name="conformance.data" tests="3" failures="1" errors="0" skipped="1"');
    expect(xml).toContain('<skipped message="needs &lt;iSER&gt; &amp; &quot;more&quot;"/>');
    expect(xml).toContain('<failure message="block 3 should hold w1.0 but holds zero" type="SBC-4 §4.1">');
    expect(xml).toContain('counterexample (1): [write(3,17)]');
    expect(xml.match(/<testcase /g)).toHaveLength(3);
  });
});

describe('iser conformance (CLI)', () => {
  it('refuses a bad command line with exit code 1', async () => {
    for (const argv of [
      [],
      ['iscsi://127.0.0.1/iqn.2024-01.x:y/0', '--budget', '-3'],
      ['not a url'],
      ['iscsi://127.0.0.1/iqn.2024-01.x:y/0', '--only', 'nonsense'],
    ]) {
      const { io, err } = captureIo();
      expect(await runConformanceCli(argv, io), argv.join(' ')).toBe(ConformanceExit.Usage);
      expect(err.length, argv.join(' ')).toBeGreaterThan(0);
    }
  });

  it('asks for a Verbs provider for iser:// URLs', async () => {
    const { io, err } = captureIo();
    expect(await runConformanceCli(['iser://127.0.0.1/iqn.2024-01.x:y/0'], io)).toBe(ConformanceExit.Usage);
    expect(err.join('\n')).toMatch(/Verbs provider/);
  });

  it('exits 0 against our target and ends with the summary line; writes JUnit', async () => {
    const fixture = await startOursTcp();
    const dir = await mkdtemp(join(tmpdir(), 'iser-conformance-'));
    try {
      const url = `iscsi://127.0.0.1:${fixture.target.portal.port}/${fixture.target.targetName}/0`;
      const junit = join(dir, 'report.xml');
      const { io, out } = captureIo();
      const code = await runConformanceCli(
        [url, '--budget', '3', '--seed', '5', '--only', 'negotiation', '--junit', junit],
        io,
      );
      expect(code, out.join('\n')).toBe(ConformanceExit.Ok);
      expect(out.at(-1)).toBe('2 passed, 0 failed, 1 skipped');
      expect(await readFile(junit, 'utf8')).toContain('tests="3" failures="0"');
    } finally {
      await fixture.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 10 when a property fails, and writes its pcapng to --artifacts', async () => {
    const fixture = await startShrinkingWindowTarget();
    const dir = await mkdtemp(join(tmpdir(), 'iser-conformance-'));
    try {
      const url = `iscsi://127.0.0.1:${fixture.target.portal.port}/${fixture.target.targetName}/0`;
      const { io, out } = captureIo();
      const code = await runConformanceCli(
        [url, '--budget', '4', '--seed', '5', '--only', 'sequencing/maxcmdsn-never-backwards', '--artifacts', dir],
        io,
      );
      expect(code).toBe(ConformanceExit.Failed);
      expect(out.at(-1)).toBe('0 passed, 1 failed, 0 skipped');
      const pcap = await readFile(join(dir, 'sequencing.maxcmdsn-never-backwards.pcapng'));
      expect(pcap.readUInt32LE(0)).toBe(0x0a0d0d0a);
    } finally {
      await fixture.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
