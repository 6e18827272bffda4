import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BackendError } from '../../backends/errors.js';
import { FileBackend } from '../../backends/file.js';
import { MemoryBackend } from '../../backends/memory.js';
import { openBackend, parseBackendSpec, parseSize } from '../../backends/spec.js';

describe('backend specs', () => {
  it('parses sizes with binary suffixes', () => {
    expect(parseSize('512')).toBe(512);
    expect(parseSize('64k')).toBe(65536);
    expect(parseSize('256M')).toBe(256 * 2 ** 20);
    expect(parseSize('2G')).toBe(2 * 2 ** 30);
    expect(parseSize('1T')).toBe(2 ** 40);
    for (const bad of ['', 'M', '1.5G', '-1M', '0', '10X', '1 G', '9999999999999T']) {
      expect(() => parseSize(bad), bad).toThrow(BackendError);
    }
  });

  it('parses mem and file specs, with colons inside paths', () => {
    expect(parseBackendSpec('mem:256M')).toEqual({ kind: 'mem', bytes: 256 * 2 ** 20 });
    expect(parseBackendSpec('file:/srv/lun0.img')).toEqual({ kind: 'file', path: '/srv/lun0.img' });
    expect(parseBackendSpec('file:/srv/lun0.img:1G')).toEqual({ kind: 'file', path: '/srv/lun0.img', bytes: 2 ** 30 });
    expect(parseBackendSpec('file:/a:b/c.img')).toEqual({ kind: 'file', path: '/a:b/c.img' });
  });

  it('refuses bad specs with ERR_BACKEND_SPEC', () => {
    for (const bad of ['', 'mem', 'mem:', 'mem:lots', 'file:', 'file::1G', 'nbd:host', 'MEM:1G']) {
      expect(() => parseBackendSpec(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_BACKEND_SPEC' }));
    }
  });

  it('only ever throws BackendError on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (spec) => {
        try {
          parseBackendSpec(spec);
        } catch (err) {
          expect(err).toBeInstanceOf(BackendError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('opens the backend a spec names', async () => {
    const mem = await openBackend('mem:1M');
    expect(mem).toBeInstanceOf(MemoryBackend);
    expect([mem.blockSize, mem.blockCount]).toEqual([512, 2048]);
    const dir = await mkdtemp(join(tmpdir(), 'iser-spec-'));
    try {
      const file = await openBackend(`file:${join(dir, 'lun.img')}:64K`, { blockSize: 4096 });
      expect(file).toBeInstanceOf(FileBackend);
      expect([file.blockSize, file.blockCount]).toEqual([4096, 16]);
      await file.close?.();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await expect(openBackend('mem:1000')).rejects.toMatchObject({ code: 'ERR_BACKEND_SIZE' });
  });
});
