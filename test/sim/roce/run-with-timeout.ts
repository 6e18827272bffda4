/**
 * Test helper: runs a program with a hard timeout, killing the child (by its pid, and only it) if it overruns.
 */
import { spawn } from 'node:child_process';

/** Runs `program args`, resolving with stdout; rejects on a non-zero exit or after `timeoutMs`. */
export function runWithTimeout(program: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`${program} timed out after ${timeoutMs} ms`));
      else if (code !== 0) reject(new Error(`${program} exited ${code ?? signal}: ${Buffer.concat(err).toString()}`));
      else resolve(Buffer.concat(out).toString('utf8'));
    });
  });
}
