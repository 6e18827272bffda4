/**
 * Issue #6, must-show 3: the Linux kernel's iSER initiator (open-iscsi + ib_iser) against OUR target, served by
 * server/IscsiTarget over the iSER listener on the native addon (rdma-core over rxe0). Discovery and login with
 * iscsiadm -I iser, the LUN found through /sys (there is no udev in the guest), 32 MiB of seeded random data
 * written with dd oflag=direct and read back with iflag=direct identical (and identical in our backend), logout,
 * and no new error lines from iser/isert/scsi/rxe in dmesg. Runs only inside the guest (`npm run test:rxe`).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { asyncScheduler } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../backends/memory.js';
import { NativeVerbs } from '../../native/index.js';
import { IscsiTarget, type TargetServerEvent } from '../../server/index.js';
import { IserListener } from '../../transports/iser/index.js';
import type { IserConnection } from '../../transports/iser/index.js';
import { DataPattern } from '../support/session-suite/data-pattern.js';
import { rdmaAddress } from './rdma-host.js';
import { describeIser, keepingConnections } from './support/iser-probe.js';
import {
  counterDelta,
  dmesgLines,
  guestProblem,
  guestSkipReason,
  modprobe,
  mustRun,
  newErrorLines,
  poll,
  run,
  rxeCounters,
  sleep,
} from './support/guest.js';

const IQN = 'iqn.2024-01.test.rxevm:our-target-native';
const PORT = 3261;
const LUN_BYTES = 48 << 20;
const DD_MIB = 32;
const SEED = 'issue-6/kernel-iser';
const PATTERN = '/tmp/kernel-iser-pattern.bin';
const READBACK = '/tmp/kernel-iser-readback.bin';

const skip = guestSkipReason();
if (skip !== undefined) console.warn(`SKIP kernel iSER initiator -> our target: ${skip}`);

function report(what: string): void {
  console.log(`[kernel-iser] ${what}`);
}

const phases: string[] = [];
async function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    phases.push(`${name} ${((performance.now() - t0) / 1000).toFixed(1)}s`);
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of a file by sha256sum (another process, so our event loop stays free). */
async function sha256File(path: string): Promise<string> {
  return (await mustRun('sha256sum', [path], 120_000)).split(' ')[0] ?? '';
}

/** The disk of the iSCSI session logged in to `iqn`, from /sys/class/iscsi_session (no udev here). */
function diskOf(iqn: string): string | undefined {
  const root = '/sys/class/iscsi_session';
  if (!existsSync(root)) return undefined;
  for (const session of readdirSync(root)) {
    const dir = `${root}/${session}`;
    if (readFileSync(`${dir}/targetname`, 'utf8').trim() !== iqn) continue;
    for (const target of readdirSync(`${dir}/device`).filter((e) => e.startsWith('target'))) {
      for (const lun of readdirSync(`${dir}/device/${target}`).filter((e) => /^\d+:\d+:\d+:\d+$/.test(e))) {
        const block = `${dir}/device/${target}/${lun}/block`;
        if (!existsSync(block)) continue;
        const disk = readdirSync(block)[0];
        if (disk !== undefined && existsSync(`/dev/${disk}`)) return disk;
      }
    }
  }
  return undefined;
}

