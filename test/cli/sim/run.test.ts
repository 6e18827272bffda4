/**
 * `iser sim`: the example scenarios run and verify; one scenario and seed give the same event log (sha256) and the
 * same pcapng bytes, another seed gives others; tshark reads the soft-RoCE capture; a lost acknowledged write and
 * corrupted data exit 4; every fabric fault kind is recovered from; a bad file exits 1 with its line, a missing one 5; the virtual-time limit exits 6.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSim, type SimOptions } from '../../../cli/sim/run.js';
import { iser, recordingIo } from '../support.js';
import { field, layers, runTshark } from '../../support/tshark.js';
import { missing } from '../../support/tools.js';

const SCENARIOS = join(import.meta.dirname, '../../../sim/scenarios');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iser-sim-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sim(options: Omit<SimOptions, 'out'> & { readonly out: string }) {
  const { io, out, err } = recordingIo();
  const outcome = await runSim({ ...options, out: join(dir, options.out) }, io);
  return { ...outcome, stdout: out.join('\n'), stderr: err.join('\n') };
}

/** A bound on a test that runs whole scenarios (seconds each on a loaded machine); not a speed assertion. */
const LONG = 300_000;

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A small fabric scenario for the failure cases. */
const SMALL = `name: small
topology:
  transport: fabric
  target:
    luns:
      - { size: 256k }
workload:
  phases:
    - { pattern: seq, blockSize: 16k, queueDepth: 4, ops: 16 }
`;

/** soft-RoCE with a long cable pull, two initiators, two LUNs (one of 4096-byte blocks), a timed phase. */
const SOFTROCE_PULL = `name: sr-pull
topology:
  transport: softroce
  target:
    luns:
      - { size: 1M, blockSize: 4096 }
      - { size: 512k }
  initiators:
    - { sessions: 1, reconnectDelay: 5ms, connectTimeout: 100ms }
    - { name: iqn.2024-01.org.example:second, sessions: 1 }
workload:
  phases:
    - { name: timed, lun: 0, pattern: random, read: 30, blockSize: [4k, 8k], queueDepth: 4, duration: 2ms }
    - { name: second-lun, lun: 1, pattern: seq, read: 0, blockSize: 4k, queueDepth: 2, ops: 20 }
faults:
  - { kind: pull-cable, at: 0.5ms, duration: 1s }
`;

