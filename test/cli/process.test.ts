/**
 * The real executable: `cli/main.ts` run by node (through tsx) as a separate process — exit codes reach the shell,
 * and `iser target` serves until SIGTERM while `iser ls` lists it. Every child has a time bound and is killed by
 * its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { runTool, signalChild } from '../support/peers/run-tool.js';
import { iser } from './support.js';

const ARGS = ['--import', 'tsx', 'cli/main.ts'];
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) signalChild(child.pid, 'SIGKILL');
});

describe('the iser executable', () => {
  it('prints its version and exits 0; exits 1 on an unknown flag with a one-line reason', async () => {
    const version = await runTool(process.execPath, [...ARGS, '--version'], { timeoutMs: 30_000 });
    expect(version.exitCode).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const bad = await runTool(process.execPath, [...ARGS, 'ls', '--nope'], { timeoutMs: 30_000 });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr.trim()).toBe("iser: unknown option '--nope'");
  });

  it('serves with `iser target` until SIGTERM, and `iser ls` lists it meanwhile', async () => {
    const child = spawn(
      process.execPath,
      [...ARGS, 'target', '--portal', '127.0.0.1:0', '--iqn', 'iqn.2024-01.org.iser-test:spawned', '--lun', '0=mem:2M'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        resolve(code);
      }),
    );
    const port = await new Promise<number>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => {
        reject(new Error(`no "serving" line within 30 s: ${text}`));
      }, 30_000);
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const match = /serving \S+ on 127\.0\.0\.1:(\d+)/.exec(text);
        if (match !== null) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
    });
    const ls = await iser(['ls', `iscsi://127.0.0.1:${port}`]);
    expect(ls.stdout).toBe(
      `Target:iqn.2024-01.org.iser-test:spawned Portal:127.0.0.1:${port},1\nLun:0    Type:DIRECT_ACCESS (Size:2M)\n`,
    );
    signalChild(child.pid, 'SIGTERM');
    const bound = new Promise<'timeout'>((resolve) =>
      setTimeout(() => {
        resolve('timeout');
      }, 20_000),
    );
    expect(await Promise.race([exited, bound])).toBe(0);
  });
});
