/**
 * Runs a short-lived peer program (iscsi-ls, tgtadm, iscsi-test-cu, ...) with a hard time bound and a bound on
 * what it may print. The child is killed by its own pid only, never by name: other engineers may run the same
 * programs on this machine at the same time.
 */
import { spawn } from 'node:child_process';
import { PeerError, PeerErrorCode } from './errors.js';

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** Kill the program (SIGTERM, then SIGKILL after {@link RunToolOptions.killGraceMs}) after this long. */
  readonly timeoutMs: number;
  /** Environment added to ours. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory (iscsi-test-cu --xml writes its files there). */
  readonly cwd?: string;
  /** How long SIGTERM gets before SIGKILL; default 2 s. */
  readonly killGraceMs?: number;
  /** Most bytes kept from each of stdout and stderr; the rest is dropped (and `truncated` set). Default 64 MiB. */
  readonly maxOutputBytes?: number;
}

/** What a finished program left behind. */
export interface ToolResult {
  readonly program: string;
  readonly args: readonly string[];
  readonly stdout: string;
  readonly stderr: string;
  /** Exit status, or null when a signal ended it. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when we killed it for running past `timeoutMs`. */
  readonly timedOut: boolean;
  /** True when it printed more than `maxOutputBytes` on a stream. */
  readonly truncated: boolean;
  readonly durationMs: number;
}

const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;

/** Runs `program args` to completion (or to its time bound); rejects only when it cannot be started. */
export function runTool(program: string, args: readonly string[], opts: RunToolOptions): Promise<ToolResult> {
  const maxOutput = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
    });
    const out = collector(maxOutput);
    const err = collector(maxOutput);
    let timedOut = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const killTimer = setTimeout(() => {
      timedOut = true;
      signalChild(child.pid, 'SIGTERM');
      graceTimer = setTimeout(() => {
        signalChild(child.pid, 'SIGKILL');
      }, opts.killGraceMs ?? 2000);
    }, opts.timeoutMs);
    child.stdout.on('data', out.add);
    child.stderr.on('data', err.add);
    child.on('error', (e) => {
      clearTimeout(killTimer);
      clearTimeout(graceTimer);
      reject(new PeerError(PeerErrorCode.Spawn, `cannot start ${program}: ${e.message}`, { cause: e }));
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(killTimer);
      clearTimeout(graceTimer);
      resolve({
        program,
        args,
        stdout: out.text(),
        stderr: err.text(),
        exitCode,
        signal,
        timedOut,
        truncated: out.truncated() || err.truncated(),
        durationMs: performance.now() - started,
      });
    });
  });
}

/** Like {@link runTool}, but rejects with a {@link PeerError} on a timeout or an exit status not in `okCodes`. */
export async function runToolChecked(
  program: string,
  args: readonly string[],
  opts: RunToolOptions & { readonly okCodes?: readonly number[] },
): Promise<ToolResult> {
  const result = await runTool(program, args, opts);
  assertFinished(result, opts.okCodes ?? [0]);
  return result;
}

/** Throws a {@link PeerError} when `result` timed out or exited with a status not in `okCodes`. */
export function assertFinished(result: ToolResult, okCodes: readonly number[] = [0]): void {
  const command = `${result.program} ${result.args.join(' ')}`;
  const stderr = tail(result.stderr);
  if (result.timedOut) {
    throw new PeerError(PeerErrorCode.Timeout, `${command} was killed after ${Math.round(result.durationMs)} ms`, {
      exitCode: result.exitCode,
      stderr,
    });
  }
  if (result.exitCode === null || !okCodes.includes(result.exitCode)) {
    throw new PeerError(
      PeerErrorCode.Exit,
      `${command} exited ${result.exitCode ?? result.signal ?? '?'}: ${stderr === '' ? tail(result.stdout) : stderr}`,
      { exitCode: result.exitCode, stderr },
    );
  }
}

/** The last few hundred characters of `text`, trimmed: enough for an error message. */
export function tail(text: string, chars = 600): string {
  const trimmed = text.trim();
  return trimmed.length <= chars ? trimmed : `...${trimmed.slice(-chars)}`;
}

/** Sends `signal` to `pid` if it still exists. Only ever a pid we spawned. */
export function signalChild(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone (ESRCH): nothing to do.
  }
}

interface Collector {
  readonly add: (chunk: Buffer) => void;
  readonly text: () => string;
  readonly truncated: () => boolean;
}

function collector(max: number): Collector {
  const chunks: Buffer[] = [];
  let size = 0;
  let dropped = false;
  return {
    add: (chunk) => {
      if (size >= max) {
        dropped = true;
        return;
      }
      const kept = chunk.subarray(0, max - size);
      if (kept.length < chunk.length) dropped = true;
      chunks.push(kept);
      size += kept.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
    truncated: () => dropped,
  };
}
