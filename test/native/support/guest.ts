/**
 * What the guest-only native tests share: whether this is the rxe guest (tools/rxevm/guest/native-test.sh exports
 * RXEVM_GUEST=1), bounded child processes, module loading and dmesg snapshots. These tests change global kernel
 * state (LIO configfs, iscsid, SCSI hosts), so they never run outside the throwaway guest.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { skipReason as rdmaSkipReason } from '../rdma-host.js';

/** True inside the rxe guest that `npm run test:rxe` boots. */
export const inGuest = process.env.RXEVM_GUEST === '1';

/** Why a guest-only test skips here, or undefined inside the guest (where a missing device is a failure). */
export function guestSkipReason(): string | undefined {
  if (!inGuest) return 'not inside the rxe guest (it changes kernel state; run `npm run test:rxe`)';
  return undefined;
}

/** Why the guest cannot run these tests (missing device or tool), or undefined. Checked inside the guest only. */
export function guestProblem(tools: readonly string[]): string | undefined {
  if (rdmaSkipReason !== undefined) return `no RDMA device: ${rdmaSkipReason}`;
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of tools) {
    const dirs = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];
    if (!dirs.some((d) => existsSync(`${d}/${tool}`))) return `${tool} is not installed in the guest image`;
  }
  return undefined;
}

/** What a finished child process left. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cmd args` with a hard time bound; never rejects (a timeout is code 124, a spawn failure 127). */
export function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const code =
          error.killed === true ? 124 : typeof error.code === 'number' ? error.code : error.code === 'ENOENT' ? 127 : 1;
        resolve({ code, stdout, stderr: stderr === '' ? error.message : stderr });
      },
    );
  });
}

/** Like {@link run}, but a non-zero exit throws with the command and its stderr. */
export async function mustRun(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/** Loads kernel modules (each may already be loaded or built in). */
export async function modprobe(...modules: string[]): Promise<void> {
  for (const m of modules) await mustRun('modprobe', [m], 30_000);
}

/** The kernel log as it is now, a line each (to diff against later). */
export async function dmesgLines(): Promise<string[]> {
  return (await mustRun('dmesg', [], 10_000)).split('\n').filter((l) => l !== '');
}

// Subsystems the dmesg check covers, and what makes one of their lines an error.
const SUBSYSTEM = /iser|isert|iscsi|scsi|\bsd[a-z]*\b|\brxe|rdma|target|\bib_/i;
const TROUBLE =
  /error|fail|warn|abort|timed? ?out|reset|bug|oops|call trace|refused|unable|invalid|reject|flush|lost|unexpected/i;

// sd's note on the unit attention every new LUN reports first: information, not trouble.
const BENIGN = /Power-on or device reset occurred/;

/** Lines of `after` not in `before` (by position: the ring only grows in a short test) that report trouble. */
export function newErrorLines(before: readonly string[], after: readonly string[]): string[] {
  // The ring buffer may have wrapped; then compare from the last line both share.
  let start = before.length;
  const last = before.at(-1);
  if (last !== undefined && after[before.length - 1] !== last) {
    const at = after.lastIndexOf(last);
    start = at < 0 ? 0 : at + 1;
  }
  return after.slice(start).filter((l) => SUBSYSTEM.test(l) && TROUBLE.test(l) && !BENIGN.test(l));
}

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` every `everyMs` until it returns a value, at most `tries` times; undefined when it never did. */
export async function poll<T>(probe: () => T | undefined, tries: number, everyMs: number): Promise<T | undefined> {
  for (let i = 0; i < tries; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await sleep(everyMs);
  }
  return undefined;
}

/** rxe0's hardware counters (retransmissions, RNR NAKs, sequence errors...), by name; {} when absent. */
export function rxeCounters(device = 'rxe0'): Record<string, number> {
  const dir = `/sys/class/infiniband/${device}/ports/1/hw_counters`;
  const counters: Record<string, number> = {};
  if (!existsSync(dir)) return counters;
  for (const name of readdirSync(dir)) {
    try {
      const value = Number(readFileSync(`${dir}/${name}`, 'utf8').trim());
      if (Number.isFinite(value)) counters[name] = value;
    } catch {
      // lifespan and the like are not counters
    }
  }
  return counters;
}

/** The counters that moved between two snapshots, as "name=+n". */
export function counterDelta(before: Record<string, number>, after: Record<string, number>): string {
  const moved = Object.entries(after)
    .map(([name, value]) => [name, value - (before[name] ?? 0)] as const)
    .filter(([, d]) => d !== 0)
    .map(([name, d]) => `${name}=+${d}`);
  return moved.length === 0 ? 'none moved' : moved.join(' ');
}
