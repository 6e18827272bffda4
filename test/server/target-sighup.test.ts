/**
 * The real executable: `iser target -c target.yaml` as a child process (node + tsx), reloaded by SIGHUP sent to
 * its pid. A session of a target that stays keeps doing I/O across the reload; the session of a target removed
 * from the file is asked to log out and ends; a malformed file on SIGHUP changes nothing. Every wait is bounded
 * and the child is killed by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { read10, write10 } from '../../protocol/scsi/cdb/build.js';
import { ScsiStatus } from '../../protocol/scsi/status.js';
import { TcpConnector } from '../../transports/tcp/index.js';
import { signalChild } from '../support/peers/run-tool.js';
import { ScriptedInitiator } from './scripted-initiator.js';

const KEEP = 'iqn.2024-01.org.example:hup-keep';
const GONE = 'iqn.2024-01.org.example:hup-gone';
const HOST = 'iqn.2024-01.org.example:host';

function yaml(targets: readonly string[], extra = ''): string {
  return [
    'portals:',
    '  - { transport: tcp, host: 127.0.0.1, port: 0 }',
    'targets:',
    ...targets.flatMap((iqn) => [`  - iqn: ${iqn}`, '    luns: { 0: "mem:1M" }']),
    extra,
    '',
  ].join('\n');
}

/** Resolves when `test` holds for the text seen so far on `stream`, or rejects after `ms`. */
function waitFor(read: () => string, test: (text: string) => boolean, ms: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = (): void => {
      const text = read();
      if (test(text)) resolve(text);
      else if (Date.now() - started > ms) reject(new Error(`${what} not seen within ${ms} ms:\n${text}`));
      else setTimeout(poll, 20);
    };
    poll();
  });
}

function bounded<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`${what} did not happen within ${ms} ms`));
      }, ms);
    }),
  ]).finally(() => {
    clearTimeout(timer);
  });
}

describe('iser target -c as a process', () => {
  const children: ChildProcess[] = [];
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iser-sighup-'));
  });
  afterEach(() => {
    for (const child of children.splice(0)) signalChild(child.pid, 'SIGKILL');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('SIGHUP: an unchanged target keeps its session doing I/O, a removed one is logged out', async () => {
    const path = join(dir, 'target.yaml');
    await writeFile(path, yaml([KEEP, GONE]));
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'target', '-c', path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));

    const serving = await waitFor(
      () => stdout,
      (t) => /on 127\.0\.0\.1:\d+ \(tcp\)/.test(t),
      30_000,
      'serving',
    );
    const port = Number(/on 127\.0\.0\.1:(\d+) \(tcp\)/.exec(serving)?.[1]);
    const connect = async (targetName: string, d: number): Promise<ScriptedInitiator> => {
      const initiator = new ScriptedInitiator(await new TcpConnector().connect({ host: '127.0.0.1', port }));
      await initiator.login({
        initiatorName: HOST,
        targetName,
        isid: { type: 2, a: 0, b: 3, c: 3, d },
        transport: 'tcp',
      });
      return initiator;
    };
    const keep = await connect(KEEP, 1);
    const gone = await connect(GONE, 2);
    await keep.command(Buffer.alloc(6)); // the power-on unit attention
    let lba = 0;
    const io = async (): Promise<void> => {
      const block = Buffer.alloc(512, lba + 1);
      const write = await keep.command(write10({ lba, blocks: 1 }), { write: block });
      expect(write.response.status).toBe(ScsiStatus.Good);
      expect((await keep.command(read10({ lba, blocks: 1 }), { readLength: 512 })).data).toEqual(block);
      lba += 1;
    };
    await io();

    // A malformed file first: the reload fails, is logged with its line, and nothing changes.
    await writeFile(path, yaml([KEEP], 'nonsense: true'));
    signalChild(child.pid, 'SIGHUP');
    await waitFor(
      () => stderr,
      (t) => t.includes('"reload-failed"'),
      20_000,
      'the reload-failed log line',
    );
    await io();
    expect(gone.closed).toBe(false);

    // Now a valid file without GONE: I/O on KEEP goes on while the reload happens.
    await writeFile(path, yaml([KEEP]));
    const asked = gone.next((p) => p.kind === 'async-message');
    signalChild(child.pid, 'SIGHUP');
    await io();
    await bounded(asked, 20_000, 'the logout request to the removed target');
    await gone.logout();
    await bounded(gone.whenClosed(), 20_000, 'the removed session closing');
    for (let i = 0; i < 5; i++) await io();
    expect(keep.closed).toBe(false);

    const logs = stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.find((e) => e.event === 'reload-failed')).toMatchObject({ file: path, line: 6 });
    expect(logs.find((e) => e.event === 'reload')).toMatchObject({ removed: [GONE], unchanged: [KEEP] });

    void keep.next((p) => p.kind === 'async-message').then(() => keep.logout());
    signalChild(child.pid, 'SIGTERM');
    expect(await bounded(exited, 30_000, 'exit after SIGTERM')).toBe(0);
  });
});
