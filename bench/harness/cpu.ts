/**
 * CPU time per command, the figure that survives a loaded machine: wall-clock IOPS drop when other processes take
 * the cores, CPU microseconds per command much less. Three sources, all Linux:
 * - this process (`process.cpuUsage()`): our initiator or our target while the bench itself idles;
 * - children this process reaped (`/proc/self/stat` cutime + cstime): a finished iscsi-perf run;
 * - another live process (`/proc/PID/stat` utime + stime, all threads): tgtd.
 * /proc figures tick at CLK_TCK (100 Hz here): 10 ms resolution, fine over seconds of load.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Fields of /proc/PID/stat after the `(comm)` field: index 0 is field 3 (state). */
function statFields(pid: number | 'self'): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

function ticksToMicros(...fields: (string | undefined)[]): number {
  return (fields.reduce((n, f) => n + Number(f ?? 0), 0) * 1e6) / clockTicks();
}

/** User + system CPU of this process, in µs. */
export function selfCpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** User + system CPU of the children this process has reaped, in µs. */
export function reapedChildrenCpuMicros(): number {
  const f = statFields('self');
  return ticksToMicros(f[13], f[14]); // cutime, cstime
}

/** User + system CPU of a live process (all its threads), in µs; NaN when it cannot be read. */
export function processCpuMicros(pid: number): number {
  try {
    const f = statFields(pid);
    return ticksToMicros(f[11], f[12]); // utime, stime
  } catch {
    return Number.NaN;
  }
}

/** Measures a CPU counter around `work`. */
export async function cpuAround<T>(
  counter: () => number,
  work: () => Promise<T>,
): Promise<{ result: T; cpuMicros: number }> {
  const before = counter();
  const result = await work();
  return { result, cpuMicros: counter() - before };
}
