/**
 * Scenario files of `iser sim`: the examples parse; every kind of mistake is reported at its line and column with
 * a stable code; durations and sizes accept their spellings.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../config/errors.js';
import { parseScenario } from '../../../cli/sim/scenario.js';

const MINIMAL = `topology:
  transport: fabric
  target:
    luns:
      - { size: 1M }
workload:
  phases:
    - { ops: 10 }
`;

function issues(text: string): { code: string; line: number; column: number; message: string }[] {
  try {
    parseScenario(text, 's.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => ({ ...i }));
  }
  throw new Error('the scenario parsed');
}

describe('scenario files', () => {
  it('parses every example in sim/scenarios', async () => {
    const dir = join(import.meta.dirname, '../../../sim/scenarios');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(['baseline.yaml', 'cable-pull.yaml', 'fabric-faults.yaml', 'lossy-link.yaml']);
    for (const file of files) {
      const scenario = parseScenario(await readFile(join(dir, file), 'utf8'), file);
      expect(scenario.name).toBe(file.replace('.yaml', ''));
      expect(scenario.warnings).toEqual([]);
    }
  });

  it('fills in defaults for a minimal file', () => {
    const s = parseScenario(MINIMAL, 'dir/minimal.yaml');
    expect(s.name).toBe('minimal');
    expect(s.seed).toBe(1);
    expect(s.virtualTimeLimitMs).toBe(60_000);
    expect(s.target.luns).toEqual([{ bytes: 2 ** 20, blockSize: 512 }]);
    expect(s.initiators).toEqual([
      {
        name: 'iqn.2024-01.org.iser:sim-initiator-1',
        sessions: 1,
        recoveryTimeoutMs: 30_000,
        reconnectDelayMs: 10,
        connectTimeoutMs: 2000,
      },
    ]);
    expect(s.phases[0]).toMatchObject({ pattern: 'seq', readPercent: 0, blockSizes: [65536], queueDepth: 8, ops: 10 });
    expect(s.faults).toEqual([]);
  });

  it('reports an unknown key at its line and column', () => {
    expect(issues(MINIMAL.replace('  transport: fabric', '  transport: fabric\n  colour: blue'))).toEqual([
      { code: 'ERR_CONFIG_UNKNOWN_KEY', line: 3, column: 3, message: 'unknown key "colour" in topology' },
    ]);
  });

  it('reports a phase without ops or duration, a missing LUN and a bad block size on their lines', () => {
    const text = MINIMAL.replace(
      '    - { ops: 10 }',
      '    - { lun: 0 }\n    - { ops: 1, lun: 3 }\n    - { ops: 1, blockSize: 1000 }',
    );
    const found = issues(text);
    expect(found.map((i) => [i.line, i.message])).toEqual([
      [8, 'workload.phases[0]: a phase needs exactly one of ops and duration'],
      [9, 'workload.phases[1].lun: LUN 3 does not exist (the target has 1)'],
      [
        10,
        "workload.phases[2].blockSize: block size 1000 must be a multiple of LUN 0's block size 512, at most 16M and at most the LUN",
      ],
    ]);
  });

  it('refuses a fault the transport cannot do, pointing at its kind', () => {
    const text = `${MINIMAL}faults:\n  - kind: link\n    at: 1ms\n    duration: 5ms\n    loss: 0.1\n`;
    expect(issues(text)).toEqual([
      {
        code: 'ERR_CONFIG_VALUE',
        line: 10,
        column: 11,
        message: 'faults[0].kind: link needs transport softroce (this scenario runs on fabric)',
      },
    ]);
  });

  it('refuses soft-RoCE link settings on the fabric', () => {
    const text = MINIMAL.replace('  transport: fabric', '  transport: fabric\n  link: { mtu: 2048, loss: 0.1 }');
    expect(issues(text).map((i) => [i.line, i.message])).toEqual([
      [3, 'topology.link.mtu: mtu needs transport softroce (the fabric moves whole messages)'],
      [3, 'topology.link.loss: loss needs transport softroce (the fabric delivers every message)'],
    ]);
    expect(parseScenario(text.replace('transport: fabric', 'transport: softroce')).link).toMatchObject({
      mtu: 2048,
      loss: 0.1,
    });
  });

  it('refuses a fault with both or neither trigger, and a bad duration', () => {
    const text = `${MINIMAL}faults:\n  - { kind: pull-cable }\n  - { kind: rnr-storm, at: soon, duration: 1ms }\n`;
    const found = issues(text);
    expect(found.map((i) => [i.line, i.code])).toEqual([
      [10, 'ERR_CONFIG_VALUE'],
      [11, 'ERR_CONFIG_VALUE'],
    ]);
    expect(found[0]?.message).toContain('exactly one of at');
    expect(found[1]?.message).toContain('"soon" must be a duration');
  });

  it('reports YAML syntax errors and a missing section', () => {
    expect(issues('topology: [\n')[0]).toMatchObject({ code: 'ERR_CONFIG_SYNTAX', line: 2 });
    expect(issues('seed: 3\n')).toEqual([
      { code: 'ERR_CONFIG_MISSING', line: 1, column: 1, message: 'topology is required' },
      { code: 'ERR_CONFIG_MISSING', line: 1, column: 1, message: 'workload is required' },
    ]);
  });

  it('reads durations in every unit and sizes with suffixes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.constantFrom(['us', 0.001], ['ms', 1], ['s', 1000]),
        (n, [unit, scale]) => {
          const text = MINIMAL.replace('{ ops: 10 }', `{ duration: ${n}${unit as string} }`);
          const ms = n * (scale as number);
          if (ms > 3_600_000) return;
          expect(parseScenario(text).phases[0]?.durationMs).toBeCloseTo(ms, 9);
        },
      ),
      { numRuns: 50 },
    );
    expect(parseScenario(MINIMAL.replace('size: 1M', 'size: 64k')).target.luns[0]?.bytes).toBe(65536);
    expect(parseScenario(MINIMAL.replace('size: 1M', 'size: 131072')).target.luns[0]?.bytes).toBe(131072);
  });
});