describe('iser sim', () => {
  it(
    'baseline: verifies on the fabric, and the same seed gives the same event log',
    async () => {
      const scenario = join(SCENARIOS, 'baseline.yaml');
      const a = await sim({ scenario, out: 'baseline-a' });
      expect(a.stderr).toBe('');
      expect(a.exitCode).toBe(0);
      const r = a.report;
      expect(r?.verification).toMatchObject({ verified: true, acknowledgedWritesLost: 0, mismatchedBlocks: 0 });
      expect(r?.total.ops).toBe(232);
      expect(r?.transport.copiesPerByte).toBe(1);
      expect(r?.pcapng.file).toBeNull();
      expect(a.stdout).toContain('data verified             yes');
      const events = await readFile(join(dir, 'baseline-a', 'events.jsonl'));
      expect(sha(events)).toBe(r?.events.sha256);
      const json = JSON.parse(await readFile(join(dir, 'baseline-a', 'report.json'), 'utf8')) as { exitCode: number };
      expect(json.exitCode).toBe(0);

      const b = await sim({ scenario, out: 'baseline-b' });
      expect(b.report?.events.sha256).toBe(r?.events.sha256);
      expect(sha(await readFile(join(dir, 'baseline-b', 'events.jsonl')))).toBe(sha(events));
      const c = await sim({ scenario, out: 'baseline-c', seed: 2 });
      expect(c.exitCode).toBe(0);
      expect(c.report?.events.sha256).not.toBe(r?.events.sha256);
    },
    LONG,
  );

  it(
    'lossy-link: soft-RoCE retransmits through the lossy window; same seed, same pcapng bytes; another seed differs',
    async () => {
      const scenario = join(SCENARIOS, 'lossy-link.yaml');
      const a = await sim({ scenario, out: 'lossy-a' });
      expect(a.exitCode).toBe(0);
      expect(a.report?.verification.verified).toBe(true);
      expect(a.report?.transport.retransmissions).toBeGreaterThan(0);
      expect(a.report?.transport.link?.lost).toBeGreaterThan(0);
      const pcap = await readFile(join(dir, 'lossy-a', 'trace.pcapng'));
      expect(a.report?.pcapng).toMatchObject({ sha256: sha(pcap) });
      const b = await sim({ scenario, out: 'lossy-b' });
      expect(sha(await readFile(join(dir, 'lossy-b', 'trace.pcapng')))).toBe(sha(pcap));
      expect(b.report?.events.sha256).toBe(a.report?.events.sha256);
      const c = await sim({ scenario, out: 'lossy-c', seed: 9 });
      expect(c.exitCode).toBe(0);
      expect(c.report?.pcapng).not.toMatchObject({ sha256: sha(pcap) });
      expect(c.report?.events.sha256).not.toBe(a.report?.events.sha256);
    },
    LONG,
  );

  it.skipIf(missing('tshark', 'apt-get install tshark') !== undefined)(
    'tshark reads the soft-RoCE capture: RoCEv2 frames, the CM handshake, iSCSI over iSER',
    async () => {
      const packets = await runTshark(join(dir, 'lossy-a', 'trace.pcapng'), { timeoutMs: 120_000 });
      expect(packets.length).toBeGreaterThan(1000);
      // Every frame is RoCEv2 (UDP 4791 -> InfiniBand), none malformed; the CM REQ for port 3260 opens it; iSCSI inside.
      for (const p of packets) expect(layers(p).slice(0, 5)).toEqual(['eth', 'ethertype', 'ip', 'udp', 'infiniband']);
      expect(packets.filter((p) => layers(p).includes('_ws.malformed'))).toEqual([]);
      const first = packets[0];
      expect(first === undefined ? undefined : field(first, 'infiniband.cm.req.serviceid.dport')).toBe('0x0cbc');
      expect(packets.filter((p) => layers(p).includes('iscsi')).length).toBeGreaterThan(100);
    },
  );

  it(
    'cable-pull: both sessions reconnect twice and no acknowledged write is lost',
    async () => {
      const run = await sim({ scenario: join(SCENARIOS, 'cable-pull.yaml'), out: 'cable' });
      expect(run.exitCode).toBe(0);
      expect(run.report).toMatchObject({ sessions: 2, reconnects: 4, connectionsLost: 4 });
      expect(run.report?.faults.map((f) => f.kind)).toEqual(['pull-cable', 'pull-cable']);
      expect(run.report?.verification).toMatchObject({ verified: true, acknowledgedWritesLost: 0 });
    },
    LONG,
  );

  it(
    'fabric-faults: a QP error, an RNR storm and a target restart, each recovered, nothing lost',
    async () => {
      const run = await sim({ scenario: join(SCENARIOS, 'fabric-faults.yaml'), out: 'faults' });
      expect(run.exitCode).toBe(0);
      expect(run.report?.faults.map((f) => f.kind)).toEqual(['qp-error', 'rnr-storm', 'target-restart']);
      expect(run.report).toMatchObject({ reconnects: 2, connectionsLost: 2 });
      expect(run.report?.transport.errors.REM_ACCESS_ERR).toBeGreaterThan(0);
      expect(run.report?.transport.rnrNaks).toBeGreaterThan(0);
      expect(run.report?.verification).toMatchObject({ verified: true, acknowledgedWritesLost: 0 });
      const events = await readFile(join(dir, 'faults', 'events.jsonl'), 'utf8');
      expect(events).toContain('"source":"target#1","type":"session-started"');
    },
    LONG,
  );

  it(
    'soft-RoCE: a cable out for 1 s fails the QPs and both initiators recover (4096-byte blocks, two LUNs, a timed phase)',
    async () => {
      const file = join(dir, 'sr-pull.yaml');
      await writeFile(file, SOFTROCE_PULL);
      const run = await sim({ scenario: file, out: 'sr-pull' });
      expect(run.exitCode).toBe(0);
      expect(run.report).toMatchObject({ sessions: 2, reconnects: 2, connectionsLost: 2 });
      expect(run.report?.transport.errors.retryExceeded).toBeGreaterThan(0);
      expect(run.report?.phases.map((p) => p.name)).toEqual(['timed', 'second-lun']);
      expect(run.report?.phases[1]?.ops).toBe(40);
      expect(run.report?.verification).toMatchObject({ verified: true, readBackBytes: 1.5 * 2 ** 20 });
    },
    LONG,
  );

  it(
    'exits 4 when an acknowledged write is lost, and tells it from corruption',
    async () => {
      const file = join(dir, 'small.yaml');
      await writeFile(file, SMALL);
      const lost = await sim({
        scenario: file,
        out: 'lost',
        beforeReadBack: async (world) => {
          await world.backends[0]?.write(40, [Buffer.alloc(512)], { fua: false });
        },
      });
      expect(lost.exitCode).toBe(4);
      expect(lost.report?.verification).toMatchObject({ verified: false, acknowledgedWritesLost: 1, corruptBlocks: 0 });
      expect(lost.stderr).toContain('1 of them acknowledged writes that were lost');
      const corrupt = await sim({
        scenario: file,
        out: 'corrupt',
        beforeReadBack: async (world) => {
          await world.backends[0]?.write(7, [Buffer.alloc(512, 0x5a)], { fua: false });
        },
      });
      expect(corrupt.exitCode).toBe(4);
      expect(corrupt.report?.verification).toMatchObject({ acknowledgedWritesLost: 0, corruptBlocks: 1 });
    },
    LONG,
  );

  it('exits 6 at the virtual-time limit with a partial report; says when a fault never fired', async () => {
    const file = join(dir, 'limited.yaml');
    await writeFile(file, SMALL.replace('name: small', 'name: limited\nlimits: { virtualTime: 0.1ms }'));
    const run = await sim({ scenario: file, out: 'limited' });
    expect(run.exitCode).toBe(6);
    expect(run.report?.completed).toBe(false);
    expect(run.report?.stopReason).toContain('virtual-time limit');
    const late = join(dir, 'late.yaml');
    await writeFile(late, `${SMALL}faults:\n  - { kind: pull-cable, afterOps: 1000 }\n`);
    const unfired = await sim({ scenario: late, out: 'late' });
    expect(unfired.exitCode).toBe(0);
    expect(unfired.report).toMatchObject({ faults: [], faultsNotFired: 1 });
    expect(unfired.stdout).toContain('1 never fired (the workload ended first)');
  });

  it('through the command line: a bad file exits 1 naming the line, a missing one 5', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, SMALL.replace('    - { pattern', '    - { read: 150, pattern'));
    const run = await iser(['sim', bad, '--out', join(dir, 'bad')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${bad}:9:15: workload.phases[0].read: Too big`);
    const none = await iser(['sim', join(dir, 'nope.yaml')]);
    expect(none.code).toBe(5);
    expect(none.stderr).toContain('ENOENT');
    const small = join(dir, 'small-cli.yaml');
    await writeFile(small, SMALL);
    const seeded = await iser(['sim', small, '--seed', '5', '--out', join(dir, 'seeded')]);
    expect(seeded.code).toBe(0);
    expect(seeded.stdout).toContain('iser sim: small on the simulated RDMA fabric, seed 5, virtual time');
    const json = JSON.parse(await readFile(join(dir, 'seeded', 'report.json'), 'utf8')) as {
      scenario: { seed: number };
    };
    expect(json.scenario.seed).toBe(5);
    const help = await iser(['sim', '--help']);
    expect(help.stdout).toContain('6   the run hit its virtual-time limit');
  });
});
