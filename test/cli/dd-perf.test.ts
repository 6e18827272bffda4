/** `iser dd` round trips through a LUN and `iser perf` bounded runs, against our own target. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iser, LUN_BLOCKS, startTarget, type TestTarget } from './support.js';

let served: TestTarget;
let dir: string;

beforeAll(async () => {
  served = await startTarget();
  dir = await mkdtemp(join(tmpdir(), 'iser-cli-dd-'));
});

afterAll(async () => {
  await served.close();
  await rm(dir, { recursive: true, force: true });
});

describe('iser dd', () => {
  it('copies a file to a LUN and back, byte for byte', async () => {
    const original = randomBytes(3 * 64 * 1024 + 4096);
    const input = join(dir, 'in.bin');
    const output = join(dir, 'out.bin');
    await writeFile(input, original);
    const up = await iser(['dd', '--if', input, '--of', served.url(0), '--bs', '64k']);
    expect(up.stderr).toMatch(/^200704 bytes \(196 KiB\) copied, [\d.]+ s, [\d.]+ MiB\/s$/m);
    expect(up.code).toBe(0);
    const down = await iser(['dd', '--if', served.url(0), '--of', output, '--bs', '4k', '--count', '49']);
    expect(down.code).toBe(0);
    expect((await readFile(output)).equals(original)).toBe(true);
  });

  it('round trips with header and data digests when asked for them', async () => {
    const original = randomBytes(128 * 1024);
    const input = join(dir, 'digest-in.bin');
    await writeFile(input, original);
    const digests = ['--header-digest', 'crc32c', '--data-digest', 'crc32c'];
    const capture = join(dir, 'digests.pcapng');
    const up = await iser([
      'dd',
      ...digests,
      '--pcap',
      capture,
      '--if',
      input,
      '--of',
      served.url(0),
      '--bs',
      '32k',
      '--seek',
      '8',
    ]);
    expect(up.code).toBe(0);
    // Offered by us and answered by the target: the login text says so twice for each key.
    const text = (await readFile(capture)).toString('latin1');
    expect(text.split('HeaderDigest=CRC32C\0').length - 1).toBe(2);
    expect(text.split('DataDigest=CRC32C\0').length - 1).toBe(2);
    const down = await iser([
      'dd',
      ...digests,
      '--if',
      served.url(0),
      '--of',
      '-',
      '--bs',
      '32k',
      '--skip',
      '8',
      '--count',
      '4',
    ]);
    expect(down.code).toBe(0);
    expect(down.bytes.equals(original)).toBe(true);
  });

  it('counts --skip and --seek in --bs chunks, and writes to stdout with --of -', async () => {
    const chunks = [0x11, 0x22, 0x33].map((byte) => Buffer.alloc(4096, byte));
    const input = join(dir, 'three.bin');
    await writeFile(input, Buffer.concat(chunks));
    const put = await iser(['dd', '--if', input, '--of', served.url(1), '--bs', '4k', '--skip', '1', '--seek', '5']);
    expect(put.code).toBe(0);
    const get = await iser(['dd', '--if', served.url(1), '--of', '-', '--bs', '4k', '--skip', '5', '--count', '2']);
    expect(get.code).toBe(0);
    expect(get.bytes.equals(Buffer.concat([chunks[1]!, chunks[2]!]))).toBe(true);
  });

  it('pads a file tail to a whole block and says so', async () => {
    const input = join(dir, 'odd.bin');
    await writeFile(input, Buffer.alloc(1000, 0x7e));
    const run = await iser(['dd', '--if', input, '--of', served.url(1), '--bs', '512']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('padded with 24 zero bytes');
    const back = await iser(['dd', '--if', served.url(1), '--of', '-', '--bs', '512', '--count', '2']);
    expect(back.bytes.equals(Buffer.concat([Buffer.alloc(1000, 0x7e), Buffer.alloc(24)]))).toBe(true);
  });

  it('refuses a copy that does not fit the LUN, and a --bs that is not whole blocks', async () => {
    const input = join(dir, 'big.bin');
    await writeFile(input, Buffer.alloc(LUN_BLOCKS[1] * 512 + 512));
    const tooBig = await iser(['dd', '--if', input, '--of', served.url(1)]);
    expect(tooBig.code).toBe(1);
    expect(tooBig.stderr).toMatch(/do not fit/);
    const oddBs = await iser(['dd', '--if', input, '--of', served.url(1), '--bs', '1000']);
    expect(oddBs.code).toBe(1);
    expect(oddBs.stderr).toMatch(/not a multiple of the 512-byte blocks/);
  });

  it('says which file is missing (exit 5)', async () => {
    const run = await iser(['dd', '--if', join(dir, 'nope.bin'), '--of', served.url(1)]);
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/^iser: cannot open .*nope\.bin: ENOENT/m);
  });
});

describe('iser perf', () => {
  it('runs for about a second and prints IOPS, MiB/s and latency percentiles', async () => {
    const run = await iser(['perf', served.url(0), '--time', '1s', '--qd', '8', '--rand']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^perf: +random read, 4096-byte blocks, queue depth 8, /m);
    const ios = Number(/^ios: +(\d+) in [\d.]+ s$/m.exec(run.stdout)?.[1]);
    expect(ios).toBeGreaterThan(0);
    expect(run.stdout).toMatch(/^IOPS: +\d+$/m);
    expect(run.stdout).toMatch(/^MiB\/s: +[\d.]+$/m);
    expect(run.stdout).toMatch(
      /^latency: +mean [\d.]+ ms, p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms, p99\.9 [\d.]+ ms, max/m,
    );
  });

  it('stops after --count commands, writing with --write', async () => {
    const run = await iser(['perf', served.url(1), '--count', '40', '--qd', '4', '--write', '--bs', '8k']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^perf: +sequential write, 8192-byte blocks/m);
    expect(run.stdout).toMatch(/^ios: +40 in /m);
  });
});
