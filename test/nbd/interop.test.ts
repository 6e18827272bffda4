/**
 * The NBD server against real clients from Debian: libnbd's nbdinfo and nbdcopy, and QEMU's qemu-img and qemu-io.
 * Each runs as a child process with a timeout, over a unix socket in a temp dir.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBlockDevice } from '../../nbd/memory-device.js';
import { NbdServer } from '../../nbd/server.js';
import { missing } from '../support/tools.js';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program with a timeout (it is killed by pid when the timeout passes). */
function run(program: string, args: readonly string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      program,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const EIGHT_MIB = 8 * 1024 * 1024;
let dir: string;
let server: NbdServer;
let socket: string;
let disk: MemoryBlockDevice;
let scratch: MemoryBlockDevice;
const uri = (name: string): string => `nbd+unix:///${name}?socket=${socket}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iser-nbd-interop-'));
  socket = join(dir, 'nbd.sock');
  server = new NbdServer();
  disk = new MemoryBlockDevice(EIGHT_MIB);
  scratch = new MemoryBlockDevice(1024 * 1024, { blockSize: 4096 });
  server.addExport({ name: 'disk', description: 'eight mebibytes', device: disk });
  server.addExport({ name: 'scratch', device: scratch, maxPayload: 1024 * 1024 });
  await server.listen({ path: socket });
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(missing('nbdinfo', 'apt-get install libnbd-bin'))('nbdinfo', () => {
  it('shows the size and the block sizes we advertise', async () => {
    const result = await run('nbdinfo', ['--json', uri('scratch')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { protocol: string; exports: Record<string, unknown>[] };
    expect(json.protocol).toBe('newstyle-fixed');
    expect(json.exports[0]).toMatchObject({
      'export-name': 'scratch',
      'export-size': 1024 * 1024,
      block_size_minimum: 4096,
      block_size_preferred: 4096,
      block_size_maximum: 1024 * 1024,
      is_read_only: false,
      can_flush: true,
      can_fua: true,
      can_trim: true,
      can_zero: true,
      can_multi_conn: false,
    });
  });

  it('lists every export with its description', async () => {
    const result = await run('nbdinfo', ['--list', '--json', `nbd+unix:///?socket=${socket}`]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { exports: { 'export-name': string; description?: string }[] };
    expect(json.exports.map((e) => e['export-name'])).toEqual(['disk', 'scratch']);
    expect(json.exports[0]?.description).toBe('eight mebibytes');
  });
});

describe.skipIf(missing('qemu-img', 'apt-get install qemu-utils') ?? missing('nbdcopy', 'apt-get install libnbd-bin'))(
  'qemu-img and nbdcopy',
  () => {
    it('copy a random 8 MiB file onto the export and read it back identical', async () => {
      const source = join(dir, 'random.img');
      const content = randomBytes(EIGHT_MIB);
      await writeFile(source, content);

      const convert = await run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', source, uri('disk')]);
      expect(convert.stderr).toBe('');
      expect(convert.code).toBe(0);
      expect(Buffer.concat(await disk.read(0, EIGHT_MIB)).equals(content)).toBe(true);

      const compare = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', source, uri('disk')]);
      expect(compare.stdout).toContain('Images are identical');
      expect(compare.code).toBe(0);

      const back = join(dir, 'back.img');
      const copy = await run('nbdcopy', [uri('disk'), back]);
      expect(copy.code).toBe(0);
      expect((await readFile(back)).equals(content)).toBe(true);

      // And the other way: nbdcopy writing (many requests in flight) over what qemu-img wrote.
      const second = randomBytes(EIGHT_MIB);
      await writeFile(source, second);
      const upload = await run('nbdcopy', ['--flush', source, uri('disk')]);
      expect(upload.code).toBe(0);
      expect(Buffer.concat(await disk.read(0, EIGHT_MIB)).equals(second)).toBe(true);
    });
  },
);

describe.skipIf(missing('qemu-io', 'apt-get install qemu-utils'))('qemu-io', () => {
  it('writes, reads back, flushes and discards', async () => {
    const flushesBefore = disk.flushes;
    const result = await run('qemu-io', [
      '-f',
      'raw',
      '-c',
      'write -P 0xab 0 64k',
      '-c',
      'read -P 0xab 0 64k',
      '-c',
      'flush',
      '-c',
      'discard 0 64k',
      '-c',
      'write -z 64k 64k',
      '-c',
      'read -P 0 64k 64k',
      uri('disk'),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('wrote 65536/65536 bytes at offset 0');
    expect(result.stdout).toContain('read 65536/65536 bytes at offset 0');
    expect(result.stdout).toContain('discard 65536/65536 bytes at offset 0');
    expect(result.stdout).not.toMatch(/Pattern verification failed|error/i);
    expect(disk.flushes).toBeGreaterThan(flushesBefore);
    expect(Buffer.concat(await disk.read(65536, 65536)).every((b) => b === 0)).toBe(true);
  });
});
