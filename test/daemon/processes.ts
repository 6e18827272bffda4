/**
 * The real `iser` executable as a child process (node + tsx, as `npm run iser` runs it), for tests that need
 * what only a process has: its exit code, its stderr, signals, a SIGKILL mid-copy. Every child is ended by its
 * own pid (`stopAll`), never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { signalChild } from '../support/peers/run-tool.js';

/** A running `iser` child. */
export interface IserProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything printed so far on stdout and stderr. */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
}

const started = new Set<IserProcess>();

/** Starts `iser args`; with `readyOn`, resolves once it prints a match (on either stream) or rejects when it exits. */
export async function startIser(
  args: readonly string[],
  options: { readonly readyOn?: RegExp; readonly timeoutMs?: number } = {},
): Promise<IserProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`iser ${args.join(' ')}: could not start`);
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  const proc: IserProcess = { child, pid: child.pid, stdout: () => out, stderr: () => err, exited };
  started.add(proc);
  void exited.then(() => started.delete(proc));
  const readyOn = options.readyOn;
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (readyOn === undefined || readyOn.test(out) || readyOn.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    };
    const timeoutMs = options.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      reject(new Error(`iser ${args[0] ?? ''}: no ${String(readyOn)} within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      check();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      check();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`iser ${args[0] ?? ''} exited ${String(code)} before it was ready: ${err}`));
    });
    check();
  });
  return proc;
}

/** Runs `iser args` to completion (bounded) and returns its exit code and output. */
export async function runIserProcess(
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }> {
  const proc = await startIser(args);
  const timer = setTimeout(() => {
    signalChild(proc.pid, 'SIGKILL');
  }, timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

/** Waits (bounded) for a child to exit; SIGKILLs it when it does not. */
export async function waitExit(proc: IserProcess, timeoutMs: number): Promise<number | null | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    proc.exited,
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        resolve('timeout');
      }, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (result === 'timeout') signalChild(proc.pid, 'SIGKILL');
  return result;
}

/** SIGKILLs every child this module started that is still running. */
export function stopAll(): void {
  for (const proc of started) signalChild(proc.pid, 'SIGKILL');
  started.clear();
}
