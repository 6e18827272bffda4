import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { residualOf, truncatedWriteCdb } from '../../../protocol/session/target-residuals.js';
import { StatusSequence } from '../../../protocol/session/target-statsn.js';

describe('residuals', () => {
  test.prop([fc.nat({ max: 1 << 24 }), fc.nat({ max: 1 << 24 })], { numRuns: 100 })(
    'overflow, underflow or none, and the count is the difference',
    (expected, actual) => {
      const r = residualOf(expected, actual);
      expect(r.overflow).toBe(actual > expected);
      expect(r.underflow).toBe(actual < expected);
      expect(r.count).toBe(Math.abs(actual - expected));
    },
  );

  it.each([
    [0x2a, 10, 7, 2],
    [0x2e, 10, 7, 2],
    [0xaa, 12, 6, 4],
    [0xae, 12, 6, 4],
    [0x8a, 16, 10, 4],
    [0x8e, 16, 10, 4],
  ] as const)('cuts opcode 0x%s to the blocks the EDTL covers', (opcode, length, offset, bytes) => {
    const cdb = Buffer.alloc(Math.max(16, length));
    cdb[0] = opcode;
    if (bytes === 2) cdb.writeUInt16BE(4, offset);
    else cdb.writeUInt32BE(4, offset);
    const cut = truncatedWriteCdb(cdb, 4 * 4096, 2 * 4096);
    expect(bytes === 2 ? cut?.readUInt16BE(offset) : cut?.readUInt32BE(offset)).toBe(2);
    expect(cdb[offset + bytes - 1]).toBe(4); // the original is untouched
  });

  it('leaves alone what it cannot cut: partial blocks, no overflow, other opcodes', () => {
    const write10 = Buffer.alloc(16);
    write10[0] = 0x2a;
    write10.writeUInt16BE(1, 7);
    expect(truncatedWriteCdb(write10, 512, 200)).toBeUndefined();
    expect(truncatedWriteCdb(write10, 512, 512)).toBeUndefined();
    expect(truncatedWriteCdb(write10, 512, 1024)).toBeUndefined();
    const caw = Buffer.alloc(16);
    caw[0] = 0x89;
    caw[13] = 2;
    expect(truncatedWriteCdb(caw, 2048, 1024)).toBeUndefined();
  });
});

describe('StatSN numbering', () => {
  it('acknowledges within [oldest unacknowledged, next] and flags an overrun', () => {
    const seq = new StatusSequence(0xfffffffe, 2);
    expect([seq.take(), seq.take(), seq.take()]).toEqual([0xfffffffe, 0xffffffff, 0]);
    expect(seq.overrun).toBe(true);
    expect(seq.acknowledge(5)).toBe('ignored');
    expect(seq.acknowledge(0)).toBe('ok');
    expect(seq.unacknowledged).toBe(1);
    expect(seq.overrun).toBe(false);
    expect(seq.acknowledge(0xfffffffe)).toBe('ignored');
  });
});
