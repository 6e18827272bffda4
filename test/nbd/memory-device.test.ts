import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NbdErrno } from '../../nbd/constants.js';
import { MemoryBlockDevice } from '../../nbd/memory-device.js';

const SIZE = 256 * 1024;

type Op =
  | { kind: 'write'; offset: number; length: number; seed: number; split: number }
  | { kind: 'trim'; offset: number; length: number }
  | { kind: 'zero'; offset: number; length: number };

const range = fc
  .tuple(fc.integer({ min: 0, max: SIZE / 512 - 1 }), fc.integer({ min: 1, max: 300 }))
  .map(([block, blocks]) => ({ offset: block * 512, length: Math.min(blocks * 512, SIZE - block * 512) }));

const op: fc.Arbitrary<Op> = fc.oneof(
  range.chain(({ offset, length }) =>
    fc.record({
      kind: fc.constant('write' as const),
      offset: fc.constant(offset),
      length: fc.constant(length),
      seed: fc.integer({ min: 1, max: 250 }),
      split: fc.nat(length),
    }),
  ),
  range.map(({ offset, length }) => ({ kind: 'trim' as const, offset, length })),
  range.map(({ offset, length }) => ({ kind: 'zero' as const, offset, length })),
);

describe('MemoryBlockDevice', () => {
  it('reads back what a flat buffer model holds, across page boundaries and chunk splits', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 12 }), range, async (ops, probe) => {
        const device = new MemoryBlockDevice(SIZE);
        const model = Buffer.alloc(SIZE);
        for (const step of ops) {
          if (step.kind === 'write') {
            // Generating big random arrays is slow; a seeded pattern tells writes apart just as well.
            const data = Buffer.alloc(step.length, Buffer.from([step.seed, step.seed + 1, step.seed + 3]));
            await device.write(step.offset, [data.subarray(0, step.split), data.subarray(step.split)], { fua: false });
            data.copy(model, step.offset);
          } else {
            if (step.kind === 'trim') await device.trim(step.offset, step.length);
            else await device.writeZeroes(step.offset, step.length, { fua: false, noHole: true });
            model.fill(0, step.offset, step.offset + step.length);
          }
        }
        const back = Buffer.concat(await device.read(probe.offset, probe.length));
        // Buffer.equals: toEqual walks big buffers byte by byte and is very slow.
        expect(back.equals(model.subarray(probe.offset, probe.offset + probe.length))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('allocates only the pages written and frees whole pages on trim', async () => {
    const device = new MemoryBlockDevice(1 << 30);
    expect(device.allocatedBytes).toBe(0);
    await device.write(1 << 29, [Buffer.alloc(512, 1)], { fua: true });
    expect(device.allocatedBytes).toBe(64 * 1024);
    expect(device.fuaWrites).toBe(1);
    await device.trim(1 << 29, 64 * 1024);
    expect(device.allocatedBytes).toBe(0);
  });

  it('rejects (not throws) out-of-range calls and writes when read-only', async () => {
    const device = new MemoryBlockDevice(4096);
    await expect(device.read(4096, 512)).rejects.toMatchObject({ nbdErrno: NbdErrno.EINVAL });
    const ro = new MemoryBlockDevice(4096, { readOnly: true });
    await expect(ro.write(0, [Buffer.alloc(512)], { fua: false })).rejects.toMatchObject({ nbdErrno: NbdErrno.EPERM });
    expect(() => new MemoryBlockDevice(1000)).toThrow();
  });
});