describe.skipIf(skip !== undefined)('the kernel iSER initiator -> our target (native addon) on rxe0', () => {
  let host = '';
  let provider: NativeVerbs | undefined;
  let target: IscsiTarget | undefined;
  let backend: MemoryBackend | undefined;
  let iscsidPid: number | undefined;
  let disk: string | undefined;
  let dmesgBefore: string[] = [];
  let patternSha = '';
  const events: TargetServerEvent[] = [];
  const listeners: { close(): Promise<void> }[] = [];
  let accepted: IserConnection[] = [];
  // Every 2 s while dd runs: our connections' queues and rxe0's counters, so a stall shows where it stuck.
  // The event loop's worst delay too: the kernel gives up on a NOP-Out our target leaves unanswered for 5 s.
  const sample = (label: string): (() => void) => {
    let last = rxeCounters();
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    const timer = setInterval(() => {
      const now = rxeCounters();
      const live = accepted.filter((c) => Reflect.get(c, 'closed') !== true).map(describeIser);
      const worst = (lag.max / 1e6).toFixed(0);
      lag.reset();
      report(`${label} +${counterDelta(last, now)} | ${live.join(' ; ') || 'no live connection'} | lag ${worst} ms`);
      last = now;
    }, 2000);
    return () => {
      clearInterval(timer);
      lag.disable();
    };
  };

  const iscsiadm = (args: string[], ms = 60_000): Promise<string> => mustRun('iscsiadm', args, ms);
  const node = (): string[] => ['-m', 'node', '-T', IQN, '-p', `${host}:${PORT}`, '-I', 'iser'];

  beforeAll(async () => {
    const problem = guestProblem(['iscsiadm', 'iscsid', 'dd', 'dmesg', 'modprobe']);
    if (problem !== undefined) throw new Error(`the guest cannot run this: ${problem}`);
    host = rdmaAddress();
    dmesgBefore = await dmesgLines();
    // No udev: the disk driver must be loaded by hand or no /dev/sdX appears.
    await modprobe('ib_iser', 'sd_mod', 'sg');
    for (const dir of ['/run/lock/iscsi', '/etc/iscsi']) mkdirSync(dir, { recursive: true });
    if ((await run('pgrep', ['-x', 'iscsid'])).code !== 0) {
      await mustRun('iscsid', []);
      const pid = await poll(
        () => (existsSync('/run/iscsid.pid') ? Number(readFileSync('/run/iscsid.pid', 'utf8').trim()) : undefined),
        50,
        100,
      );
      iscsidPid = pid !== undefined && Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
      await sleep(500); // iscsid opens its control socket after writing its pid
    }

    // The dd pattern, made before any session exists (see sha256File).
    writeFileSync(PATTERN, new DataPattern(SEED).bytes(0, DD_MIB << 20));
    patternSha = await sha256File(PATTERN);

    backend = new MemoryBackend(LUN_BYTES / 512);
    target = new IscsiTarget(
      {
        targets: [{ name: IQN, alias: 'rxe-native', luns: [{ lun: 0, backend }] }],
        portalGroups: [
          {
            tag: 1,
            portals: [{ host, port: PORT, transport: 'iser' }],
          },
        ],
      },
      { scheduler: asyncScheduler, logoutDeadlineSeconds: 2, onEvent: (e) => events.push(e) },
    );
    provider = NativeVerbs.open({ timeoutMs: 15_000, drainTimeoutMs: 3000 });
    const iser = await IserListener.listen(provider, { host, port: PORT }, { scheduler: asyncScheduler });
    listeners.push(iser);
    const kept = keepingConnections(iser);
    accepted = kept.connections;
    target.serve(kept.listener, 1);
  }, 120_000);

  afterAll(async () => {
    if (host !== '') {
      await run('iscsiadm', [...node(), '--logout'], 30_000);
      await run('iscsiadm', [...node(), '-o', 'delete'], 30_000);
    }
    if (iscsidPid !== undefined) {
      try {
        process.kill(iscsidPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await target?.close();
    for (const l of listeners) await l.close().catch(() => undefined);
    provider?.close();
    rmSync(PATTERN, { force: true });
    rmSync(READBACK, { force: true });
    report(`phases: ${phases.join(', ')}`);
  }, 120_000);

  it('discovers our target with iscsiadm -m discovery -t st -I iser', async () => {
    const out = await phase('discovery', () =>
      iscsiadm(['-m', 'discovery', '-t', 'st', '-p', `${host}:${PORT}`, '-I', 'iser']),
    );
    report(`discovery: ${out.trim().replace(/\n/g, ' | ')}`);
    expect(out).toMatch(new RegExp(`^${host.replace(/\./g, '\\.')}:${PORT},1 ${IQN}$`, 'm'));
    const used = events.filter((e) => e.kind === 'connection').map((e) => e.transport);
    report(`discovery connections: ${used.join(', ')}`);
  }, 120_000);

  it('logs in over iSER; the LUN appears as a disk', async () => {
    await phase('login', () => iscsiadm([...node(), '--login'], 90_000));
    const connections = events.filter((e) => e.kind === 'connection');
    expect(connections.at(-1)?.transport, 'the login connection is iSER').toBe('iser');
    const sessions = await run('iscsiadm', ['-m', 'session', '-P', '1'], 30_000);
    report(`session: ${sessions.stdout.replace(/\s+/g, ' ').trim()}`);
    expect(sessions.stdout).toMatch(/Iface Transport:\s*iser/);
    disk = await phase('disk', () => poll(() => diskOf(IQN), 300, 100));
    expect(disk, 'a SCSI disk attached within 30 s').toBeDefined();
    const sectors = Number(readFileSync(`/sys/block/${disk ?? ''}/size`, 'utf8').trim());
    report(`disk /dev/${disk ?? '?'}: ${sectors} sectors`);
    expect(sectors * 512).toBe(LUN_BYTES);
  }, 180_000);

  it(`dd writes ${DD_MIB} MiB of random data O_DIRECT and reads back identical`, async () => {
    if (disk === undefined) throw new Error('no disk (login failed)');
    expect(patternSha, 'the pattern file was made before login').not.toBe('');
    const counters = rxeCounters();
    const timed = async (name: string, args: string[]): Promise<number> => {
      const stop = sample(name);
      const t0 = performance.now();
      try {
        await phase(name, () => mustRun('dd', args, 300_000));
      } finally {
        stop();
        report(`${name}: rxe0 counters so far ${counterDelta(counters, rxeCounters())}`);
      }
      return performance.now() - t0;
    };
    const dev = `/dev/${disk}`;
    const writeMs = await timed('dd-write', [
      `if=${PATTERN}`,
      `of=${dev}`,
      'bs=1M',
      'oflag=direct',
      'conv=fsync',
      'status=none',
    ]);
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    const readMs = await timed('dd-read', [
      `if=${dev}`,
      `of=${READBACK}`,
      'bs=1M',
      `count=${DD_MIB}`,
      'iflag=direct',
      'status=none',
    ]);
    const mbs = (ms: number): string => ((DD_MIB * 1.048576) / (ms / 1000)).toFixed(1);
    report(
      `dd: write ${mbs(writeMs)} MB/s (${(writeMs / 1000).toFixed(1)} s), read ${mbs(readMs)} MB/s (${(readMs / 1000).toFixed(1)} s)`,
    );
    // sha256sum, not node: hashing 32 MiB here blocks the event loop our target answers NOP-Outs from, and under
    // TCG that alone can outlast open-iscsi's 5 s ping timeout.
    expect(await sha256File(READBACK)).toBe(patternSha);
  }, 600_000);

  it('logs out; our target ends the session; dmesg has no new iser/scsi/rxe errors', async () => {
    await phase('logout', () => iscsiadm([...node(), '--logout'], 60_000));
    const ended = await poll(() => (target?.stats.sessions === 0 ? true : undefined), 100, 100);
    expect(ended, 'our target still has a session 10 s after logout').toBe(true);
    expect(diskOf(IQN)).toBeUndefined();
    const stats = target?.stats;
    report(`target stats: ${JSON.stringify(stats)}`);
    const failed = events.filter((e) => e.kind === 'login-failed');
    expect(failed, JSON.stringify(failed)).toEqual([]);
    // The kernel is logged out now: our backend may be checked at leisure. The bytes are where the kernel put them.
    if (backend === undefined) throw new Error('no backend');
    const stored = Buffer.concat(await backend.read(0, (DD_MIB << 20) / 512));
    expect(sha256(stored)).toBe(patternSha);
    const fresh = newErrorLines(dmesgBefore, await dmesgLines());
    if (fresh.length > 0) report(`new dmesg error lines:\n${fresh.join('\n')}`);
    expect(fresh).toEqual([]);
  }, 120_000);
});
