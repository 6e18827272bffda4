import { describe, expect, it } from 'vitest';
import { BufferSlab } from '../../protocol/buffer-slab.js';

describe('BufferSlab', () => {
  it('hands out pieces that never overlap, across slabs', () => {
    const slab = new BufferSlab(1024, 256);
    const pieces = Array.from({ length: 40 }, (_, i) => slab.uninitialised(1 + ((i * 37) % 256)));
    pieces.forEach((p, i) => p.fill(i));
    pieces.forEach((p, i) => {
      expect(p.every((b) => b === i)).toBe(true);
    });
  });

  it('gives a buffer larger than a piece its own memory', () => {
    const slab = new BufferSlab(1024, 256);
    const small = slab.uninitialised(16);
    const large = slab.uninitialised(257);
    expect(large.length).toBe(257);
    expect(large.buffer).not.toBe(small.buffer);
  });

  it('zeroed() is zero even where an earlier piece of the slab held data', () => {
    const slab = new BufferSlab(64, 64);
    slab.uninitialised(64).fill(0xff);
    expect(slab.zeroed(64).every((b) => b === 0)).toBe(true);
  });

  it('refuses a piece bound above the slab size', () => {
    expect(() => new BufferSlab(16, 32)).toThrow(RangeError);
  });
});
