import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScsiDecodeError, ScsiEncodeError } from '../../../protocol/scsi/errors.js';
import { decodeLun, encodeLun } from '../../../protocol/scsi/lun.js';
import { expectOnlyDecodeErrors } from './hostile.js';

describe('LUN field', () => {
  it('round-trips 0-16383', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x3fff }), (lun) => {
        expect(decodeLun(encodeLun(lun))).toBe(lun);
      }),
    );
  });

  it('uses peripheral addressing below 256 and flat space above, as Linux does', () => {
    expect([...encodeLun(5)]).toEqual([0, 5, 0, 0, 0, 0, 0, 0]);
    expect([...encodeLun(0x123)]).toEqual([0x41, 0x23, 0, 0, 0, 0, 0, 0]);
    expect(() => encodeLun(0x4000)).toThrow(ScsiEncodeError);
  });

  it('refuses multi-level and other address methods', () => {
    expect(() => decodeLun(Buffer.from([0, 1, 0, 2, 0, 0, 0, 0]))).toThrow(ScsiDecodeError);
    expect(() => decodeLun(Buffer.from([0xc1, 1, 0, 0, 0, 0, 0, 0]))).toThrow(ScsiDecodeError);
    expectOnlyDecodeErrors(decodeLun);
  });
});
